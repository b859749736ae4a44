#!/usr/bin/env bash
# Installs the Debian 12 packages the local lab (`npm run lab`) runs for real: Puppet Server (CA and
# compile masters), PuppetDB and its terminus, the agent, PostgreSQL 15, dnsmasq (the lab's DNS),
# iproute2 (network namespaces), python3 (the WAN link between the sites), and what the host
# scripts call (git, r10k, ruby, openssl, curl). No service is started: the lab starts every server
# itself, by PID, inside its host's view.
set -euo pipefail

packages=(puppetserver puppetdb puppet-agent puppet-terminus-puppetdb postgresql dnsmasq iproute2
  python3 git ruby openssl curl r10k)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "lab packages: all present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]}; run this script as root to install them" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# PuppetDB's package would otherwise ask dbconfig-common to set up a local database: the lab runs
# its own PostgreSQL in a data directory of its own.
echo 'puppetdb puppetdb/dbconfig-install boolean false' | debconf-set-selections
# No init system runs services here, and package scripts must not try to start any (a puppetserver
# started with the packaged configuration would also create a CA of its own).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  created_policy=1
fi
trap '[ "$created_policy" -eq 1 ] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"

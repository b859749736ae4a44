#!/usr/bin/env bash
# Installs the Debian packages the checks run for real: cloud-init (schema), shellcheck, the Puppet
# agent (puppet config print), ruby and openssl (the CA's autosigner), git (code deploys), dnsmasq
# (a DNS server on loopback for PuppetDB's allowlist refresh).
set -euo pipefail

packages=(cloud-init shellcheck puppet-agent ruby openssl git dnsmasq)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]}; run this script as root to install them" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# No init system runs services here, and package scripts must not try to start any.
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

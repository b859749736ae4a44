#!/usr/bin/env bash
# Installs the AWS SSM agent, so Session Manager reaches every host: Debian 12's EC2 images ship no
# agent and Debian's archive has none, so it comes from AWS's package for the host's region. The
# package runs as root, so it is installed only after its detached signature verifies against
# AWS's signing key alone (a binary keyring staged by user data), never against the system's
# keyrings. Idempotent: a host that has the agent only gets its service enabled and started.
set -euo pipefail
PM_SCRIPT="ssm-agent"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGE=amazon-ssm-agent
KEYRING="$PM_CONF_DIR/ssm-agent.gpg"

agent_installed() {
  [[ $(dpkg-query -W -f='${Status}' "$PACKAGE" 2>/dev/null) == "install ok installed" ]]
}

agent_up() {
  if ! systemd_running; then
    log "no systemd: start $PACKAGE by hand"
    return 0
  fi
  systemctl enable --now "$PACKAGE"
}

# download URL DEST: HTTPS only (file: for tests and mirrors on disk), never plain HTTP.
download() {
  retry 5 5 60 "downloading $1" -- \
    curl --fail --silent --show-error --proto '=https,file' --connect-timeout 10 --max-time 300 \
    --output "$2" "$1"
}

load_settings
if [[ ${PUPPET_MULTISITE_SKIP_INSTALL:-0} == 1 ]]; then
  log "skipping the $PACKAGE install (PUPPET_MULTISITE_SKIP_INSTALL=1)"
  exit 0
fi
if agent_installed; then
  log "$PACKAGE already installed"
  agent_up
  exit 0
fi
require_settings REGION
# shellcheck disable=SC2153 # REGION is a setting from host.env, not a misspelt local
[[ $REGION =~ ^[a-z]{2}(-gov)?-[a-z]+-[0-9]$ ]] || die "setting REGION is not an AWS region: '$REGION'"
[[ -r $KEYRING ]] || die "SSM agent keyring $KEYRING is missing: user data writes it"

arch=$(dpkg --print-architecture)
case $arch in
  amd64 | arm64) ;;
  *) die "AWS publishes $PACKAGE for Debian on amd64 and arm64 only, this host is $arch" ;;
esac

# A directory holding debian_<arch>/amazon-ssm-agent.deb and its .sig, as AWS's buckets do.
base="${PUPPET_MULTISITE_SSM_AGENT_URL:-https://s3.$REGION.amazonaws.com/amazon-ssm-$REGION/latest}"
deb_url="$base/debian_$arch/$PACKAGE.deb"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
deb="$work/$PACKAGE.deb"
download "$deb_url" "$deb" || die "cannot download $deb_url"
download "$deb_url.sig" "$deb.sig" || die "cannot download $deb_url.sig"

# gpgv trusts exactly the keyrings named with --keyring; an empty home keeps root's out of it.
install -d -m 0700 "$work/gnupg"
if ! gpgv --homedir "$work/gnupg" --keyring "$KEYRING" "$deb.sig" "$deb"; then
  rm -f "$deb" "$deb.sig"
  die "signature check failed for $deb_url: not installing it (keyring $KEYRING)"
fi
log "signature of $deb_url verified"

dpkg -i "$deb"
agent_up
log "$PACKAGE installed"

#!/usr/bin/env bash
# Shared helpers of the host scripts. Sourced, never run. Every setting comes from the host's
# settings file (written by user data) or the environment, so the same scripts run on EC2 and in the
# lab, where the PUPPET_MULTISITE_* variables below point them at other directories and secrets.
# shellcheck disable=SC2034 # variables are used by the scripts that source this file

# Rendered settings and configuration files staged by user data.
PM_CONF_DIR="${PUPPET_MULTISITE_CONF_DIR:-/etc/puppet-multisite}"
# Where secrets are written at boot: root-only, outside the staged configuration.
PM_STATE_DIR="${PUPPET_MULTISITE_STATE_DIR:-/var/lib/puppet-multisite}"
PM_LIB_DIR="${PUPPET_MULTISITE_LIB_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
# Debian 12 package paths; overridable so a lab can run several hosts on one machine.
PUPPET_CONFDIR="${PUPPET_CONFDIR:-/etc/puppet}"
PUPPETSERVER_DIR="${PUPPETSERVER_DIR:-/etc/puppet/puppetserver}"
PUPPETDB_DIR="${PUPPETDB_DIR:-/etc/puppetdb}"
DEFAULTS_DIR="${PUPPET_MULTISITE_DEFAULTS_DIR:-/etc/default}"
# What `puppet config print` gives for root on Debian 12 (a test checks it): the scripts read these
# instead, since loading Puppet costs more than a second of CPU each time.
PUPPET_SSLDIR="${PUPPET_SSLDIR:-/var/lib/puppet/ssl}"
PUPPET_ENVIRONMENTPATH="${PUPPET_ENVIRONMENTPATH:-/etc/puppet/code/environments}"
SYSTEMD_DIR="${PUPPET_MULTISITE_SYSTEMD_DIR:-/etc/systemd/system}"

log() {
  printf '%s [%s] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "${PM_SCRIPT:-puppet-multisite}" "$*" >&2
}

die() {
  log "ERROR: $*"
  exit 1
}

# Reads the host's settings. Variables already in the environment win, so a lab can override one.
load_settings() {
  local file="$PM_CONF_DIR/host.env" line key
  [[ -r $file ]] || die "settings file $file is missing: user data writes it (lab: set PUPPET_MULTISITE_CONF_DIR)"
  while IFS= read -r line; do
    [[ $line =~ ^([A-Z_][A-Z0-9_]*)= ]] || continue
    key="${BASH_REMATCH[1]}"
    if [[ -z ${!key+set} ]]; then
      eval "$line"
      # shellcheck disable=SC2163 # exporting the variable named by key
      export "$key"
    fi
  done <"$file"
}

require_settings() {
  local name
  for name in "$@"; do
    [[ -n ${!name:-} ]] || die "setting $name is empty in $PM_CONF_DIR/host.env"
  done
}

# retry ATTEMPTS FIRST_DELAY MAX_DELAY WHAT -- COMMAND...: exponential backoff with a log line per
# failure, so a host that waits for a peer says what it waits for instead of failing.
retry() {
  # Underscored names: bash scoping is dynamic, and the retried command must not see our counters.
  local _attempts=$1 _delay=$2 _max_delay=$3 _what=$4 _n=1 _rc
  shift 4
  [[ ${1:-} == -- ]] && shift
  while true; do
    if "$@"; then
      return 0
    else
      _rc=$?
    fi
    if ((_n >= _attempts)); then
      log "$_what: failed $_n times (last exit $_rc), giving up"
      return "$_rc"
    fi
    log "$_what: attempt $_n/$_attempts failed (exit $_rc), retrying in ${_delay}s"
    sleep "$_delay"
    _n=$((_n + 1))
    _delay=$((_delay * 2 > _max_delay ? _max_delay : _delay * 2))
  done
}

# The one secrets adapter: prints secret NAME (read in REGION) on stdout, without a trailing newline.
# PUPPET_MULTISITE_SECRETS_DIR=<dir> reads <dir>/<name> instead of Secrets Manager (lab, tests).
secret_get() {
  local name=$1 region=$2 value
  if [[ -n ${PUPPET_MULTISITE_SECRETS_DIR:-} ]]; then
    [[ -r $PUPPET_MULTISITE_SECRETS_DIR/$name ]] || die "secret $name not found in PUPPET_MULTISITE_SECRETS_DIR"
    value=$(<"$PUPPET_MULTISITE_SECRETS_DIR/$name")
  else
    value=$(aws secretsmanager get-secret-value --region "$region" --secret-id "$name" \
      --query SecretString --output text) || return 1
  fi
  [[ -n $value ]] || die "secret $name is empty"
  printf '%s' "$value"
}

# secret_to_file NAME REGION DEST [GROUP]: DEST is mode 0600 (0640 with GROUP) before the value is
# written, so the secret is never readable by others, not even for an instant.
secret_to_file() {
  local name=$1 region=$2 dest=$3 group=${4:-} tmp
  mkdir -p "$(dirname "$dest")"
  tmp=$(umask 077 && mktemp "$dest.XXXXXX")
  if ! retry 10 2 60 "reading secret $name" -- secret_get "$name" "$region" >"$tmp"; then
    rm -f "$tmp"
    die "cannot read secret $name in $region (check the instance role)"
  fi
  if [[ -n $group ]]; then
    chgrp "$group" "$tmp"
    chmod 0640 "$tmp"
  fi
  mv -f "$tmp" "$dest"
}

# install_file SRC DEST MODE [OWNER:GROUP]: copies only when the content differs and sets CHANGED=1
# then, so callers restart services only after a real change.
CHANGED=0
install_file() {
  local src=$1 dest=$2 mode=$3 owner=${4:-}
  [[ -r $src ]] || die "staged file $src is missing"
  mkdir -p "$(dirname "$dest")"
  if [[ ! -e $dest ]] || ! cmp -s "$src" "$dest"; then
    install -m "$mode" "$src" "$dest.pm-new"
    mv -f "$dest.pm-new" "$dest"
    CHANGED=1
    log "installed $dest"
  fi
  chmod "$mode" "$dest"
  [[ -z $owner ]] || chown "$owner" "$dest"
}

# Marks the policy-rc.d that install_packages writes (a comment line of that script).
POLICY_MARKER="# puppet-multisite: no service starts during its package installs"

# Package installs: Debian 12's own packages by default; PACKAGE_SOURCE (an apt "deb ..." line) adds a
# mirror. PUPPET_MULTISITE_SKIP_INSTALL=1 skips installs where the packages are already there (lab).
install_packages() {
  local missing=() pkg policy=${PUPPET_MULTISITE_POLICY_RC:-/usr/sbin/policy-rc.d}
  # A policy of ours left by a run that was killed (SIGKILL, power loss) would stop every later
  # package upgrade from restarting its service: it goes first, whatever else this run does.
  if [[ -e $policy ]] && grep -qxF "$POLICY_MARKER" "$policy"; then
    rm -f "$policy"
    log "removed $policy left by an interrupted install"
  fi
  if [[ ${PUPPET_MULTISITE_SKIP_INSTALL:-0} == 1 ]]; then
    log "skipping package install (PUPPET_MULTISITE_SKIP_INSTALL=1): $*"
    return 0
  fi
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  if [[ -n ${PACKAGE_SOURCE:-} ]]; then
    printf '%s\n' "$PACKAGE_SOURCE" >/etc/apt/sources.list.d/puppet-multisite.list
  fi
  export DEBIAN_FRONTEND=noninteractive
  # PuppetDB talks to RDS, not to a local database that dbconfig-common would set up.
  echo 'puppetdb puppetdb/dbconfig-install boolean false' | debconf-set-selections
  log "installing packages: ${missing[*]}"
  # Package scripts would start puppetserver before its configuration is in place, and a
  # puppetserver with the default configuration creates a CA of its own: services stay stopped
  # while apt runs. The install runs in a subshell whose EXIT trap removes the policy whether apt
  # succeeds, fails or the unit is stopped (TERM and INT exit through the trap too); a policy that
  # is not ours (the image's) is left alone.
  (
    if [[ ! -e $policy ]]; then
      trap 'rm -f "$policy"' EXIT
      trap 'exit 143' TERM INT
      printf '#!/bin/sh\n%s\nexit 101\n' "$POLICY_MARKER" >"$policy"
      chmod 0755 "$policy"
    fi
    retry 5 5 60 "apt-get update" -- apt-get update -q
    retry 5 5 60 "apt-get install" -- apt-get install -y -q --no-install-recommends "${missing[@]}"
  )
}

# Runs puppet against this host's configuration directory (the lab gives each host its own).
puppet_cmd() {
  local subcommand=$1
  shift
  puppet "$subcommand" "$@" --confdir "$PUPPET_CONFDIR"
}

systemd_running() {
  [[ -d /run/systemd/system ]]
}

# install_timers NAME...: installs NAME.service and NAME.timer from the staged systemd units and
# starts each timer. Never marks the host's configuration changed: new timers are no reason to
# restart a server. Without systemd (the lab) the caller runs the services itself: this says so.
install_timers() {
  local name changed_before=$CHANGED
  if ! systemd_running; then
    log "no systemd: run the services of $* on their intervals by hand"
    return 0
  fi
  for name in "$@"; do
    install_file "$PM_CONF_DIR/systemd/$name.service" "$SYSTEMD_DIR/$name.service" 0644
    install_file "$PM_CONF_DIR/systemd/$name.timer" "$SYSTEMD_DIR/$name.timer" 0644
  done
  CHANGED=$changed_before
  systemctl daemon-reload
  for name in "$@"; do
    systemctl enable --now "$name.timer"
  done
}

# Starts or restarts a service after its configuration is in place. Without systemd (the lab) the
# caller starts servers itself: this only says so.
service_up() {
  local name=$1 changed=$2
  if [[ ${PUPPET_MULTISITE_SKIP_START:-0} == 1 ]] || ! systemd_running; then
    log "not starting $name here (no systemd or PUPPET_MULTISITE_SKIP_START=1): start it by hand"
    return 0
  fi
  systemctl enable "$name" >/dev/null 2>&1 || true
  if ((changed)); then
    log "restarting $name after a configuration change"
    systemctl restart "$name"
  else
    systemctl start "$name"
  fi
}

# Asks the CA for this host's certificate: csr_attributes.yaml carries the server challenge (read
# from the secret at this moment, removed once the certificate is signed) and the pp_auth_role
# extension. The CA certificate is fetched from the CA and kept only when its SHA-256 fingerprint is
# the one in host.env, so the CA is verified, not trusted on first use. A host replaced under the
# same name sends a new key: the CA revokes the previous certificate and signs the new one.
request_certificate() {
  local ssldir=$PUPPET_SSLDIR certname csr_attrs="$PUPPET_CONFDIR/csr_attributes.yaml" challenge
  certname="${CERTNAME:?}"
  if [[ -s $ssldir/certs/$certname.pem ]]; then
    log "certificate for $certname already present"
    rm -f "$csr_attrs"
    return 0
  fi
  install -d -m 0771 "$ssldir" "$ssldir/certs"
  retry "${PUPPET_MULTISITE_CA_ATTEMPTS:-60}" 5 120 "fetching the CA certificate from ${CA_SERVERS:-$CA_SERVER}" -- \
    fetch_ca_certificate "$ssldir/certs/ca.pem"
  challenge="$PM_STATE_DIR/challenge"
  secret_to_file "$SERVER_CHALLENGE_SECRET_NAME" "$SERVER_CHALLENGE_SECRET_REGION" "$challenge"
  (umask 077 && ruby -ryaml -e '
    attrs = YAML.safe_load(File.read(ARGV[0])) || {}
    attrs["custom_attributes"] = { "1.2.840.113549.1.9.7" => File.read(ARGV[1]).strip }
    File.write(ARGV[2], YAML.dump(attrs))' "$PM_CONF_DIR/csr_attributes.yaml" "$challenge" "$csr_attrs")
  rm -f "$challenge"
  retry "${PUPPET_MULTISITE_CERT_ATTEMPTS:-30}" 5 120 "certificate request for $certname" -- \
    bootstrap_certificate "$ssldir/certs/ca.pem"
  rm -f "$csr_attrs"
}

# bootstrap_certificate CACERT: one round of requests for this host's certificate, to each CA in
# turn (ca_order) until one signs: a standby, or a CA fenced by a promotion, refuses and drops the
# request, and only the active CA signs. The order is looked up again at each attempt: a promotion
# during the boot moves it.
bootstrap_certificate() {
  local ca
  for ca in $(ca_order "$1"); do
    if puppet_cmd ssl bootstrap --waitforcert 0 --ca_server "$ca"; then
      log "certificate for ${CERTNAME:?} signed by $ca"
      return 0
    fi
    log "no certificate from $ca"
  done
  return 1
}

# crl_number FILE: the CRL's number, in decimal (0 when it has none).
crl_number() {
  local n
  n=$(openssl crl -in "$1" -noout -crlnumber 2>/dev/null | sed -n 's/^crlNumber=\(0x\)\?//p')
  echo "$((16#${n:-0}))"
}

# ca_order CACERT: the CAs (CA_SERVERS, else CA_SERVER), the likeliest to sign first: by the epoch of
# the CRL each serves, verified against CACERT (its number / 2^32, which ca-promote.rb moves on), the
# highest first, in list order among equals; then those that do not answer. A CA fenced by a
# promotion serves an older epoch until it has copied the promoted CA's CRL; a standby serves its
# active CA's.
ca_order() {
  local cacert=$1 tmp server
  local -a answered=() silent=()
  tmp=$(mktemp)
  for server in ${CA_SERVERS:-$CA_SERVER}; do
    if curl -fsS --connect-timeout 5 --max-time 20 --cacert "$cacert" -o "$tmp" \
      "https://$server:${CA_PORT:-8140}/puppet-ca/v1/certificate_revocation_list/ca" 2>/dev/null &&
      openssl crl -in "$tmp" -noout -CAfile "$cacert" 2>/dev/null; then
      answered+=("$(($(crl_number "$tmp") >> 32)) ${#answered[@]} $server")
    else
      silent+=("$server")
    fi
  done
  rm -f "$tmp"
  if ((${#answered[@]} > 0)); then
    printf '%s\n' "${answered[@]}" | sort -k1,1nr -k2,2n | cut -d' ' -f3
  fi
  if ((${#silent[@]} > 0)); then
    printf '%s\n' "${silent[@]}"
  fi
}

# fetch_ca_certificate DEST: the CA's certificate from the first CA that serves it (CA_SERVERS, else
# CA_SERVER), over TLS that is not verified (nothing is trusted yet), installed at DEST only when it
# is one certificate with the pinned fingerprint: every CA serves the same one. A mismatch fails
# this attempt (a CA still starting may answer with nothing) and says what came back.
fetch_ca_certificate() {
  local dest=$1 tmp fingerprint server
  require_settings CA_FINGERPRINT
  tmp=$(mktemp)
  for server in ${CA_SERVERS:-$CA_SERVER}; do
    if ! curl -fsS --insecure --connect-timeout 5 --max-time 10 -o "$tmp" \
      "https://$server:${CA_PORT:-8140}/puppet-ca/v1/certificate/ca"; then
      continue
    fi
    fingerprint=$(openssl x509 -in "$tmp" -noout -fingerprint -sha256 2>/dev/null) || fingerprint=
    fingerprint=${fingerprint#*=}
    if [[ $(grep -c -- '-----BEGIN CERTIFICATE-----' "$tmp") == 1 && $fingerprint == "$CA_FINGERPRINT" ]]; then
      install -m 0644 "$tmp" "$dest"
      rm -f "$tmp"
      return 0
    fi
    log "$server served a CA certificate with fingerprint ${fingerprint:-none}, expected CA_FINGERPRINT $CA_FINGERPRINT"
  done
  rm -f "$tmp"
  return 1
}

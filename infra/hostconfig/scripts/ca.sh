#!/usr/bin/env bash
# A Puppet CA: puppetserver with the CA service on and policy-based autosigning, the CA key from
# Secrets Manager.
# - The active CA (CA_MODE=active) imports the CA, whose certificate its configuration carries, into
#   its state volume on its first boot.
# - The standby (CA_MODE=standby) gets its own certificate from the active CA as every server does,
#   with the CA certificate it pins; installs the CA's key and certificate without importing (an
#   import signs a certificate for the host with serial 2, which the active CA has issued already);
#   copies the active CA's records (ca-sync.rb) before puppetserver starts, and then on its timer.
#   Its state volume carries the standby marker, with which it signs nothing; promotion removes it.
# Idempotent: a second run finds everything in place and changes nothing.
set -euo pipefail
PM_SCRIPT=ca
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=state-volume.sh
source "$(dirname "${BASH_SOURCE[0]}")/state-volume.sh"

load_settings
require_settings CERTNAME STATE_MOUNT_POINT CA_KEY_SECRET_NAME CA_KEY_SECRET_REGION SERVER_CHALLENGE_SECRET_NAME \
  SERVER_CHALLENGE_SECRET_REGION AGENT_CHALLENGE_SECRET_NAME AGENT_CHALLENGE_SECRET_REGION
install -d -m 0700 "$PM_STATE_DIR"
# The CA's directory lives on its state volume: a rebuilt CA continues its serial numbers and keeps
# its inventory and every revocation.
mount_state_volume
install_packages puppetserver puppet-agent ruby openssl curl awscli
# puppetserver's user may have another uid than on the host that wrote the volume.
chown -R puppet:puppet "$STATE_MOUNT_POINT"

install_config() {
  install_file "$PM_CONF_DIR/puppet.conf" "$PUPPET_CONFDIR/puppet.conf" 0644
  install_file "$PM_CONF_DIR/puppetserver/ca.conf" "$PUPPETSERVER_DIR/conf.d/ca.conf" 0644
  install_file "$PM_CONF_DIR/puppetserver/ca.cfg" "$PUPPETSERVER_DIR/services.d/ca.cfg" 0644
  install_file "$PM_CONF_DIR/default-puppetserver" "$DEFAULTS_DIR/puppetserver" 0644
  install_file "$PM_CONF_DIR/autosign-policy.json" "$PUPPETSERVER_DIR/autosign-policy.json" 0644
  install_file "$PM_LIB_DIR/autosign.rb" "$PUPPETSERVER_DIR/autosign.rb" 0755
}

# The autosigner runs as the puppet user, so the challenge files are root-owned, group puppet, 0640:
# unreadable to anyone else. They are read from the secrets at every boot, so rotating one takes a
# reboot (or this script run again).
install_challenges() {
  secret_to_file "$SERVER_CHALLENGE_SECRET_NAME" "$SERVER_CHALLENGE_SECRET_REGION" \
    "$PUPPETSERVER_DIR/autosign-server-challenge" puppet
  secret_to_file "$AGENT_CHALLENGE_SECRET_NAME" "$AGENT_CHALLENGE_SECRET_REGION" \
    "$PUPPETSERVER_DIR/autosign-agent-challenge" puppet
  rm -f "$PUPPETSERVER_DIR/autosign-challenge"
}

# The CA's key and certificate on a standby, in the files Puppet Server's CA reads, and the files it
# must find at start; the records themselves come from the active CA. A new state volume is marked
# as the standby's; a volume without the marker but with a CA is one whose CA was promoted.
install_standby_ca() {
  local cadir="$PUPPETSERVER_DIR/ca" key="$PM_STATE_DIR/ca_key.pem"
  if [[ ! -s $cadir/ca_crt.pem ]]; then
    touch "$cadir/puppet-multisite-standby"
  fi
  install -d -o puppet -g puppet -m 0750 "$cadir" "$cadir/signed" "$cadir/requests"
  if [[ ! -s $cadir/ca_key.pem ]]; then
    secret_to_file "$CA_KEY_SECRET_NAME" "$CA_KEY_SECRET_REGION" "$key"
    check_ca_key "$key" "$PUPPET_SSLDIR/certs/ca.pem"
    install -o puppet -g puppet -m 0640 "$key" "$cadir/ca_key.pem"
    openssl rsa -in "$key" -pubout -out "$cadir/ca_pub.pem" 2>/dev/null
    rm -f "$key"
    CHANGED=1
  fi
  install -o puppet -g puppet -m 0644 "$PUPPET_SSLDIR/certs/ca.pem" "$cadir/ca_crt.pem"
  [[ -e $cadir/inventory.txt ]] || install -o puppet -g puppet -m 0644 /dev/null "$cadir/inventory.txt"
  retry "${PUPPET_MULTISITE_CA_ATTEMPTS:-60}" 5 120 "the first copy of the records of $CA_SERVER" -- \
    "$PM_LIB_DIR/ca-sync.rb"
  [[ -e $cadir/infra_crl.pem ]] || install -o puppet -g puppet -m 0644 "$cadir/ca_crl.pem" "$cadir/infra_crl.pem"
}

# check_ca_key KEY CERT: the secret holds an unencrypted RSA key (what puppetserver ca import takes)
# that matches the CA certificate (the active's from its configuration, the standby's pinned).
check_ca_key() {
  openssl rsa -in "$1" -check -noout >/dev/null 2>&1 ||
    die "secret $CA_KEY_SECRET_NAME is not an unencrypted RSA key (puppetserver ca import needs one)"
  [[ $(openssl x509 -in "$2" -noout -pubkey) == $(openssl rsa -in "$1" -pubout 2>/dev/null) ]] ||
    die "secret $CA_KEY_SECRET_NAME does not match the CA certificate in $2"
}

# Builds the CRL the import needs (one per certificate in the bundle: the root's own) from the
# CA key, then imports. Runs only before the first import: afterwards the CA owns its CRL, and
# regenerating it would drop revocations.
import_ca() {
  local cadir work key
  cadir=$(puppet_cmd config print --section server cadir)
  if [[ -s $cadir/ca_key.pem && -s $cadir/ca_crt.pem ]]; then
    log "CA already imported in $cadir (serial $(<"$cadir/serial"))"
    return 0
  fi
  work=$(umask 077 && mktemp -d "$PM_STATE_DIR/ca-import.XXXXXX")
  # shellcheck disable=SC2064 # expand work now: the trap must remove this directory
  trap "rm -rf '$work'" EXIT
  key="$work/ca_key.pem"
  secret_to_file "$CA_KEY_SECRET_NAME" "$CA_KEY_SECRET_REGION" "$key"
  check_ca_key "$key" "$PM_CONF_DIR/ca.pem"
  : >"$work/index.txt"
  echo 1000 >"$work/crlnumber"
  cat >"$work/openssl.cnf" <<CNF
[ca]
default_ca = puppet_ca
[puppet_ca]
database = $work/index.txt
crlnumber = $work/crlnumber
default_md = sha256
default_crl_days = 3650
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
CNF
  openssl ca -batch -gencrl -config "$work/openssl.cnf" -keyfile "$key" -cert "$PM_CONF_DIR/ca.pem" \
    -out "$work/ca_crl.pem" 2>/dev/null || die "could not build the CA's CRL from its key"
  log "importing the CA into $cadir"
  puppetserver ca import --config "$PUPPET_CONFDIR/puppet.conf" --cert-bundle "$PM_CONF_DIR/ca.pem" \
    --crl-chain "$work/ca_crl.pem" --private-key "$key"
  chown -R puppet:puppet "$cadir"
  rm -rf "$work"
  trap - EXIT
  CHANGED=1
}

install_config
install_challenges
# Every CA of the deployment may read and change certificates' statuses here, with its own
# certificate: the standby copies the records, and a CA revokes. Exit 3: already allowed.
rc=0
# shellcheck disable=SC2086 # CA_PEERS is a list of certnames
"$PM_LIB_DIR/auth-conf.rb" "$PUPPETSERVER_DIR/conf.d/auth.conf" ca "$CERTNAME" ${CA_PEERS:-} || rc=$?
case $rc in 0) CHANGED=1 ;; 3) ;; *) die "could not add the CAs' rules to auth.conf" ;; esac
if [[ ${CA_MODE:-active} == standby ]]; then
  request_certificate
  install_standby_ca
else
  import_ca
fi
# Every CA with peers runs the copy: the standby copies the active CA's records, and a CA that a
# promoted peer has fenced copies that peer's (ca-sync.rb copies nothing on the active CA).
[[ -z ${CA_PEERS:-} ]] || install_timers puppet-multisite-ca-sync
install -d -o puppet -g puppet -m 0750 /var/log/puppet-multisite
service_up puppetserver "$CHANGED"
log "CA $CERTNAME configured (${CA_MODE:-active})"

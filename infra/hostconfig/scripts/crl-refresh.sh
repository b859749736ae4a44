#!/usr/bin/env bash
# Fetches the CA's revocation list for the TLS server of this host, on its own timer: a compile master
# serves with the CRL in its ssldir, PuppetDB with the copy beside its certificate. Both servers
# watch that file and reload it with no restart (the filesystem-watch service in their bootstrap
# configuration), so a revoked certificate is refused here within one interval, and PuppetDB keeps
# its command queue. While no CA answers the last CRL stays in use. A CRL that does not verify
# against the CA certificate, or is older than the one in use, is never installed.
set -euo pipefail
PM_SCRIPT="crl-refresh"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

load_settings
require_settings CERTNAME CA_SERVER ROLE

case $ROLE in
  compile-master) crl="$PUPPET_SSLDIR/crl.pem" owner=puppet ;;
  puppetdb) crl="$PUPPETDB_DIR/ssl/crl.pem" owner=puppetdb ;;
  *) die "ROLE $ROLE serves no CRL of its own (compile-master or puppetdb)" ;;
esac
# The timer is installed before the first boot's first step that can fail: until that boot has a
# CRL there is nothing to refresh yet.
if [[ ! -s $crl ]]; then
  log "$crl is not there yet: the host has not finished its first boot"
  exit 0
fi
new=$(mktemp "$crl.pm-new.XXXXXX")
trap 'rm -f "$new"' EXIT

# The CAs in order (CA_SERVERS: the primary's CA, then the standby): the first whose CRL verifies and
# is not older than the one in use. During the primary site's loss the standby serves its copy of
# the active CA's CRL, and once promoted its own; a CA fenced by a promotion serves an older list,
# which is skipped.
found='' refused=''
for server in ${CA_SERVERS:-$CA_SERVER}; do
  if ! curl -fsS --connect-timeout 5 --max-time 20 --cacert "$PUPPET_SSLDIR/certs/ca.pem" -o "$new" \
    "https://$server:${CA_PORT:-8140}/puppet-ca/v1/certificate_revocation_list/ca"; then
    log "CA $server unreachable"
    continue
  fi
  if ! openssl crl -in "$new" -noout -CAfile "$PUPPET_SSLDIR/certs/ca.pem" 2>/dev/null; then
    log "the CRL from $server does not verify against the CA certificate: not using it"
    refused=1
    continue
  fi
  if (($(crl_number "$new") < $(crl_number "$crl"))); then
    log "the CRL from $server (number $(crl_number "$new")) is older than the one in use ($(crl_number "$crl"))"
    refused=1
    continue
  fi
  found=$server
  break
done
if [[ -z $found ]]; then
  # Unreachable CAs are an outage to wait out; a CRL refused is worth a failed unit.
  [[ -z $refused ]] || die "no CA served a usable CRL: keeping the current one"
  log "no CA answered: keeping the current CRL"
  exit 0
fi
if cmp -s "$new" "$crl"; then
  exit 0
fi
chmod 0644 "$new"
if id "$owner" >/dev/null 2>&1; then
  chown "$owner:$owner" "$new"
fi
# A rename, so the watching server never reads a half-written file.
mv -f "$new" "$crl"
log "CRL updated to number $(crl_number "$crl") from $found ($(openssl crl -in "$crl" -noout -text | grep -c 'Serial Number:' || true) revoked)"

#!/usr/bin/env bash
# Compile masters serve the CRL they hold, so they fetch the CA's CRL on the sync timer: a revoked
# agent is refused everywhere within one interval. While the CA is down the last CRL stays in use.
set -euo pipefail
PM_SCRIPT="crl-refresh"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

load_settings
require_settings CERTNAME CA_SERVER

ssldir=$(puppet_cmd config print --section main ssldir)
crl="$ssldir/crl.pem"
new="$crl.pm-new"
if ! curl -fsS --max-time 20 --cacert "$ssldir/certs/ca.pem" --cert "$ssldir/certs/$CERTNAME.pem" \
  --key "$ssldir/private_keys/$CERTNAME.pem" -o "$new" \
  "https://$CA_SERVER:8140/puppet-ca/v1/certificate_revocation_list/ca"; then
  rm -f "$new"
  log "CA $CA_SERVER unreachable: keeping the current CRL"
  exit 0
fi
if ! openssl crl -in "$new" -noout -CAfile "$ssldir/certs/ca.pem" 2>/dev/null; then
  rm -f "$new"
  die "the CRL from $CA_SERVER does not verify against the CA certificate"
fi
if cmp -s "$new" "$crl"; then
  rm -f "$new"
  exit 0
fi
chmod 0644 "$new"
if id puppet >/dev/null 2>&1; then
  chown puppet:puppet "$new"
fi
mv -f "$new" "$crl"
log "CRL updated"

#!/usr/bin/env bash
# The CA bundle that PuppetDB (sslrootcert) and the scripts' psql and pg_isready (PGSSLROOTCERT)
# verify the database's certificate with: AWS's RDS bundle of the database's region, fetched from
# DB_CA_BUNDLE_URL and installed at PGSSLROOTCERT only once it passes every check. curl verifies
# the download's server against the system's CAs (CURL_CA_BUNDLE replaces them: the lab) and takes
# HTTPS, or file: for tests. Checked: at most 1 MiB, nothing but PEM certificates, each one a CA
# certificate (basicConstraints CA:TRUE), at least one valid now. Any failure exits non-zero with
# its reason and leaves the bundle in place as it was: the first boot stops and is retried.
set -euo pipefail
PM_SCRIPT=db-ca-bundle
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

load_settings
require_settings DB_CA_BUNDLE_URL PGSSLROOTCERT
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
curl -fsS --proto '=https,file' --retry 3 --connect-timeout 10 --max-time 60 --max-filesize 1048576 \
  -o "$tmp" "$DB_CA_BUNDLE_URL" || die "cannot download the database's CA bundle from $DB_CA_BUNDLE_URL"
# shellcheck disable=SC2016 # Ruby code
if ! summary=$(ruby -ropenssl -e '
  pem = File.binread(ARGV[0])
  abort "over 1 MiB" if pem.size > 1 << 20
  b = /-----BEGIN CERTIFICATE-----[\sA-Za-z0-9+\/=]+-----END CERTIFICATE-----/
  abort "not PEM certificates only" unless pem =~ b && pem.gsub(b, "").strip.empty?
  certs = pem.scan(b).map { |x| OpenSSL::X509::Certificate.new(x) rescue abort "a certificate does not parse" }
  certs.each do |c|
    ca = c.extensions.any? { |e| e.oid == "basicConstraints" && e.value.start_with?("CA:TRUE") }
    abort "#{c.subject} is not a CA certificate" unless ca
  end
  now = Time.now
  ok = certs.select { |c| c.not_before <= now && now < c.not_after }
  abort "none of its #{certs.size} certificates is valid now" if ok.empty?
  puts "#{certs.size} CA certificates, #{ok.size} valid now, until #{ok.map(&:not_after).max.utc.strftime("%F")}"
' "$tmp" 2>&1); then
  die "the database's CA bundle from $DB_CA_BUNDLE_URL is refused: $summary"
fi
install_file "$tmp" "$PGSSLROOTCERT" 0644
log "database CA bundle from $DB_CA_BUNDLE_URL: $summary"

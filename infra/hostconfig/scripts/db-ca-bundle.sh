#!/usr/bin/env bash
# The CA bundle that PuppetDB (sslrootcert) and the scripts' psql and pg_isready (PGSSLROOTCERT)
# verify the databases' certificates with: AWS's RDS bundle of each database's region, fetched from
# the URLs of DB_CA_BUNDLE_URLS (space-separated: the primary's region, then a replica's), joined
# in that order and installed at PGSSLROOTCERT only once every one passes every check. curl
# verifies the download's server against the system's CAs (CURL_CA_BUNDLE replaces them: the lab)
# and takes HTTPS, or file: for tests. Checked, per bundle: at most 1 MiB, nothing but PEM
# certificates, each one a CA certificate (basicConstraints CA:TRUE), at least one valid now. Any
# failure exits non-zero with its reason and leaves the installed bundle as it was: the first boot
# stops and is retried.
set -euo pipefail
PM_SCRIPT=db-ca-bundle
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

load_settings
require_settings DB_CA_BUNDLE_URLS PGSSLROOTCERT
tmp=$(mktemp) joined=$(mktemp)
trap 'rm -f "$tmp" "$joined"' EXIT
read -ra urls <<<"$DB_CA_BUNDLE_URLS"
summaries=()
for url in "${urls[@]}"; do
  curl -fsS --proto '=https,file' --retry 3 --connect-timeout 10 --max-time 60 --max-filesize 1048576 \
    -o "$tmp" "$url" || die "cannot download the database's CA bundle from $url"
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
    die "the database's CA bundle from $url is refused: $summary"
  fi
  # One certificate per line break: a bundle without a final newline must not run into the next.
  { cat "$tmp"; [[ -z $(tail -c1 "$tmp") ]] || echo; } >>"$joined"
  summaries+=("$url: $summary")
done
((${#urls[@]} > 0)) || die "DB_CA_BUNDLE_URLS names no bundle"
install_file "$joined" "$PGSSLROOTCERT" 0644
for summary in "${summaries[@]}"; do
  log "database CA bundle from $summary"
done

#!/usr/bin/env bash
# PuppetDB's certificate-allowlist: the static list (CA, this site's masters) plus every priority-0
# target (a site's compile master; priority 1 is a pool name, never a certname) of each SRV record in
# ALLOWLIST_SRV_RECORDS. A record that does not answer keeps its last good names (state dir). The file
# is replaced, and PuppetDB restarted, only on a change. DNS failures are logged; exit 0 (timer).
# --no-restart: the caller restarts PuppetDB. PUPPET_MULTISITE_DNS_SERVER=ip[:port] or [ipv6]:port
# replaces resolv.conf's servers.
set -euo pipefail
PM_SCRIPT="allowlist-refresh"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

restart=1
case "${1:-}" in
  "") ;;
  --no-restart) restart=0 ;;
  *) die "usage: $0 [--no-restart]" ;;
esac
load_settings
static="$PM_CONF_DIR/puppetdb/certificate-allowlist"
allowlist="$PUPPETDB_DIR/certificate-allowlist"
last_dir="$PM_STATE_DIR/allowlist-srv"
# A change not yet applied by a restart: a failed restart is retried next time.
pending="$PM_STATE_DIR/allowlist-restart-pending"
[[ -r $static ]] || die "static allowlist $static is missing"
install -d -m 0700 "$PM_STATE_DIR" "$last_dir"
exec 9>"$PM_STATE_DIR/allowlist.lock"
flock -w 120 9 || die "another allowlist refresh holds $PM_STATE_DIR/allowlist.lock"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Priority-0 targets of SRV record $1, one a line; fails with the reason on stderr when there is no
# answer (Resolv does not tell NXDOMAIN, SERVFAIL, REFUSED and timeouts apart) or no such target.
srv_masters() {
  # shellcheck disable=SC2016 # Ruby code
  ruby -rresolv -e '
    name, server = ARGV
    conf = nil
    unless server.empty?
      m = /\A(?:\[([\h:.]+)\]|([^:]+)|([\h:]+))(?::(\d+))?\z/.match(server) or
        abort "PUPPET_MULTISITE_DNS_SERVER is not ip[:port] or [ipv6]:port: #{server}"
      conf = { nameserver_port: [[m[1] || m[2] || m[3], (m[4] || 53).to_i]] }
    end
    srv = Resolv::DNS::Resource::IN::SRV
    rrs = nil
    Resolv::DNS.open(conf) do |dns|
      dns.timeouts = [2, 4]
      # Absolute: no search domains.
      dns.fetch_resource(Resolv::DNS::Name.create(name + "."), srv) do |reply, rname|
        rrs = []
        dns.extract_resources(reply, rname, srv) { |r| rrs << r }
      end
    end
    abort "no answer" unless rrs
    hosts = rrs.select { |r| r.priority.zero? }.map { |r| r.target.to_s.downcase }
    ok = /\A[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\z/
    hosts.grep_v(ok).each { |t| warn "ignored target #{t.inspect}" }
    abort "no priority-0 target in #{rrs.size} record(s)" if hosts.grep(ok).empty?
    puts hosts.grep(ok).uniq.sort
  ' "$1" "${PUPPET_MULTISITE_DNS_SERVER:-}"
}

: >"$tmp/found"
failed=0
read -r -a records <<<"${ALLOWLIST_SRV_RECORDS:-}"
for record in "${records[@]}"; do
  record=${record%.}
  [[ $record =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || die "invalid SRV record name: $record"
  last="$last_dir/$record"
  if srv_masters "$record" >"$tmp/answer" 2>"$tmp/error"; then
    if ! cmp -s "$tmp/answer" "$last"; then
      install -m 0600 "$tmp/answer" "$last.pm-new"
      mv -f "$last.pm-new" "$last"
      log "$record: masters $(paste -sd' ' "$last")"
    fi
  else
    failed=$((failed + 1))
    if [[ -s $last ]]; then
      log "WARNING: $record: lookup failed ($(paste -sd' ' "$tmp/error")): keeping its last masters $(paste -sd' ' "$last")"
    else
      log "WARNING: $record: lookup failed ($(paste -sd' ' "$tmp/error")) and never answered: its masters are not allowed yet"
    fi
  fi
  [[ ! -s $last ]] || cat "$last" >>"$tmp/found"
done

cat "$static" "$tmp/found" | tr -d ' \t\r' | { grep -v -e '^$' -e '^#' || true; } | LC_ALL=C sort -u >"$tmp/new"
[[ -s $tmp/new ]] || die "the allowlist would be empty"
if cmp -s "$tmp/new" "$allowlist"; then
  log "allowlist unchanged ($(wc -l <"$allowlist") names; $failed of ${#records[@]} lookups failed)"
else
  { [[ ! -e $allowlist ]] || cat "$allowlist"; } | LC_ALL=C sort -u >"$tmp/old"
  added=$(LC_ALL=C comm -13 "$tmp/old" "$tmp/new" | paste -sd' ')
  removed=$(LC_ALL=C comm -23 "$tmp/old" "$tmp/new" | paste -sd' ')
  mkdir -p "$(dirname "$allowlist")"
  install -m 0644 "$tmp/new" "$allowlist.pm-new"
  mv -f "$allowlist.pm-new" "$allowlist"
  log "wrote $allowlist: added ${added:-none}; removed ${removed:-none}; $failed of ${#records[@]} lookups failed"
  ((restart == 0)) || touch "$pending"
fi
if ((restart)) && [[ -e $pending ]]; then
  if service_restart puppetdb; then
    rm -f "$pending"
  else
    log "ERROR: restarting puppetdb failed: the next run tries again"
  fi
fi
exit 0

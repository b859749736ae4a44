#!/usr/bin/env bash
# Completes PuppetDB's certificate-allowlist at run time. The static list (the CA and this site's
# masters) is rendered into user data; other sites' pool sizes are not known to this stack. Every
# site's `_x-puppet._tcp` SRV record names its compile masters at priority 0 (priority-1 targets are
# other sites' pool names, never certnames), so the allowlist is the static list plus every priority-0
# target of each record in ALLOWLIST_SRV_RECORDS, sorted and unique.
# A record that does not answer keeps the names of its last good answer (kept per record in the state
# directory): a DNS outage never locks a site's masters out. The file is replaced atomically, and
# PuppetDB (which reads it when it starts) restarted, only when the list changes. Runs on a timer:
# lookup failures are logged and the script exits 0.
#
#   allowlist-refresh.sh [--no-restart]   --no-restart: the caller (puppetdb.sh) restarts PuppetDB.
# PuppetDB reads the file at start (unverified whether it re-reads it later): a restart is the safe way.
# PUPPET_MULTISITE_DNS_SERVER=ip[:port] (or [ipv6]:port) asks that server instead of the ones in
# /etc/resolv.conf.
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
records_dir="$PM_STATE_DIR/allowlist-srv"
# Set while a changed allowlist still waits for a PuppetDB restart (a failed restart is retried).
pending="$PM_STATE_DIR/allowlist-restart-pending"
[[ -r $static ]] || die "static allowlist $static is missing: user data writes it"
install -d -m 0700 "$PM_STATE_DIR" "$records_dir"

exec 9>"$PM_STATE_DIR/allowlist.lock"
flock -w 120 9 || {
  log "another allowlist refresh is running"
  exit 0
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Prints the priority-0 targets of SRV record $1, lowercased, one a line. Fails, with the reason on
# stderr, when the record has no usable answer: NXDOMAIN, a server failure or refusal, a timeout, or
# an answer without a priority-0 target.
srv_masters() {
  # shellcheck disable=SC2016 # Ruby code: its $1 is Ruby's
  ruby -rresolv -e '
    name, server = ARGV
    config = nil
    unless server.empty?
      host, port =
        case server
        when /\A\[([0-9A-Fa-f:.]+)\](?::(\d+))?\z/, /\A([^:]+)(?::(\d+))?\z/ then [$1, $2]
        when /\A[0-9A-Fa-f:]+\z/ then [server, nil]
        else abort "PUPPET_MULTISITE_DNS_SERVER must be ip[:port] or [ipv6]:port, got #{server.inspect}"
        end
      config = { nameserver_port: [[host, Integer(port || 53, 10)]] }
    end
    srv = Resolv::DNS::Resource::IN::SRV
    records = nil
    Resolv::DNS.open(config) do |dns|
      dns.timeouts = [2, 4]
      # Absolute name: the search domains of resolv.conf are never appended.
      dns.fetch_resource(Resolv::DNS::Name.create("#{name.chomp(".")}."), srv) do |reply, reply_name|
        records = []
        dns.extract_resources(reply, reply_name, srv) { |r| records << r }
      end
    end
    # Resolv swallows the reason: an error answer and a timeout look alike.
    abort "no answer (NXDOMAIN, server failure or refusal, or timeout)" if records.nil?
    certname = /\A[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\z/
    masters = records.select { |r| r.priority.zero? }.map { |r| r.target.to_s.downcase }
    masters.grep_v(certname).each { |t| warn "ignoring priority-0 target #{t.inspect}: not a host name" }
    masters = masters.grep(certname)
    abort "no priority-0 target among #{records.size} SRV record(s)" if masters.empty?
    puts masters.uniq.sort
  ' "$1" "${PUPPET_MULTISITE_DNS_SERVER:-}"
}

: >"$work/discovered"
failed=0
read -r -a records <<<"${ALLOWLIST_SRV_RECORDS:-}"
for record in "${records[@]}"; do
  record=${record%.}
  [[ $record =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] ||
    die "ALLOWLIST_SRV_RECORDS holds an invalid record name: $record"
  last="$records_dir/$record"
  if srv_masters "$record" >"$work/answer" 2>"$work/error"; then
    if [[ ! -e $last ]] || ! cmp -s "$work/answer" "$last"; then
      install -m 0600 "$work/answer" "$last.pm-new"
      mv -f "$last.pm-new" "$last"
      log "$record: masters $(paste -sd' ' "$last")"
    fi
    if [[ -s $work/error ]]; then
      log "$record: $(paste -sd' ' "$work/error")"
    fi
  else
    failed=$((failed + 1))
    reason=$(paste -sd' ' "$work/error")
    if [[ -s $last ]]; then
      log "WARNING: $record: lookup failed (${reason:-no reason given}); keeping its last good masters: $(paste -sd' ' "$last")"
    else
      log "WARNING: $record: lookup failed (${reason:-no reason given}) and it never answered: its site's masters are not in the allowlist yet"
    fi
  fi
  [[ ! -s $last ]] || cat "$last" >>"$work/discovered"
done

# Names one a line; blank lines and comments of the static list are dropped.
cat "$static" "$work/discovered" | tr -d ' \t\r' | grep -v -e '^$' -e '^#' | LC_ALL=C sort -u >"$work/allowlist" || true
[[ -s $work/allowlist ]] || die "the merged allowlist is empty: $static holds no name"

if [[ -e $allowlist ]] && cmp -s "$work/allowlist" "$allowlist"; then
  log "allowlist unchanged: $(wc -l <"$allowlist") names, ${#records[@]} SRV record(s), $failed failed"
else
  if [[ -e $allowlist ]]; then
    LC_ALL=C sort -u "$allowlist" >"$work/previous"
  else
    : >"$work/previous"
  fi
  added=$(LC_ALL=C comm -13 "$work/previous" "$work/allowlist" | paste -sd' ')
  removed=$(LC_ALL=C comm -23 "$work/previous" "$work/allowlist" | paste -sd' ')
  mkdir -p "$(dirname "$allowlist")"
  install -m 0644 "$work/allowlist" "$allowlist.pm-new"
  mv -f "$allowlist.pm-new" "$allowlist"
  log "wrote $allowlist: $(wc -l <"$allowlist") names (added: ${added:-none}; removed: ${removed:-none}), $failed of ${#records[@]} SRV record(s) failed"
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

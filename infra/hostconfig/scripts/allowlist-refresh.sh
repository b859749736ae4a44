#!/usr/bin/env bash
# PuppetDB's certificate-allowlist: the static list (the CA) plus the priority-0 targets (a
# site's masters; priority 1 is a pool name, never a certname) of each ALLOWLIST_SRV_RECORDS record. A
# record that does not answer keeps its last good names. Written, and PuppetDB restarted, only on a
# change; exit 0 on DNS failures (timer). --no-restart: the caller restarts PuppetDB.
# Never restarts PuppetDB while the database it writes to does not answer (database-check.sh): a
# running PuppetDB keeps queueing commands whatever the database's state, a restarted one answers
# 503 and accepts none until the database is back. The change then stays pending and the next run
# tries again. A database whose certificate fails the check counts as unreachable.
# PUPPET_MULTISITE_DNS_SERVER=ip[:port] or [ipv6]:port instead of resolv.conf's servers.
# The restart is a reload where the unit has one (Debian's sends SIGHUP: PuppetDB's services start
# again in the same JVM and read the allowlist). PUPPET_MULTISITE_DB_CHECK_CMD and _PUPPETDB_URL as
# in database-check.sh, _RESTART_CMD replaces `systemctl try-reload-or-restart` (tests, lab).
set -euo pipefail
PM_SCRIPT="allowlist-refresh"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=database-check.sh
source "$(dirname "${BASH_SOURCE[0]}")/database-check.sh"

restart=1
[[ ${1:-} != --no-restart ]] || restart=0
load_settings
require_settings DB_HOST DB_PORT DB_NAME
static="$PM_CONF_DIR/puppetdb/certificate-allowlist"
allowlist="$PUPPETDB_DIR/certificate-allowlist"
last_dir="$PM_STATE_DIR/allowlist-srv"
# A change not applied yet: a failed restart is retried by the next run.
pending="$PM_STATE_DIR/allowlist-restart-pending"
[[ -r $static ]] || die "$static is missing"
install -d -m 0700 "$PM_STATE_DIR" "$last_dir"
exec 9>"$PM_STATE_DIR/allowlist.lock"
flock -w 120 9 || {
  log "another refresh is running"
  exit 0
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Priority-0 targets of SRV record $1, one a line, or a failure with the reason on stderr (Resolv does
# not tell NXDOMAIN, SERVFAIL, REFUSED and timeouts apart).
srv_masters() {
  # shellcheck disable=SC2016 # Ruby code
  ruby -rresolv -e '
    name, server = ARGV
    conf = nil
    unless server.empty?
      m = /\A(?:\[([\h:.]+)\]|([^:]+)|([\h:]+))(?::(\d+))?\z/.match(server) or abort "bad DNS server #{server}"
      conf = { nameserver_port: [[m[1] || m[2] || m[3], (m[4] || 53).to_i]] }
    end
    srv = Resolv::DNS::Resource::IN::SRV
    rrs = nil
    Resolv::DNS.open(conf) do |dns|
      dns.timeouts = [2, 4]
      dns.fetch_resource(Resolv::DNS::Name.create(name + "."), srv) do |reply, rname|
        rrs = []
        dns.extract_resources(reply, rname, srv) { |r| rrs << r }
      end
    end
    abort "no answer" unless rrs
    ok = /\A[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\z/
    hosts = rrs.select { |r| r.priority.zero? }.map { |r| r.target.to_s.downcase }.grep(ok)
    abort "no priority-0 target" if hosts.empty?
    puts hosts.uniq.sort
  ' "$1" "${PUPPET_MULTISITE_DNS_SERVER:-}"
}

: >"$tmp/found"
failed=0
read -r -a records <<<"${ALLOWLIST_SRV_RECORDS:-}"
for record in "${records[@]}"; do
  [[ $record =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || die "bad SRV record name: $record"
  last="$last_dir/${record%.}"
  if srv_masters "${record%.}" >"$tmp/answer" 2>"$tmp/error"; then
    if ! cmp -s "$tmp/answer" "$last"; then
      install -m 0600 "$tmp/answer" "$last.new"
      mv -f "$last.new" "$last"
      log "$record: masters $(paste -sd' ' "$last")"
    fi
  else
    failed=$((failed + 1))
    log "WARNING: $record: lookup failed ($(paste -sd' ' "$tmp/error")): $([[ -s $last ]] &&
      echo "keeping its last masters $(paste -sd' ' "$last")" || echo "it never answered")"
  fi
  [[ ! -s $last ]] || cat "$last" >>"$tmp/found"
done

cat "$static" "$tmp/found" | tr -d ' \t\r' | { grep -v -e '^$' -e '^#' || true; } | LC_ALL=C sort -u >"$tmp/new"
[[ -s $tmp/new ]] || die "the allowlist would be empty"
if cmp -s "$tmp/new" "$allowlist"; then
  log "allowlist unchanged ($(wc -l <"$allowlist") names; $failed of ${#records[@]} lookups failed)"
else
  { [[ ! -e $allowlist ]] || cat "$allowlist"; } | LC_ALL=C sort -u >"$tmp/old"
  diff=$(LC_ALL=C comm -3 "$tmp/old" "$tmp/new" | sed 's/^\t/+/; /^[^+]/s/^/-/' | paste -sd' ')
  mkdir -p "$(dirname "$allowlist")"
  install -m 0644 "$tmp/new" "$allowlist.new"
  mv -f "$allowlist.new" "$allowlist"
  log "wrote $allowlist: $diff ($failed of ${#records[@]} lookups failed)"
  ((restart == 0)) || touch "$pending"
fi
# Not in lib.sh: a change there changes every role's user data, which replaces every host.
if ((restart)) && [[ -e $pending ]]; then
  if [[ -z ${PUPPET_MULTISITE_RESTART_CMD:-} ]] && { [[ ${PUPPET_MULTISITE_SKIP_START:-0} == 1 ]] || ! systemd_running; }; then
    log "no systemd: restart puppetdb by hand to apply the allowlist"
  elif problem=$(write_database_problem) && [[ -n $problem ]]; then
    log "WARNING: puppetdb restart deferred: $problem; the next run tries again"
  elif ${PUPPET_MULTISITE_RESTART_CMD:-systemctl try-reload-or-restart} puppetdb; then
    log "restarted puppetdb (if it was running)"
    rm -f "$pending"
  else
    log "ERROR: restarting puppetdb failed: the next run tries again"
  fi
fi
exit 0

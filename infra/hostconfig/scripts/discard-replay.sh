#!/usr/bin/env bash
# Replays the commands PuppetDB discarded because its database was away. A running PuppetDB queues
# commands whatever the database's state, retries a failing one hourly, and after six failures
# (about 5 h) moves it to stockpile/discard (the body as posted, plus an _err.txt, newest attempt
# first): nothing replays it. Once the database answers (database-check.sh) and the local PuppetDB its status
# (200: running), each discarded command whose newest failure is a lost database connection
# is posted again to /pdb/cmd/v1 (command, version, certname and producer-timestamp from its file
# name), oldest received first, then moved with its _err.txt to stockpile/replayed. At most
# MAX_REPLAYS posts per body (its sha256, counted in the state dir: a command discarded again comes
# back under a new name); a refusal (4xx) counts as one, any other failure ends the run. Skipped,
# left for an operator: other failures (bad data), unknown commands, mangled certnames.
# Every run logs one line, also written as JSON to $PM_STATE_DIR/puppetdb-queue.json: time, ready
# (the database and PuppetDB answered and accepted), queue_depth (PuppetDB's status; null when not
# ready), discards_pending, replayed, skipped, capped. Exit 0 when either does not answer (timer).
# Commands that failed while the database was away wait about an hour before their next attempt
# (command-delay-ms), counted in memory: after an outage this run saw (the check failing), once
# the database is back and PuppetDB's awaiting-retry meter is above zero, PuppetDB is reloaded
# (SIGHUP: its services start again and load the queue from disk with no attempt counted), once
# per outage, so they are stored now. The JSON adds awaiting_retry and reloaded.
# With a replica, its promotion ends the outage: PuppetDB's writes go to it, and the reload retries
# what waited for the lost primary.
# PuppetDB is reached over its cleartext listener on 127.0.0.1:8080 (jetty.conf): plain HTTP skips
# the certificate allowlist, which lists the CA and the masters, not this host. Its metrics answer
# only over TLS, with this host's certificate.
# PUPPET_MULTISITE_DISCARD_DIR, _PUPPETDB_URL, _METRICS_URL, _RESTART_CMD (as in
# allowlist-refresh.sh) and _DB_CHECK_CMD (database-check.sh) for tests and the lab.
set -euo pipefail
PM_SCRIPT="discard-replay"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=database-check.sh
source "$(dirname "${BASH_SOURCE[0]}")/database-check.sh"

MAX_REPLAYS=3
load_settings
discard=${PUPPET_MULTISITE_DISCARD_DIR:-/var/lib/puppetdb/stockpile/discard}
url=${PUPPET_MULTISITE_PUPPETDB_URL:-http://127.0.0.1:8080}
counts="$PM_STATE_DIR/discard-replays"
# The newest attempt failed on a lost or refused database connection, as PuppetDB's stack traces
# print it: Hikari's pool timeout, pgjdbc's messages, SQLState class 08, a server going down or
# coming up, a network error. [.], not \.: awk -v eats backslashes.
lost='Connection is not available|Connection to .* refused|connection attempt failed|I/O error occurred|connection has been closed|terminating connection|database system is|SQLState:? ?08|java[.]net[.]'
# The short command names of the file names (queue.clj) as /pdb/cmd/v1 takes them; others are
# never replayed.
declare -A COMMANDS=([catalog]=replace_catalog [inputs]=replace_catalog_inputs [facts]=replace_facts
  [rm-node]=deactivate_node [report]=store_report [set-expire]=configure_expiration)
# <id>-<received ms>[+-<producer offset ms>]_<command>_<version>_<certname>.json[.gz]. A certname
# with _ / \ : or too long is <sanitized>_<sha1>: not replayed (the lookup in the body would cost
# more user data than such rare names are worth).
name_rx='^[0-9]+-([0-9]+)([+-][0-9]+)?_([a-z-]+)_([0-9]+)_(.+)[.]json([.]gz)?$'
mkdir -p "$counts"
exec 9<"$counts"
flock -n 9 || exit 0

ready=false depth=null awaiting=null reloaded=false
last_down="$PM_STATE_DIR/db-last-down" reloaded_for="$PM_STATE_DIR/db-reloaded-for"
if problem=$(write_database_problem) && [[ -n $problem ]]; then
  why=$problem
  # Nanoseconds: the time names the outage, and two outages must never share a name.
  date +%s.%N >"$last_down"
elif ! status=$(curl -fsS --max-time 10 "$url/status/v1/services/puppetdb-status" 2>&1); then
  why="PuppetDB is not answering ($status)"
else
  ready=true
  [[ ! $status =~ \"queue_depth\"\ *:\ *([0-9]+) ]] || depth=${BASH_REMATCH[1]}
fi

if [[ $ready == true ]]; then
  metrics=(--cacert "$PUPPETDB_DIR/ssl/ca.pem" --cert "$PUPPETDB_DIR/ssl/public.pem"
    --key "$PUPPETDB_DIR/ssl/private.pem" --resolve "$CERTNAME:8081:127.0.0.1")
  metric=$(curl -fsS --max-time 10 "${metrics[@]}" \
    "${PUPPET_MULTISITE_METRICS_URL:-https://$CERTNAME:8081}/metrics/v2/read/puppetlabs.puppetdb.mq:name=global.awaiting-retry" 2>/dev/null) || true
  [[ ! $metric =~ \"Count\"\ *:\ *([0-9]+) ]] || awaiting=${BASH_REMATCH[1]}
  down=$(cat "$last_down" 2>/dev/null || echo 0)
  if [[ $awaiting != null ]] && ((awaiting > 0 && $(date +%s) - ${down%.*} < 600)) &&
    [[ $(cat "$reloaded_for" 2>/dev/null) != "$down" ]]; then
    # As allowlist-refresh.sh restarts it: a reload where the unit has one (SIGHUP).
    if [[ -z ${PUPPET_MULTISITE_RESTART_CMD:-} ]] && ! systemd_running; then
      log "WARNING: no systemd: reload puppetdb by hand to retry $awaiting commands now"
    elif ${PUPPET_MULTISITE_RESTART_CMD:-systemctl try-reload-or-restart} puppetdb; then
      echo "$down" >"$reloaded_for"
      reloaded=true
      log "reloaded PuppetDB: $awaiting commands that failed while the database was away are retried now"
    else
      log "WARNING: reloading PuppetDB failed: the next run tries again"
    fi
  fi
fi

total=0 replayed=0 skipped=0 capped=0
while read -r name; do
  [[ $name =~ $name_rx ]] || continue
  total=$((total + 1))
  file="$discard/$name" received=${BASH_REMATCH[1]} offset=${BASH_REMATCH[2]}
  command=${COMMANDS[${BASH_REMATCH[3]}]:-} version=${BASH_REMATCH[4]} certname=${BASH_REMATCH[5]}
  gz=${BASH_REMATCH[6]}
  err="$discard/${name%.json}_err.txt"
  # PuppetDB writes the _err.txt just after the body.
  [[ -e $err ]] || continue
  if [[ -z $command || $certname == *_* ]] || ! awk -v re="$lost" '/^Attempt [0-9]+ @/ { n++ } n < 2 && $0 ~ re { ok = 1; exit } END { exit !ok }' "$err"; then
    skipped=$((skipped + 1))
    continue
  fi
  sum=$(sha256sum <"$file")
  sum="$counts/${sum%% *}"
  n=$(cat "$sum" 2>/dev/null || echo 0)
  if ((n >= MAX_REPLAYS)); then
    capped=$((capped + 1))
    continue
  fi
  [[ $ready == true ]] || continue
  args=(--url-query "command=$command" --url-query "version=$version" --url-query "certname=$certname")
  [[ -z $gz ]] || args+=(-H 'Content-Encoding: gzip')
  if [[ -n $offset ]]; then
    ms=$((received + offset))
    args+=(--url-query "producer-timestamp=$(date -u -d "@$((ms / 1000)).${ms: -3}" +%FT%T.%3NZ)")
  fi
  code=$(curl -sS --max-time 60 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "@$file" "${args[@]}" "$url/pdb/cmd/v1") || true
  # A refusal (4xx) counts as a replay, so a command PuppetDB refuses ends up capped.
  [[ $code != [24]* ]] || echo $((n + 1)) >"$sum"
  case $code in
    200)
      mkdir -p "$discard/../replayed"
      mv -f "$file" "$err" "$discard/../replayed/"
      replayed=$((replayed + 1))
      log "replayed $name ($((n + 1))/$MAX_REPLAYS)"
      ;;
    4*) log "WARNING: PuppetDB refused $name (HTTP $code)" ;;
    *)
      # Oldest first: the next run starts again from this one.
      ready=false
      log "WARNING: replaying $name failed (HTTP $code)"
      ;;
  esac
done < <(for f in "$discard"/*; do echo "${f##*/}"; done | sort -t- -k2,2n -k1,1n)

json=$(printf '{"time":"%s","ready":%s,"queue_depth":%s,"awaiting_retry":%s,"reloaded":%s,"discards_pending":%d,"replayed":%d,"skipped":%d,"capped":%d}' \
  "$(date -u +%FT%TZ)" "$ready" "$depth" "$awaiting" "$reloaded" $((total - replayed)) "$replayed" "$skipped" "$capped")
log "${why:+WARNING: $why: nothing replayed: }$json"
tmp=$(mktemp "$PM_STATE_DIR/puppetdb-queue.XXXXXX")
echo "$json" >"$tmp"
mv -f "$tmp" "$PM_STATE_DIR/puppetdb-queue.json"

#!/usr/bin/env bash
# Sourced by the PuppetDB host's scripts that wait for its database (allowlist-refresh.sh,
# discard-replay.sh), after lib.sh and load_settings.

# write_database_problem: why the database PuppetDB writes to does not answer, on stdout; nothing
# when it does. One database: pg_isready on it, which verifies its certificate as PuppetDB does
# (PGSSLMODE and PGSSLROOTCERT of host.env). With a replica (DB_REPLICA_HOST) PuppetDB's writes go to
# whichever of the replica and the primary takes them (pgjdbc's targetServerType=primary), which
# pg_isready cannot tell (a standby answers it too): PuppetDB's status says, `write_db_up?`. A
# PuppetDB that does not answer its status says nothing, and nothing is reported.
# PUPPET_MULTISITE_DB_CHECK_CMD replaces pg_isready (same arguments), PUPPET_MULTISITE_PUPPETDB_URL
# PuppetDB's cleartext listener (tests, lab).
write_database_problem() {
  if [[ -z ${DB_REPLICA_HOST:-} ]]; then
    ${PUPPET_MULTISITE_DB_CHECK_CMD:-pg_isready} -h "$DB_HOST" -p "$DB_PORT" -d "$DB_NAME" -t 5 >/dev/null ||
      echo "database $DB_HOST:$DB_PORT is unreachable"
    return 0
  fi
  local status
  status=$(curl -sS --max-time 10 \
    "${PUPPET_MULTISITE_PUPPETDB_URL:-http://127.0.0.1:8080}/status/v1/services/puppetdb-status" 2>/dev/null) || return 0
  if [[ $status =~ \"write_db_up[?]\"\ *:\ *false ]]; then
    echo "neither $DB_REPLICA_HOST:${DB_REPLICA_PORT:-5432} nor $DB_HOST:$DB_PORT takes writes (PuppetDB's status)"
  fi
}

#!/usr/bin/env bash
# A PuppetDB server: its certificate from the CA (CSR with challenge and pp_auth_role, autosigned),
# the shared RDS database (password from Secrets Manager, written at boot into a file only puppetdb
# can read), and the allowlist of Puppet servers. Exactly one PuppetDB of the deployment migrates
# the schema. Idempotent: a second run finds everything in place.
set -euo pipefail
PM_SCRIPT=puppetdb
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=state-volume.sh
source "$(dirname "${BASH_SOURCE[0]}")/state-volume.sh"

load_settings
require_settings CERTNAME STATE_MOUNT_POINT CA_SERVER SERVER_CHALLENGE_SECRET_NAME \
  SERVER_CHALLENGE_SECRET_REGION DB_HOST DB_PORT DB_NAME DB_USER DB_PASSWORD_SECRET_NAME \
  DB_PASSWORD_SECRET_REGION PUPPETDB_MIGRATE PGSSLMODE PGSSLROOTCERT
install -d -m 0700 "$PM_STATE_DIR"
# The CRL timer before any step that can fail (it waits for the first CRL by itself); the allowlist
# timer only once PuppetDB's configuration is in place, since it may restart PuppetDB.
install_timers puppet-multisite-crl
# PuppetDB's vardir, where its command queue lives, is its state volume: a rebuilt PuppetDB
# processes what its predecessor had queued.
mount_state_volume
install_packages puppetdb puppet-agent postgresql-client ruby curl ca-certificates awscli
# puppetdb's user may have another uid than on the host that wrote the volume.
if id puppetdb >/dev/null 2>&1; then
  chown -R puppetdb:puppetdb "$STATE_MOUNT_POINT"
fi

confd="$PUPPETDB_DIR/conf.d"
# The package's INI files set the same keys as ours; trapperkeeper refuses duplicate entries.
for packaged in config.ini jetty.ini database.ini; do
  if [[ -e $confd/$packaged ]]; then
    rm -f "$confd/$packaged"
    CHANGED=1
    log "removed packaged $confd/$packaged (replaced by puppet-multisite files)"
  fi
done
for file in config.conf jetty.conf database.conf; do
  install_file "$PM_CONF_DIR/puppetdb/$file" "$confd/$file" 0644
done
# The static allowlist. With SRV records, allowlist-refresh.sh owns the file once it exists (it merges
# the static list in): a second run must not drop the other sites' masters.
allowlist="$PUPPETDB_DIR/certificate-allowlist"
if [[ -z ${ALLOWLIST_SRV_RECORDS:-} || ! -e $allowlist ]]; then
  install_file "$PM_CONF_DIR/puppetdb/certificate-allowlist" "$allowlist" 0644
fi
install_file "$PM_CONF_DIR/puppet.conf" "$PUPPET_CONFDIR/puppet.conf" 0644
# PuppetDB's Jetty reloads its CRL when the file changes only with the filesystem-watch service,
# which Debian's bootstrap.cfg leaves out: its lines are added to the packaged ones.
bootstrap="$PUPPETDB_DIR/bootstrap.cfg"
while IFS= read -r service; do
  [[ -n $service && $service != \#* ]] || continue
  if ! grep -qxF "$service" "$bootstrap" 2>/dev/null; then
    printf '%s\n' "$service" >>"$bootstrap"
    CHANGED=1
    log "added $service to $bootstrap"
  fi
done <"$PM_CONF_DIR/puppetdb/bootstrap-services.cfg"
install_file "$PM_CONF_DIR/default-puppetdb" "$DEFAULTS_DIR/puppetdb" 0644

# The password goes into its own HOCON file (trapperkeeper merges conf.d), written with JSON string
# escaping by ruby so any generated password stays one valid value; with a replica, for the
# [read-database] section too, which PuppetDB does not merge with [database].
write_password_file() {
  local password="$PM_STATE_DIR/db-password" dest="$confd/database-password.conf" tmp
  secret_to_file "$DB_PASSWORD_SECRET_NAME" "$DB_PASSWORD_SECRET_REGION" "$password"
  tmp=$(umask 077 && mktemp "$dest.XXXXXX")
  # shellcheck disable=SC2016 # Ruby code
  ruby -rjson -e '
    entry = { "password" => File.read(ARGV[0]).chomp }
    sections = ARGV[1] == "replica" ? %w[database read-database] : %w[database]
    print JSON.pretty_generate(sections.to_h { |s| [s, entry] })' \
    "$password" "${DB_REPLICA_HOST:+replica}" >"$tmp"
  if getent group puppetdb >/dev/null; then
    chgrp puppetdb "$tmp"
  fi
  chmod 0640 "$tmp"
  if [[ -e $dest ]] && cmp -s "$tmp" "$dest"; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$dest"
    CHANGED=1
    log "wrote $dest"
  fi
}

# PuppetDB 8 needs pg_trgm, and its own migration may lack the rights to create it: the migrating
# PuppetDB creates it first (a no-op when present). The password travels in a 0600 PGPASSFILE, not
# in the environment or on a command line. psql verifies the database as PuppetDB does: PGSSLMODE
# and PGSSLROOTCERT come from host.env.
ensure_pg_trgm() {
  local passfile="$PM_STATE_DIR/pgpass"
  (umask 077 && printf '%s:%s:%s:%s:%s\n' "$DB_HOST" "$DB_PORT" "$DB_NAME" "$DB_USER" \
    "$(sed -e 's/\\/\\\\/g' -e 's/:/\\:/g' "$PM_STATE_DIR/db-password")" >"$passfile")
  retry "${PUPPET_MULTISITE_DB_ATTEMPTS:-30}" 5 60 "creating pg_trgm in $DB_NAME on $DB_HOST" -- \
    env PGPASSFILE="$passfile" PGCONNECT_TIMEOUT=10 \
    psql -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -d "$DB_NAME" -v ON_ERROR_STOP=1 -qAt \
    -c 'CREATE EXTENSION IF NOT EXISTS pg_trgm'
  rm -f "$passfile"
}

# PuppetDB serves TLS with a certificate of its own from the CA, copied where jetty.conf points.
install_certificate() {
  local ssldir=$PUPPET_SSLDIR
  request_certificate
  install -d -m 0750 "$PUPPETDB_DIR/ssl"
  install_file "$ssldir/certs/ca.pem" "$PUPPETDB_DIR/ssl/ca.pem" 0644
  install_file "$ssldir/certs/$CERTNAME.pem" "$PUPPETDB_DIR/ssl/public.pem" 0644
  install_file "$ssldir/private_keys/$CERTNAME.pem" "$PUPPETDB_DIR/ssl/private.pem" 0600
  # Only the first time: crl-refresh.sh keeps it current afterwards.
  [[ -s $PUPPETDB_DIR/ssl/crl.pem ]] || install_file "$ssldir/crl.pem" "$PUPPETDB_DIR/ssl/crl.pem" 0644
  if id puppetdb >/dev/null 2>&1; then
    chown -R puppetdb:puppetdb "$PUPPETDB_DIR/ssl"
  fi
}

# The database's CA bundle before anything connects to the database; PuppetDB restarts on a change.
before=$(cksum <"$PGSSLROOTCERT" 2>/dev/null || true)
"$PM_LIB_DIR/db-ca-bundle.sh"
[[ $(cksum <"$PGSSLROOTCERT") == "$before" ]] || CHANGED=1
write_password_file
if [[ $PUPPETDB_MIGRATE == true ]]; then
  ensure_pg_trgm
fi
rm -f "$PM_STATE_DIR/db-password"
install_certificate

# Every site's masters from the SRV records: now (PuppetDB restarts below on a change), then on a timer.
if [[ -n ${ALLOWLIST_SRV_RECORDS:-} ]]; then
  before=$(cksum <"$allowlist")
  "$PM_LIB_DIR/allowlist-refresh.sh" --no-restart
  [[ $(cksum <"$allowlist") == "$before" ]] || CHANGED=1
  install_timers puppet-multisite-allowlist
fi
# Commands PuppetDB discarded while its database was away go back to it once both answer.
install_timers puppet-multisite-discard-replay

# Debian's unit never restarts after an exit code: a PuppetDB that must not migrate exits (109) when
# it starts before the shared database is migrated, and must retry instead of staying down.
if systemd_running; then
  install_file "$PM_CONF_DIR/systemd/puppetdb-restart.conf" "$SYSTEMD_DIR/puppetdb.service.d/puppet-multisite.conf" 0644
  systemctl daemon-reload
fi

service_up puppetdb "$CHANGED"
log "PuppetDB $CERTNAME configured (migrate=$PUPPETDB_MIGRATE)"

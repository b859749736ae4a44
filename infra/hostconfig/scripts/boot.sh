#!/usr/bin/env bash
# First boot of a host. cloud-init runs `boot.sh start` once per instance, and writes its once-marker
# before it does, so a script that fails there is never run again: `start` only hands the work to a
# systemd unit (without blocking cloud-init) and returns. The unit runs `boot.sh run`, which runs the
# role's script until it succeeds, backing off between attempts, and says why each attempt failed in
# the journal and on the console. A reboot before success starts the unit again; once it succeeded
# a marker keeps it from running at later boots. Every role script is idempotent, so an attempt
# picks up where the last one stopped.
# User data carries this script, lib.sh and ssm-agent.sh; the role's other scripts are fetched from
# the site's script store (an S3 bucket in the host's region, reached through the VPC's gateway
# endpoint) by the SHA-256 that scripts.sha256 lists, and each is installed only when its bytes have
# that hash.
set -uo pipefail
PM_SCRIPT=boot
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

load_settings
require_settings ROLE BOOT_RETRY_FIRST_SECONDS BOOT_RETRY_MAX_SECONDS
UNIT=puppet-multisite-boot.service
DONE="$PM_STATE_DIR/first-boot.done"

# The one script-store adapter: fetches object KEY of the store to DEST.
# PUPPET_MULTISITE_SCRIPTS_DIR=<dir> reads <dir>/<bucket>/<key> instead of S3 (lab, tests).
script_get() {
  local key=$1 dest=$2
  if [[ -n ${PUPPET_MULTISITE_SCRIPTS_DIR:-} ]]; then
    cp "$PUPPET_MULTISITE_SCRIPTS_DIR/$SCRIPTS_BUCKET/$key" "$dest"
  else
    # shellcheck disable=SC2153 # REGION is a setting from host.env
    aws s3 cp --only-show-errors --region "$REGION" "s3://$SCRIPTS_BUCKET/$key" "$dest"
  fi
}

# Installs every script of the manifest that is not already there with its hash: a retried boot
# fetches only what an earlier attempt did not install.
fetch_scripts() {
  local manifest="$PM_CONF_DIR/scripts.sha256" sha name dest tmp got
  [[ -r $manifest ]] || die "script manifest $manifest is missing: user data writes it"
  require_settings SCRIPTS_BUCKET REGION
  install_packages awscli || return 1
  while read -r sha name; do
    [[ $sha =~ ^[0-9a-f]{64}$ && $name =~ ^[A-Za-z0-9_][A-Za-z0-9_./-]*$ && $name != *..* ]] ||
      die "script manifest $manifest: not a '<sha256>  <path>' line: $sha $name"
    dest="$PM_LIB_DIR/$name"
    got=$(sha256sum "$dest" 2>/dev/null) || got=
    [[ ${got%% *} == "$sha" ]] && continue
    tmp=$(mktemp "$PM_STATE_DIR/script.XXXXXX")
    if ! retry 5 5 60 "fetching $name from s3://$SCRIPTS_BUCKET/scripts/$sha" -- script_get "scripts/$sha" "$tmp"; then
      rm -f "$tmp"
      log "cannot fetch $name (check the instance role and the VPC's S3 endpoint)"
      return 1
    fi
    got=$(sha256sum "$tmp")
    if [[ ${got%% *} != "$sha" ]]; then
      rm -f "$tmp"
      log "s3://$SCRIPTS_BUCKET/scripts/$sha has SHA-256 ${got%% *}: not installing it as $name"
      return 1
    fi
    install -D -m 0755 "$tmp" "$dest"
    rm -f "$tmp"
    log "installed $name ($sha)"
  done <"$manifest"
}

start() {
  if ! systemd_running; then
    # No systemd (the lab): the same loop, in the foreground.
    exec "$PM_LIB_DIR/boot.sh" run
  fi
  install -m 0644 "$PM_CONF_DIR/systemd/$UNIT" "$SYSTEMD_DIR/$UNIT"
  systemctl daemon-reload
  systemctl enable "$UNIT"
  systemctl start --no-block "$UNIT"
  log "first boot handed to $UNIT: journalctl -u $UNIT follows it"
}

run() {
  local attempt=1 delay=$BOOT_RETRY_FIRST_SECONDS max=$BOOT_RETRY_MAX_SECONDS rc
  install -d -m 0700 "$PM_STATE_DIR"
  if [[ -e $DONE ]]; then
    log "first boot already complete ($(<"$DONE"))"
    return 0
  fi
  while true; do
    log "first boot of $ROLE: attempt $attempt"
    # Session Manager first, so operators can reach a host whose role cannot finish. Not a reason to
    # hold the role back: a host that serves but cannot be reached beats one that does neither.
    "$PM_LIB_DIR/ssm-agent.sh" || log "SSM agent not installed (see above): Session Manager cannot reach this host"
    if fetch_scripts; then
      "$PM_LIB_DIR/$ROLE.sh"
      rc=$?
    else
      rc=$?
    fi
    if ((rc == 0)); then
      date -u +%Y-%m-%dT%H:%M:%SZ >"$DONE"
      log "first boot of $ROLE complete after $attempt attempt(s)"
      return 0
    fi
    # The role script's own last lines (its ERROR) are just above in the journal and on the console.
    log "first boot of $ROLE: attempt $attempt failed (exit $rc); retrying in ${delay}s"
    sleep "$delay"
    attempt=$((attempt + 1))
    delay=$((delay * 2 > max ? max : delay * 2))
  done
}

case ${1:-start} in
  start) start ;;
  run) run ;;
  *) die "usage: boot.sh [start|run]" ;;
esac

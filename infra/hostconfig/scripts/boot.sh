#!/usr/bin/env bash
# First boot of a host. cloud-init runs `boot.sh start` once per instance, and writes its once-marker
# before it does, so a script that fails there is never run again: `start` only hands the work to a
# systemd unit (without blocking cloud-init) and returns. The unit runs `boot.sh run`, which runs the
# role's script until it succeeds, backing off between attempts, and says why each attempt failed in
# the journal and on the console. A reboot before success starts the unit again; once it succeeded
# a marker keeps it from running at later boots. Every role script is idempotent, so an attempt
# picks up where the last one stopped.
set -uo pipefail
PM_SCRIPT=boot
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

load_settings
require_settings ROLE BOOT_RETRY_FIRST_SECONDS BOOT_RETRY_MAX_SECONDS
UNIT=puppet-multisite-boot.service
DONE="$PM_STATE_DIR/first-boot.done"

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
    "$PM_LIB_DIR/$ROLE.sh"
    rc=$?
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

// The systemd units of a host's own jobs: its first boot, and the timers of its role (code sync,
// CRL refresh, the CA copy, the PuppetDB allowlist and replay), staged by user data and installed by
// the role's script.
import { renderIni } from "./ini";
import { LIB_DIR, STATE_DIR } from "./paths";
import { timerUnits } from "./timers";
import { CaHost, CompileMasterHost, CrlConsumer, HostRole } from "./types";

/** Minutes between two refreshes of a PuppetDB's allowlist from the sites' SRV records. */
export const ALLOWLIST_REFRESH_MINUTES = 5;

/**
 * Longest a code sync may run: it retries each git transfer (five minutes at most each) and r10k,
 * and a sync that outlives this is killed so the next one can start.
 */
export const SYNC_TIMEOUT_MINUTES = 15;

/** Longest a CRL refresh may run (one fetch of at most 20 s, then a verification). */
export const CRL_REFRESH_TIMEOUT_SECONDS = 60;

/** systemd units of the code sync of a compile master. */
export function renderSyncUnits(host: CompileMasterHost): { service: string; timer: string } {
  return timerUnits({
    description: "Deploy the control repository",
    execStart: `${LIB_DIR}/code-sync.sh`,
    timeoutStartSec: `${SYNC_TIMEOUT_MINUTES}min`,
    period: `${host.controlRepo.syncIntervalMinutes}min`,
    randomizedDelaySec: 30,
  });
}

/**
 * systemd units of the CRL refresh of a compile master or PuppetDB host: no random delay and a
 * one-second accuracy, so a revocation is honoured within the interval.
 */
export function renderCrlUnits(host: CrlConsumer): { service: string; timer: string } {
  return timerUnits({
    description: "Fetch the CA's certificate revocation list",
    execStart: `${LIB_DIR}/crl-refresh.sh`,
    timeoutStartSec: `${CRL_REFRESH_TIMEOUT_SECONDS}s`,
    period: `${host.crlRefreshMinutes}min`,
    accuracySec: "1s",
  });
}

/** Longest one copy of the active CA's records may run. */
export const CA_SYNC_TIMEOUT_SECONDS = 300;

/**
 * systemd units of a CA's copy of the active CA's records: one-second accuracy and no random delay,
 * since the interval is the most a certificate can be unknown to the standby. Every CA with peers
 * runs it: on the active CA it copies nothing until a promoted peer fences this one.
 */
export function renderCaSyncUnits(host: CaHost): { service: string; timer: string } {
  if (!host.syncIntervalSeconds) {
    throw new Error(`${host.certname}: a CA with peer CAs needs syncIntervalSeconds`);
  }
  return timerUnits({
    description: "Copy the active Puppet CA's records to this CA while it is not the active one",
    execStart: `${LIB_DIR}/ca-sync.rb`,
    timeoutStartSec: `${CA_SYNC_TIMEOUT_SECONDS}s`,
    period: `${host.syncIntervalSeconds}s`,
    accuracySec: "1s",
  });
}

/** systemd units of the PuppetDB allowlist refresh. */
export function renderAllowlistUnits(): { service: string; timer: string } {
  return timerUnits({
    description: "PuppetDB allowlist from the sites' SRV records",
    execStart: `${LIB_DIR}/allowlist-refresh.sh`,
    // Lookups time out in seconds; a PuppetDB restart may take minutes.
    timeoutStartSec: "10min",
    period: `${ALLOWLIST_REFRESH_MINUTES}min`,
    // The PuppetDBs of all sites see a new master in the same interval: spreading their restarts
    // keeps one of them answering the masters.
    randomizedDelaySec: 120,
  });
}

/** Minutes between two runs of a PuppetDB's replay of the commands it discarded. */
export const DISCARD_REPLAY_MINUTES = 1;

/**
 * systemd units of a PuppetDB's replay of commands discarded while its database was away: every
 * minute, so the backlog goes back to PuppetDB soon after the database returns.
 */
export function renderDiscardReplayUnits(): { service: string; timer: string } {
  return timerUnits({
    description: "Replay the commands PuppetDB discarded",
    execStart: `${LIB_DIR}/discard-replay.sh`,
    // Each post may take up to a minute; a run that outlives this is killed, the next resumes.
    timeoutStartSec: "10min",
    period: `${DISCARD_REPLAY_MINUTES}min`,
    // systemd's default accuracy (a minute) could double the interval.
    accuracySec: "5s",
  });
}

/**
 * The unit that runs a host's first boot (`boot.sh run`: the role's script until it succeeds). A
 * simple service, not a oneshot: multi-user.target, and cloud-final after it, never wait for a boot
 * that may retry for hours. `Restart` covers the loop itself dying (OOM); the marker written on
 * success keeps it from running at later boots. Output goes to the console too, so a host that
 * cannot finish says why in the EC2 console output.
 */
export function renderBootUnit(role: HostRole): string {
  return renderIni([
    [
      "Unit",
      {
        Description: `puppet-multisite first boot (${role})`,
        Wants: "network-online.target",
        After: "network-online.target",
        ConditionPathExists: `!${STATE_DIR}/first-boot.done`,
        // Restarts never stop for a rate limit: the loop is the one that backs off.
        StartLimitIntervalSec: 0,
      },
    ],
    [
      "Service",
      {
        Type: "simple",
        ExecStart: `${LIB_DIR}/boot.sh run`,
        Restart: "on-failure",
        RestartSec: "30s",
        StandardOutput: "journal+console",
        StandardError: "journal+console",
      },
    ],
    ["Install", { WantedBy: "multi-user.target" }],
  ]);
}

/**
 * Drop-in for Debian's puppetdb.service (`Restart=on-abnormal`, which never restarts after an exit
 * code). A PuppetDB with `migrate = false` that starts before the migrating one has migrated the
 * shared database exits with 109 ("Database is not fully migrated and migration is disallowed"), and
 * would stay down: it retries until the schema is there.
 */
export function renderPuppetdbRestartDropIn(): string {
  return renderIni([["Service", { Restart: "on-failure", RestartSec: "30s" }]]);
}

// Every file a host's user data writes, per role. Plain data (path, content, mode), so user data,
// the lab and the tests share one list.
import { caFingerprint } from "./ca-pin";
import { renderEnvFile, EnvVars } from "./envfile";
import { renderIni } from "./ini";
import { timerUnits } from "./timers";
import { CONF_DIR, DATABASE_CA_BUNDLE, LIB_DIR, STATE_DIR, STATE_MOUNT_POINTS } from "./paths";
import {
  renderCsrAttributes,
  renderPuppetdbConf,
  renderRoutesYaml,
  renderServerPuppetConf,
} from "./puppetconf";
import { renderScriptManifest, userDataScripts } from "./scripts";
import {
  PUPPETDB_ACCESS_WAIT_SECONDS,
  renderMasterPuppetserverConf,
  renderSpoolConfig,
  renderSpoolUnits,
  SPOOL_DIR,
} from "./puppetdb-spool";
import { ssmAgentKeyring } from "./ssm-agent-key";
import { renderAutosignPolicy } from "./autosign-policy";
import {
  DATABASE_SSLMODE,
  renderCaConf,
  renderCaServices,
  renderCertificateAllowlist,
  renderPuppetdbBootstrapServices,
  renderPuppetdbDefaults,
  renderPuppetdbFiles,
  renderPuppetserverDefaults,
} from "./services";
import {
  CaHost,
  CompileMasterHost,
  CrlConsumer,
  HostConfig,
  HostRole,
  PuppetdbHost,
} from "./types";

/** The role's scripts to fetch, by SHA-256, staged under CONF_DIR (boot.sh reads it). */
export const SCRIPT_MANIFEST = "scripts.sha256";

/** The git server's host keys a master accepts, staged under CONF_DIR (SSH URLs only). */
const KNOWN_HOSTS_FILE = "control-repo-known-hosts";

/** Minutes between two refreshes of a PuppetDB's allowlist from the sites' SRV records. */
export const ALLOWLIST_REFRESH_MINUTES = 5;

/** An SRV record name as the refresh script accepts it: labels of letters, digits, `_` and `-`. */
const SRV_NAME =
  /^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;

/** The SRV records a PuppetDB follows, space-separated for host.env; undefined when there are none. */
function allowlistSrvSetting(host: PuppetdbHost): string | undefined {
  const records = [...new Set(host.allowlistSrvRecords ?? [])];
  for (const name of records) {
    if (!SRV_NAME.test(name)) {
      throw new Error(
        `allowlistSrvRecords of ${host.certname}: not a DNS name: ${JSON.stringify(name)}`,
      );
    }
  }
  return records.length > 0 ? records.join(" ") : undefined;
}

export interface HostFile {
  readonly path: string;
  /** Text, or bytes (written base64-encoded, as cloud-init decodes them). */
  readonly content: string | Uint8Array;
  /** Octal mode as cloud-init wants it, e.g. `0644`. */
  readonly permissions: string;
}

/** Seconds before the first retry of a failed first boot; each retry waits twice as long, up to BOOT_RETRY_MAX_SECONDS. */
export const BOOT_RETRY_FIRST_SECONDS = 30;
/** Longest wait between two attempts of a first boot: a cause gone away is noticed within this. */
export const BOOT_RETRY_MAX_SECONDS = 300;

/** The site's script store, which every host fetches its role's scripts from at first boot. */
function scriptsBucket(host: HostConfig): string {
  if (!host.scriptsBucket) {
    throw new Error(
      `${host.certname}: scriptsBucket is unset: the host could not fetch its scripts`,
    );
  }
  return host.scriptsBucket;
}

/** Whether a CA has other CAs to copy from once one of them is promoted past it. */
function hasPeerCas(host: CaHost): boolean {
  return (host.peerCas?.length ?? 0) > 0;
}

/** The settings the scripts read (`host.env`): names of secrets, never their values. */
export function hostSettings(host: HostConfig): EnvVars {
  const common: EnvVars = {
    ROLE: host.role,
    CERTNAME: host.certname,
    SITE: host.site,
    DOMAIN: host.domain,
    REGION: host.region,
    CA_SERVER: host.caServer,
    SERVER_CHALLENGE_SECRET_NAME: host.serverChallengeSecret.name,
    SERVER_CHALLENGE_SECRET_REGION: host.serverChallengeSecret.region,
    HEAP_MB: host.heapMb,
    PACKAGE_SOURCE: host.packageSource,
    BOOT_RETRY_FIRST_SECONDS,
    BOOT_RETRY_MAX_SECONDS,
    STATE_VOLUME_ID: host.stateVolumeId,
    STATE_MOUNT_POINT: STATE_MOUNT_POINTS[host.role],
    SCRIPTS_BUCKET: scriptsBucket(host),
  };
  switch (host.role) {
    case "ca":
      return {
        ...common,
        CA_KEY_SECRET_NAME: host.caKeySecret.name,
        CA_KEY_SECRET_REGION: host.caKeySecret.region,
        AGENT_CHALLENGE_SECRET_NAME: host.agentChallengeSecret.name,
        AGENT_CHALLENGE_SECRET_REGION: host.agentChallengeSecret.region,
        // A standby asks the active CA (CA_SERVER) for its certificate, as every server does.
        CA_MODE: host.standby ? "standby" : "active",
        // The other CAs, which may read and change certificates' statuses here (auth-conf.rb).
        CA_PEERS: host.peerCas?.length ? host.peerCas.join(" ") : undefined,
        CA_FINGERPRINT: host.standby ? caFingerprint(host.caCertificatePem) : undefined,
        CA_SYNC_SECONDS: hasPeerCas(host) ? host.syncIntervalSeconds : undefined,
      };
    case "compile-master":
      return {
        ...common,
        CA_FINGERPRINT: caFingerprint(host.caCertificatePem),
        CONTROL_REPO_URL: host.controlRepo.url,
        CONTROL_REPO_BRANCH: host.controlRepo.branch,
        CONTROL_REPO_SYNC_MINUTES: host.controlRepo.syncIntervalMinutes,
        CONTROL_REPO_SECRET_NAME: host.controlRepo.credentialSecret?.name,
        CONTROL_REPO_SECRET_REGION: host.controlRepo.credentialSecret?.region,
        CONTROL_REPO_KNOWN_HOSTS: host.controlRepo.knownHosts && `${CONF_DIR}/${KNOWN_HOSTS_FILE}`,
        CONTROL_REPO_TOKEN_USER: host.controlRepo.tokenUser,
        CRL_REFRESH_MINUTES: host.crlRefreshMinutes,
        PUPPETDB_ACCESS_WAIT_SECONDS,
        PUPPETDB_SPOOL_DIR: SPOOL_DIR,
      };
    case "puppetdb": {
      const srvRecords = allowlistSrvSetting(host);
      return {
        ...common,
        CA_FINGERPRINT: caFingerprint(host.caCertificatePem),
        DB_HOST: host.database.host,
        DB_PORT: host.database.port,
        DB_NAME: host.database.name,
        DB_USER: host.database.user,
        DB_PASSWORD_SECRET_NAME: host.database.passwordSecret.name,
        DB_PASSWORD_SECRET_REGION: host.database.passwordSecret.region,
        // db-ca-bundle.sh installs the bundle at PGSSLROOTCERT; libpq reads both variables
        // itself, so every psql and pg_isready of the scripts verifies the database as PuppetDB does.
        DB_CA_BUNDLE_URL: host.database.caBundleUrl,
        PGSSLMODE: DATABASE_SSLMODE,
        PGSSLROOTCERT: DATABASE_CA_BUNDLE,
        PUPPETDB_MIGRATE: host.migrate,
        // Read by allowlist-refresh.sh; left out when there are no records to follow.
        ALLOWLIST_SRV_RECORDS: srvRecords,
        ALLOWLIST_REFRESH_MINUTES: srvRecords === undefined ? undefined : ALLOWLIST_REFRESH_MINUTES,
        CRL_REFRESH_MINUTES: host.crlRefreshMinutes,
      };
    }
  }
}

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

/** The staged files of a timer job `puppet-multisite-<name>` (install_timers installs them). */
function timerFiles(
  name: string,
  units: { service: string; timer: string },
): Record<string, string> {
  return {
    [`systemd/puppet-multisite-${name}.service`]: units.service,
    [`systemd/puppet-multisite-${name}.timer`]: units.timer,
  };
}

function roleFiles(host: HostConfig): Record<string, string | Uint8Array> {
  const common = {
    "host.env": renderEnvFile(hostSettings(host), "Settings of this host, read by its scripts."),
    "systemd/puppet-multisite-boot.service": renderBootUnit(host.role),
    "ssm-agent.gpg": ssmAgentKeyring(),
    "puppet.conf": renderServerPuppetConf(host),
    [SCRIPT_MANIFEST]: renderScriptManifest(host.role),
  };
  switch (host.role) {
    case "ca":
      return {
        ...common,
        // The active CA is the one host that carries its certificate; the others, the standby
        // CA too, pin its fingerprint.
        ...(!host.standby && {
          "ca.pem": host.caCertificatePem.endsWith("\n")
            ? host.caCertificatePem
            : `${host.caCertificatePem}\n`,
        }),
        "puppetserver/ca.conf": renderCaConf(),
        "puppetserver/ca.cfg": renderCaServices(true),
        "default-puppetserver": renderPuppetserverDefaults(host.heapMb),
        "autosign-policy.json": renderAutosignPolicy(host),
        ...(host.standby && { "csr_attributes.yaml": renderCsrAttributes(host.role) }),
        ...(hasPeerCas(host) && timerFiles("ca-sync", renderCaSyncUnits(host))),
      };
    case "compile-master": {
      return {
        ...common,
        "csr_attributes.yaml": renderCsrAttributes(host.role),
        "puppetdb.conf": renderPuppetdbConf(host.puppetdbUrls),
        "puppetdb-spool.json": renderSpoolConfig(host.puppetdbUrls, host.certname),
        "routes.yaml": renderRoutesYaml(),
        "puppetserver/puppetserver.conf": renderMasterPuppetserverConf(),
        ...(host.controlRepo.knownHosts && {
          [KNOWN_HOSTS_FILE]: `${host.controlRepo.knownHosts.join("\n")}\n`,
        }),
        "puppetserver/ca.cfg": renderCaServices(false),
        "default-puppetserver": renderPuppetserverDefaults(host.heapMb),
        ...timerFiles("sync", renderSyncUnits(host)),
        ...timerFiles("spool", renderSpoolUnits()),
        ...timerFiles("crl", renderCrlUnits(host)),
      };
    }
    case "puppetdb": {
      const pdb = renderPuppetdbFiles(host);
      // Other sites' masters come from SRV records at run time, refreshed on a timer.
      const followsSrv = allowlistSrvSetting(host) !== undefined;
      return {
        ...common,
        "csr_attributes.yaml": renderCsrAttributes(host.role),
        "default-puppetdb": renderPuppetdbDefaults(host.heapMb),
        "puppetdb/certificate-allowlist": renderCertificateAllowlist(host.certificateAllowlist),
        ...Object.fromEntries(
          Object.entries(pdb).map(([name, text]) => [`puppetdb/${name}`, text]),
        ),
        "puppetdb/bootstrap-services.cfg": renderPuppetdbBootstrapServices(),
        "systemd/puppetdb-restart.conf": renderPuppetdbRestartDropIn(),
        ...timerFiles("crl", renderCrlUnits(host)),
        ...(followsSrv && timerFiles("allowlist", renderAllowlistUnits())),
        ...timerFiles("discard-replay", renderDiscardReplayUnits()),
      };
    }
  }
}

/**
 * Staged configuration under CONF_DIR, and under LIB_DIR the scripts that fetch the role's others
 * (listed with their hashes in SCRIPT_MANIFEST).
 */
export function hostFiles(host: HostConfig): HostFile[] {
  const config = Object.entries(roleFiles(host)).map(([name, content]) => ({
    path: `${CONF_DIR}/${name}`,
    content,
    permissions: "0644",
  }));
  const scripts = userDataScripts().map(({ name, content }) => ({
    path: `${LIB_DIR}/${name}`,
    content,
    permissions: "0755",
  }));
  return [...config, ...scripts];
}

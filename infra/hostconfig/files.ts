// Every file a host's user data writes, per role. Plain data (path, content, mode), so user data,
// the lab and the tests share one list.
import { caFingerprint } from "./ca-pin";
import { renderEnvFile, EnvVars } from "./envfile";
import { CONF_DIR, DATABASE_CA_BUNDLE, LIB_DIR, STATE_MOUNT_POINTS } from "./paths";
import {
  renderCsrAttributes,
  renderPuppetdbConf,
  renderRoutesYaml,
  renderServerPuppetConf,
} from "./puppetconf";
import { renderScriptManifest, userDataScripts } from "./scripts";
import {
  ALLOWLIST_REFRESH_MINUTES,
  renderAllowlistUnits,
  renderBootUnit,
  renderCaSyncUnits,
  renderCrlUnits,
  renderDiscardReplayUnits,
  renderPuppetdbRestartDropIn,
  renderSyncUnits,
} from "./units";
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
import { CaHost, CompileMasterHost, HostConfig, PuppetdbHost } from "./types";

/** The role's scripts to fetch, by SHA-256, staged under CONF_DIR (boot.sh reads it). */
export const SCRIPT_MANIFEST = "scripts.sha256";

/** The git server's host keys a master accepts, staged under CONF_DIR (SSH URLs only). */
const KNOWN_HOSTS_FILE = "control-repo-known-hosts";

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

/** A host name as the scripts put it into a URL: labels of letters, digits and `-`. */
const HOST_NAME =
  /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** The deployment's CAs, space-separated (first boot, crl-refresh.sh); undefined: CA_SERVER alone. */
function caServers(host: CompileMasterHost | PuppetdbHost): string | undefined {
  const servers = host.caServers ?? [];
  for (const name of servers) {
    if (!HOST_NAME.test(name)) {
      throw new Error(`caServers of ${host.certname}: not a host name: ${JSON.stringify(name)}`);
    }
  }
  return servers.length > 0 ? servers.join(" ") : undefined;
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
        CA_PEERS: host.peerCas?.join(" ") || undefined,
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
        CA_SERVERS: caServers(host),
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
        DB_CA_BUNDLE_URLS: host.database.caBundleUrls.join(" "),
        // The replica PuppetDB reads from and writes to once promoted (puppetdb.sh, discard-replay.sh).
        DB_REPLICA_HOST: host.database.replica?.host,
        DB_REPLICA_PORT: host.database.replica?.port,
        PGSSLMODE: DATABASE_SSLMODE,
        PGSSLROOTCERT: DATABASE_CA_BUNDLE,
        PUPPETDB_MIGRATE: host.migrate,
        // Read by allowlist-refresh.sh; left out when there are no records to follow.
        ALLOWLIST_SRV_RECORDS: srvRecords,
        ALLOWLIST_REFRESH_MINUTES: srvRecords === undefined ? undefined : ALLOWLIST_REFRESH_MINUTES,
        CRL_REFRESH_MINUTES: host.crlRefreshMinutes,
        CA_SERVERS: caServers(host),
      };
    }
  }
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

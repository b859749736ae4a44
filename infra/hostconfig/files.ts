// Every file a host's user data writes, per role. Plain data (path, content, mode), so user data,
// the lab and the tests share one list.
import { renderEnvFile, EnvVars } from "./envfile";
import { IniDocument, renderIni } from "./ini";
import { CONF_DIR, LIB_DIR } from "./paths";
import {
  renderCsrAttributes,
  renderPuppetdbConf,
  renderRoutesYaml,
  renderServerPuppetConf,
} from "./puppetconf";
import { roleScripts } from "./scripts";
import {
  renderAutosignPolicy,
  renderCaConf,
  renderCaServices,
  renderCertificateAllowlist,
  renderPuppetdbDefaults,
  renderPuppetdbFiles,
  renderPuppetserverDefaults,
} from "./services";
import { CompileMasterHost, HostConfig, PuppetdbHost } from "./types";

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
  readonly content: string;
  /** Octal mode as cloud-init wants it, e.g. `0644`. */
  readonly permissions: string;
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
    CHALLENGE_SECRET_NAME: host.challengeSecret.name,
    CHALLENGE_SECRET_REGION: host.challengeSecret.region,
    HEAP_MB: host.heapMb,
    PACKAGE_SOURCE: host.packageSource,
  };
  switch (host.role) {
    case "ca":
      return {
        ...common,
        CA_KEY_SECRET_NAME: host.caKeySecret.name,
        CA_KEY_SECRET_REGION: host.caKeySecret.region,
      };
    case "compile-master":
      return {
        ...common,
        CONTROL_REPO_URL: host.controlRepo.url,
        CONTROL_REPO_BRANCH: host.controlRepo.branch,
        CONTROL_REPO_SYNC_MINUTES: host.controlRepo.syncIntervalMinutes,
      };
    case "puppetdb": {
      const srvRecords = allowlistSrvSetting(host);
      return {
        ...common,
        DB_HOST: host.database.host,
        DB_PORT: host.database.port,
        DB_NAME: host.database.name,
        DB_USER: host.database.user,
        DB_PASSWORD_SECRET_NAME: host.database.passwordSecret.name,
        DB_PASSWORD_SECRET_REGION: host.database.passwordSecret.region,
        DB_SSLMODE: host.database.sslMode ?? "require",
        PUPPETDB_MIGRATE: host.migrate,
        // Read by allowlist-refresh.sh; left out when there are no records to follow.
        ALLOWLIST_SRV_RECORDS: srvRecords,
        ALLOWLIST_REFRESH_MINUTES: srvRecords === undefined ? undefined : ALLOWLIST_REFRESH_MINUTES,
      };
    }
  }
}

/** systemd units of the code sync: a oneshot service on a timer (the lab calls the scripts itself). */
export function renderSyncUnits(host: CompileMasterHost): { service: string; timer: string } {
  const service: IniDocument = [
    [
      "Unit",
      {
        Description: "Deploy the control repository and refresh the CRL",
        After: "network-online.target",
      },
    ],
    [
      "Service",
      {
        Type: "oneshot",
        // "-": a failed sync (control repository unreachable) must not skip the CRL refresh.
        ExecStart: `-${LIB_DIR}/code-sync.sh`,
        ExecStartPost: `${LIB_DIR}/crl-refresh.sh`,
      },
    ],
  ];
  const timer: IniDocument = [
    ["Unit", { Description: "Periodic control repository deploy" }],
    [
      "Timer",
      {
        OnBootSec: `${host.controlRepo.syncIntervalMinutes}min`,
        OnUnitActiveSec: `${host.controlRepo.syncIntervalMinutes}min`,
        RandomizedDelaySec: 30,
      },
    ],
    ["Install", { WantedBy: "timers.target" }],
  ];
  return { service: renderIni(service), timer: renderIni(timer) };
}

/** systemd units of the PuppetDB allowlist refresh: a oneshot service on a timer. */
export function renderAllowlistUnits(): { service: string; timer: string } {
  const service: IniDocument = [
    [
      "Unit",
      {
        Description: "PuppetDB allowlist from the sites' SRV records",
        After: "network-online.target",
      },
    ],
    ["Service", { Type: "oneshot", ExecStart: `${LIB_DIR}/allowlist-refresh.sh` }],
  ];
  const timer: IniDocument = [
    ["Unit", { Description: "Periodic PuppetDB allowlist refresh" }],
    [
      "Timer",
      {
        OnBootSec: `${ALLOWLIST_REFRESH_MINUTES}min`,
        OnUnitActiveSec: `${ALLOWLIST_REFRESH_MINUTES}min`,
        // The PuppetDBs of all sites see a new master in the same interval: spreading their
        // restarts keeps one of them answering the masters.
        RandomizedDelaySec: 120,
      },
    ],
    ["Install", { WantedBy: "timers.target" }],
  ];
  return { service: renderIni(service), timer: renderIni(timer) };
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

function roleFiles(host: HostConfig): Record<string, string> {
  const common = {
    "host.env": renderEnvFile(hostSettings(host), "Settings of this host, read by its scripts."),
    "ca.pem": host.caCertificatePem.endsWith("\n")
      ? host.caCertificatePem
      : `${host.caCertificatePem}\n`,
    "puppet.conf": renderServerPuppetConf(host),
  };
  switch (host.role) {
    case "ca":
      return {
        ...common,
        "puppetserver/ca.conf": renderCaConf(),
        "puppetserver/ca.cfg": renderCaServices(true),
        "default-puppetserver": renderPuppetserverDefaults(host.heapMb),
        "autosign-policy.json": renderAutosignPolicy(host),
      };
    case "compile-master": {
      const units = renderSyncUnits(host);
      return {
        ...common,
        "csr_attributes.yaml": renderCsrAttributes(host.role),
        "puppetdb.conf": renderPuppetdbConf(host.puppetdbUrls),
        "routes.yaml": renderRoutesYaml(),
        "puppetserver/ca.cfg": renderCaServices(false),
        "default-puppetserver": renderPuppetserverDefaults(host.heapMb),
        "systemd/puppet-multisite-sync.service": units.service,
        "systemd/puppet-multisite-sync.timer": units.timer,
      };
    }
    case "puppetdb": {
      const pdb = renderPuppetdbFiles(host);
      // Other sites' masters come from SRV records at run time, refreshed on a timer.
      const units = allowlistSrvSetting(host) === undefined ? undefined : renderAllowlistUnits();
      return {
        ...common,
        "csr_attributes.yaml": renderCsrAttributes(host.role),
        "default-puppetdb": renderPuppetdbDefaults(host.heapMb),
        "puppetdb/certificate-allowlist": renderCertificateAllowlist(host.certificateAllowlist),
        ...Object.fromEntries(
          Object.entries(pdb).map(([name, text]) => [`puppetdb/${name}`, text]),
        ),
        "systemd/puppetdb-restart.conf": renderPuppetdbRestartDropIn(),
        ...(units && {
          "systemd/puppet-multisite-allowlist.service": units.service,
          "systemd/puppet-multisite-allowlist.timer": units.timer,
        }),
      };
    }
  }
}

/** Staged configuration under CONF_DIR and the role's scripts under LIB_DIR. */
export function hostFiles(host: HostConfig): HostFile[] {
  const config = Object.entries(roleFiles(host)).map(([name, content]) => ({
    path: `${CONF_DIR}/${name}`,
    content,
    permissions: "0644",
  }));
  const scripts = roleScripts(host.role).map(({ name, content }) => ({
    path: `${LIB_DIR}/${name}`,
    content,
    permissions: "0755",
  }));
  return [...config, ...scripts];
}

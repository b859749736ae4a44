// What each host of a site is told at first boot, assembled from the stack's settings. Pure (no
// Pulumi), so every role's configuration is tested without mocks; the site component only adds the
// values that come from resources (the CA certificate, the database address).
import { Settings } from "./config";
import {
  AgentSite,
  CaHost,
  CompileMasterHost,
  ControlRepo,
  HostCommon,
  PuppetdbHost,
  SecretRef,
} from "./hostconfig/types";
import { DATABASE_NAME, DATABASE_USER } from "./postgres";
import {
  SecretKind,
  caHostName,
  masterAltNames,
  poolHostName,
  puppetSrvName,
  puppetdbHostName,
  puppetdbUrls,
  secretName,
  standbyCaHostName,
} from "./naming";

/** JVM heaps, sized for the default instance types (8 GiB). */
export const HEAP_MB = { ca: 2048, master: 3072, puppetdb: 2048 } as const;

/** Where a database is reached: an RDS endpoint. */
export interface DatabaseEndpoint {
  readonly host: string;
  readonly port: number;
}

/**
 * AWS's bundle of the RDS root CAs of `region` (rds-ca-rsa2048-g1, and in most Regions
 * rds-ca-rsa4096-g1 and rds-ca-ecc384-g1), at the URL the RDS User Guide's "Certificate bundles by
 * AWS Region" gives: one host for the commercial Regions, one in us-gov-west-1 for both GovCloud
 * (US) Regions. The China Regions' host is the one public code cites from AWS China's
 * documentation, not checked against that page. Other partitions have no known URL: refused here
 * rather than at boot.
 */
export function rdsCaBundleUrl(region: string): string {
  if (!/^[a-z]{2}(-gov)?-[a-z]+-\d+$/.test(region)) {
    throw new Error(`no RDS CA bundle URL is known for region ${JSON.stringify(region)}`);
  }
  const host = region.startsWith("us-gov-")
    ? "truststore.pki.us-gov-west-1.rds.amazonaws.com"
    : region.startsWith("cn-")
      ? "rds-truststore.s3.cn-north-1.amazonaws.com.cn"
      : "truststore.pki.rds.amazonaws.com";
  return `https://${host}/${region}/${region}-bundle.pem`;
}

/** One of the deployment's secrets (owned by the primary), read from the replica in this site's region. */
export function secretRef(settings: Settings, kind: SecretKind): SecretRef {
  return {
    name: secretName(settings.project, settings.primarySite.name, kind),
    region: settings.site.region,
  };
}

function common(
  settings: Settings,
  certname: string,
  heapMb: number,
): Omit<HostCommon, "caCertificatePem"> {
  return {
    certname,
    site: settings.site.name,
    domain: settings.domain,
    region: settings.site.region,
    caServer: caHostName(settings.domain),
    serverChallengeSecret: secretRef(settings, "server-challenge"),
    heapMb,
  };
}

/**
 * The CA that signs (`certificates.activeCa`): `ca.<domain>` on the primary, or the failover site's
 * once promoted. Only what no host keeps reads it (the agents' `ca_server`, the SRV records): a
 * server's first boot asks every CA in turn, so recording a promotion replaces nothing.
 */
export function activeCaHostName(settings: Settings): string {
  const failover = settings.failoverSite;
  if (settings.certificates.activeCa === "primary") return caHostName(settings.domain);
  if (!failover)
    throw new Error("certificates.activeCa is failover, but no site is the failover site");
  return standbyCaHostName(failover.name, settings.domain);
}

/**
 * Certnames of the deployment's CAs: the primary's, then the standby if a site runs one. Whichever
 * is active, the order stays: it is in hosts' settings, and a promotion must replace no host.
 */
export function caCertnames(settings: Settings): string[] {
  const standby = settings.failoverSite;
  return [
    caHostName(settings.domain),
    ...(standby ? [standbyCaHostName(standby.name, settings.domain)] : []),
  ];
}

function caCommon(settings: Settings, certname: string): Omit<CaHost, "caCertificatePem"> {
  const peerCas = caCertnames(settings).filter((n) => n !== certname);
  return {
    ...common(settings, certname, HEAP_MB.ca),
    role: "ca",
    caKeySecret: secretRef(settings, "ca-key"),
    agentChallengeSecret: secretRef(settings, "agent-challenge"),
    dnsAltNames: [certname],
    peerCas,
    ...(peerCas.length > 0 && { syncIntervalSeconds: settings.certificates.standbySyncSeconds }),
  };
}

/** The active CA host, less the CA certificate the CA component makes. */
export function caHostSettings(settings: Settings): Omit<CaHost, "caCertificatePem"> {
  return caCommon(settings, caHostName(settings.domain));
}

/**
 * The standby CA of this site, which must be the catalogue's standby site. Its certificate also
 * names `ca.<domain>`: once it is promoted for good that name may point at it.
 */
export function standbyCaHostSettings(settings: Settings): Omit<CaHost, "caCertificatePem"> {
  const site = settings.site.name;
  if (settings.failoverSite?.name !== site) {
    throw new Error(
      `site ${site} runs no standby CA (sites.<name>.failover names ${settings.failoverSite?.name ?? "no site"})`,
    );
  }
  const name = standbyCaHostName(site, settings.domain);
  return {
    ...caCommon(settings, name),
    dnsAltNames: [name, caHostName(settings.domain)],
    standby: true,
  };
}

/** The control repository's deploy key or token, as this site's masters read it; none when unset. */
export function controlRepoSecret(settings: Settings): SecretRef | undefined {
  const name = settings.controlRepo.sshKeySecret ?? settings.controlRepo.tokenSecret;
  return name === undefined ? undefined : { name, region: settings.site.region };
}

/**
 * What a master needs to fetch code: the URL and branch, and the credential named for the URL's
 * transport, read in the master's own region (the operator replicates it to every site's region).
 */
function controlRepoSettings(settings: Settings): ControlRepo {
  const { url, branch, syncIntervalMinutes, sshKeySecret, knownHosts, tokenSecret, tokenUser } =
    settings.controlRepo;
  const credentialSecret = controlRepoSecret(settings);
  return {
    url,
    branch,
    syncIntervalMinutes,
    ...(credentialSecret && { credentialSecret }),
    ...(sshKeySecret !== undefined && { knownHosts }),
    ...(tokenSecret !== undefined && { tokenUser }),
  };
}

/** Compile master `index` (1-based) of this site. */
export function masterHostSettings(
  settings: Settings,
  index: number,
  hostName: string,
  caCertificatePem: string,
): CompileMasterHost {
  const site = settings.site.name;
  return {
    ...common(settings, hostName, HEAP_MB.master),
    caCertificatePem,
    role: "compile-master",
    dnsAltNames: masterAltNames(site, settings.domain, index),
    puppetdbUrls: puppetdbUrls(site, siteNames(settings), settings.domain),
    controlRepo: controlRepoSettings(settings),
    crlRefreshMinutes: settings.certificates.crlRefreshMinutes,
    caServers: caCertnames(settings),
  };
}

/**
 * This site's PuppetDB host; the primary's runs the schema migrations. `replica` is the failover
 * site's read replica of the database, in this site's region (only the failover site has one).
 */
export function puppetdbHostSettings(
  settings: Settings,
  caCertificatePem: string,
  database: DatabaseEndpoint,
  replica?: DatabaseEndpoint,
): PuppetdbHost {
  return {
    ...common(settings, puppetdbHostName(settings.site.name, settings.domain), HEAP_MB.puppetdb),
    caCertificatePem,
    role: "puppetdb",
    database: {
      host: database.host,
      port: database.port,
      name: DATABASE_NAME,
      user: DATABASE_USER,
      passwordSecret: secretRef(settings, "database"),
      // The database is the primary's RDS instance: its region's bundle, whichever site this is;
      // a replica's certificate comes from its own region's CAs.
      caBundleUrls: [
        ...new Set([settings.primarySite.region, ...(replica ? [settings.site.region] : [])]),
      ].map(rdsCaBundleUrl),
      ...(replica && { replica: { host: replica.host, port: replica.port } }),
    },
    migrate: settings.role === "primary",
    // The masters, this site's too, come from the SRV records: a pool that grows or shrinks leaves
    // PuppetDB's user data, and so the host, as it is.
    certificateAllowlist: [caHostName(settings.domain)],
    allowlistSrvRecords: siteNames(settings).map((x) => puppetSrvName(x, settings.domain)),
    crlRefreshMinutes: settings.certificates.crlRefreshMinutes,
    caServers: caCertnames(settings),
  };
}

/** An agent of this site: its own pool first, then every other site's. */
export function agentSite(settings: Settings): AgentSite {
  const site = settings.site.name;
  return {
    site,
    domain: settings.domain,
    caServer: activeCaHostName(settings),
    crlRefreshMinutes: settings.certificates.crlRefreshMinutes,
    serverList: [
      poolHostName(site, settings.domain),
      ...siteNames(settings)
        .filter((x) => x !== site)
        .map((x) => poolHostName(x, settings.domain)),
    ],
  };
}

/** Every site of the deployment, by name, in catalogue order. */
export function siteNames(settings: Settings): string[] {
  return settings.sites.map((x) => x.name);
}

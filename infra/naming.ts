// Host and service names of the deployment. Pure functions of the site names and the domain, so a
// stack can name another site's pool (SRV fallback) before that site has been deployed, and the lab
// and the PR preview derive exactly the names the program creates.
import { createHash } from "node:crypto";
import { PUPPETDB_PORT } from "./ports";

/** One lower-case DNS label, unanchored: the CA's autosign policy matches site names with it too. */
export const DNS_LABEL_PATTERN = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const DNS_LABEL = new RegExp(`^${DNS_LABEL_PATTERN}$`);

/** A lower-case DNS label: what site names must be, since they become part of host names. */
export function isDnsLabel(value: string): boolean {
  return DNS_LABEL.test(value);
}

/** A lower-case domain of at least two labels. */
export function isDomain(value: string): boolean {
  const labels = value.split(".");
  return value.length <= 253 && labels.length >= 2 && labels.every(isDnsLabel);
}

/** Tags every host carries: its site and its role (`ca`, `compile-master`, `puppetdb`). */
export const SITE_TAG = "puppet:site";
export const ROLE_TAG = "puppet:role";
/** Tag of the state volumes a site's snapshot policy selects; its value names the deployment and site. */
export const SNAPSHOT_TAG = "puppet:snapshots";

/** `<site>.<domain>`: the zone under which a site's records live, and its agents' `srv_domain`. */
export function siteDomain(site: string, domain: string): string {
  return `${site}.${domain}`;
}

/**
 * Host names of the deployment's servers as templates: `{domain}`, `{site}` (a site name) and
 * `{index}` (a compile master's 1-based number) are filled in. The naming functions below fill them,
 * and the CA's autosign policy carries them as they are, so the CA recognises every server name,
 * those of masters a pool gains later too, without being told each one.
 */
export const HOST_NAME_TEMPLATES = {
  /** The active CA, shared by every site. */
  ca: "ca.{domain}",
  /**
   * The standby CA of the site that runs one: it copies the active CA's records and signs once it
   * is promoted. Agents reach it at priority 1 of the CA's SRV records.
   */
  standbyCa: "ca.{site}.{domain}",
  /** The name agents that do not use SRV records use; resolved by latency to the nearest site. */
  generic: "puppet.{domain}",
  /** Compile master `index` of a site. Stable per index, so growing a pool adds names. */
  master: "master-{index}.{site}.{domain}",
  /** A site's load-balanced pool of compile masters: what other sites fall back to. */
  pool: "pool.{site}.{domain}",
  /** A site's PuppetDB host. */
  puppetdb: "puppetdb.{site}.{domain}",
} as const;

export type HostNameKind = keyof typeof HOST_NAME_TEMPLATES;

/** A template of HOST_NAME_TEMPLATES with the values given filled in; the others stay placeholders. */
export function fillHostName(
  kind: HostNameKind,
  values: { readonly domain: string; readonly site?: string; readonly index?: number },
): string {
  return HOST_NAME_TEMPLATES[kind].replace(
    /\{(domain|site|index)\}/g,
    (placeholder, key: string) => {
      const value = values[key as keyof typeof values];
      return value === undefined ? placeholder : String(value);
    },
  );
}

/** The active CA, shared by every site. */
export function caHostName(domain: string): string {
  return fillHostName("ca", { domain });
}

/** The standby CA of a site. */
export function standbyCaHostName(site: string, domain: string): string {
  return fillHostName("standbyCa", { site, domain });
}

/** Compile master `index` (1-based) of a site. Stable per index, so growing a pool adds names. */
export function masterHostName(site: string, domain: string, index: number): string {
  return fillHostName("master", { site, domain, index });
}

/** Every compile master of a site, in order. */
export function masterHostNames(site: string, domain: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => masterHostName(site, domain, i + 1));
}

/** A site's load-balanced pool of compile masters: what other sites fall back to. */
export function poolHostName(site: string, domain: string): string {
  return fillHostName("pool", { site, domain });
}

/** The name agents that do not use SRV records use; resolved by latency to the nearest site. */
export function genericPuppetName(domain: string): string {
  return fillHostName("generic", { domain });
}

/** A site's PuppetDB host. */
export function puppetdbHostName(site: string, domain: string): string {
  return fillHostName("puppetdb", { site, domain });
}

/** SRV record of the catalog service for a site's agents. */
export function puppetSrvName(site: string, domain: string): string {
  return `_x-puppet._tcp.${siteDomain(site, domain)}`;
}

/** SRV record of the CA service for a site's agents (an agent asks only under its own srv_domain). */
export function caSrvName(site: string, domain: string): string {
  return `_x-puppet-ca._tcp.${siteDomain(site, domain)}`;
}

/**
 * Names a compile master's certificate must carry: its own name, its site's pool name (the NLB and
 * the other sites' SRV fallback) and the generic latency-routed name.
 */
export function masterAltNames(site: string, domain: string, index: number): string[] {
  return MASTER_ALT_NAMES.map((kind) => fillHostName(kind, { site, domain, index }));
}

/** The templates of a compile master's alt names, in masterAltNames' order. */
export const MASTER_ALT_NAMES: readonly HostNameKind[] = ["master", "pool", "generic"];

/** AWS resource names are short: a site prefix keeps them unique per account and region. */
export function resourcePrefix(project: string, site: string): string {
  return `${project}-${site}`;
}

/**
 * A name for AWS resources with short name limits (load balancers and target groups: 32). Long names
 * keep their start and gain a hash of the whole, so they stay unique and stable.
 */
export function boundedName(name: string, max = 32): string {
  if (name.length <= max) return name;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 8);
  return `${name.slice(0, max - hash.length - 1).replace(/-+$/, "")}-${hash}`;
}

/**
 * The deployment's secrets: the CA's private key, the two autosign challenges (one only Puppet
 * servers can read, one handed to agents) and the database password.
 */
export type SecretKind = "ca-key" | "server-challenge" | "agent-challenge" | "database";

/**
 * The last part of each secret's name. The agent challenge keeps the name of the deployment's first,
 * single challenge: agents already use it, and a new name would replace a protected secret.
 */
const SECRET_SUFFIX: Readonly<Record<SecretKind, string>> = {
  "ca-key": "ca-key",
  "server-challenge": "server-challenge",
  "agent-challenge": "challenge",
  database: "database",
};

/** Secrets Manager name of one of the deployment's secrets, owned by the primary site. */
export function secretName(project: string, primarySite: string, secret: SecretKind): string {
  return `${project}/${primarySite}/${SECRET_SUFFIX[secret]}`;
}

/**
 * IAM path of every Puppet server's instance role (CA, compile masters, PuppetDB hosts) in every
 * site: the server challenge's resource policy admits roles under this path and no others.
 */
export function serverRolePath(project: string): string {
  return `/${project}/servers/`;
}

/**
 * IAM path of the CAs' instance roles, the active's and the standby's, in whichever stack: the CA
 * key's resource policy admits roles under it. Under `serverRolePath`, so CAs read the server
 * challenge too.
 */
export function caRolePath(project: string): string {
  return `${serverRolePath(project)}ca/`;
}

/** An IAM path: `/`, or `/`-separated segments of IAM's path characters with a trailing `/`. */
export function isIamPath(value: string): boolean {
  return /^\/([\w+=,.@-]+\/)*$/.test(value) && value.length <= 512;
}

/** HTTPS URL of a site's PuppetDB. */
export function puppetdbUrl(site: string, domain: string): string {
  return `https://${puppetdbHostName(site, domain)}:${PUPPETDB_PORT}`;
}

/** PuppetDB URLs in the order a site's masters try them: their own site's first, then the others. */
export function puppetdbUrls(site: string, sites: readonly string[], domain: string): string[] {
  return [site, ...sites.filter((s) => s !== site)].map((s) => puppetdbUrl(s, domain));
}

// Host and service names of the deployment. Pure functions of the site names and the domain, so a
// stack can name another site's pool (SRV fallback) before that site has been deployed, and the lab
// and the PR preview derive exactly the names the program creates.
import { createHash } from "node:crypto";
import { PUPPETDB_PORT } from "./ports";

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

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

/** `<site>.<domain>`: the zone under which a site's records live, and its agents' `srv_domain`. */
export function siteDomain(site: string, domain: string): string {
  return `${site}.${domain}`;
}

/** The one CA, shared by every site. */
export function caHostName(domain: string): string {
  return `ca.${domain}`;
}

/** Compile master `index` (1-based) of a site. Stable per index, so growing a pool adds names. */
export function masterHostName(site: string, domain: string, index: number): string {
  return `master-${index}.${siteDomain(site, domain)}`;
}

/** Every compile master of a site, in order. */
export function masterHostNames(site: string, domain: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => masterHostName(site, domain, i + 1));
}

/** A site's load-balanced pool of compile masters: what other sites fall back to. */
export function poolHostName(site: string, domain: string): string {
  return `pool.${siteDomain(site, domain)}`;
}

/** The name agents that do not use SRV records use; resolved by latency to the nearest site. */
export function genericPuppetName(domain: string): string {
  return `puppet.${domain}`;
}

/** A site's PuppetDB host. */
export function puppetdbHostName(site: string, domain: string): string {
  return `puppetdb.${siteDomain(site, domain)}`;
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
  return [
    masterHostName(site, domain, index),
    poolHostName(site, domain),
    genericPuppetName(domain),
  ];
}

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

/** The deployment's secrets: the CA's private key, the autosign challenge, the database password. */
export type SecretKind = "ca-key" | "challenge" | "database";

/** Secrets Manager name of one of the deployment's secrets, owned by the primary site. */
export function secretName(project: string, primarySite: string, secret: SecretKind): string {
  return `${project}/${primarySite}/${secret}`;
}

/** HTTPS URL of a site's PuppetDB. */
export function puppetdbUrl(site: string, domain: string): string {
  return `https://${puppetdbHostName(site, domain)}:${PUPPETDB_PORT}`;
}

/** PuppetDB URLs in the order a site's masters try them: their own site's first, then the others. */
export function puppetdbUrls(site: string, sites: readonly string[], domain: string): string[] {
  return [site, ...sites.filter((s) => s !== site)].map((s) => puppetdbUrl(s, domain));
}

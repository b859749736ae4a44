// The service-discovery records of a site, as plain data. Pure: the Route 53 component, the lab's DNS
// server and the PR preview all render these same records.
import { Settings } from "./config";
import { PUPPET_PORT } from "./ports";
import {
  caHostName,
  caSrvName,
  isDomain,
  masterHostNames,
  poolHostName,
  puppetSrvName,
  standbyCaHostName,
} from "./naming";

/** Agents re-read SRV answers after this many seconds: short, so topology changes spread fast. */
export const SRV_TTL = 60;
/** Priority of a site's own masters; lower is preferred. */
export const LOCAL_PRIORITY = 0;
/** Priority of the other sites' pools: used only when no local master accepts connections. */
export const FALLBACK_PRIORITY = 1;
/** SRV weight of each other site's pool. */
export const FALLBACK_WEIGHT = 10;

export interface SrvTarget {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}

export interface SrvRecordSet {
  readonly name: string;
  readonly ttl: number;
  readonly targets: readonly SrvTarget[];
}

/** Route 53's (and the zone file's) SRV value: `priority weight port target`. */
export function srvValue(t: SrvTarget): string {
  for (const [field, value, max] of [
    ["priority", t.priority, 65535],
    ["weight", t.weight, 65535],
    ["port", t.port, 65535],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw new RangeError(`SRV ${field} must be between 0 and ${max} inclusive, got: ${value}`);
    }
  }
  // Agents connect to the target by name (and check its certificate against it): never an address.
  if (!isDomain(t.target) || /^[\d.]+$/.test(t.target)) {
    throw new RangeError(`SRV target must be a host name, got: ${JSON.stringify(t.target)}`);
  }
  return `${t.priority} ${t.weight} ${t.port} ${t.target}`;
}

export interface SiteSrvInput {
  readonly site: string;
  readonly domain: string;
  /** Every site of the deployment, this one included. */
  readonly sites: readonly string[];
  readonly masterCount: number;
  readonly masterWeight: number;
  /** The site that runs the standby CA; none when no site does. */
  readonly standbyCaSite?: string;
  /** The standby CA has been promoted (`certificates.activeCa: failover`). Default false. */
  readonly standbyActive?: boolean;
}

/**
 * `_x-puppet._tcp.<site>.<domain>`: the site's own masters at priority 0, then every other site's
 * pool at priority 1. Other sites are named from config, so this works before they are deployed.
 */
export function puppetSrvRecord(input: SiteSrvInput): SrvRecordSet {
  const local = masterHostNames(input.site, input.domain, input.masterCount).map(
    (target): SrvTarget => ({
      priority: LOCAL_PRIORITY,
      weight: input.masterWeight,
      port: PUPPET_PORT,
      target,
    }),
  );
  const fallback = input.sites
    .filter((s) => s !== input.site)
    .map((s): SrvTarget => ({
      priority: FALLBACK_PRIORITY,
      weight: FALLBACK_WEIGHT,
      port: PUPPET_PORT,
      target: poolHostName(s, input.domain),
    }));
  return {
    name: puppetSrvName(input.site, input.domain),
    ttl: SRV_TTL,
    targets: [...local, ...fallback],
  };
}

/**
 * `_x-puppet-ca._tcp.<site>.<domain>`: every site's agents find the active CA under their own domain,
 * and the other CA after it. An agent moves to the next target only when it cannot connect, so the
 * standby is reached while the active CA's site is lost, with no change to DNS: Route 53's control
 * plane may be in that site. Until it is promoted the standby signs nothing (README: losing the
 * primary site says what an agent that reaches it then does). Once it is promoted
 * (`standbyActive`), it comes first: the old CA, back and fenced, refuses every request, and an
 * agent that connects to it does not move on.
 */
export function caSrvRecord(
  site: string,
  domain: string,
  standbyCaSite?: string,
  standbyActive = false,
): SrvRecordSet {
  if (standbyActive && standbyCaSite === undefined) {
    throw new Error(`caSrvRecord ${site}: the standby CA is active, but no site runs one`);
  }
  const cas = [
    caHostName(domain),
    ...(standbyCaSite === undefined ? [] : [standbyCaHostName(standbyCaSite, domain)]),
  ];
  if (standbyActive) cas.reverse();
  return {
    name: caSrvName(site, domain),
    ttl: SRV_TTL,
    targets: cas.map((target, i) => ({
      priority: i === 0 ? LOCAL_PRIORITY : FALLBACK_PRIORITY,
      weight: 0,
      port: PUPPET_PORT,
      target,
    })),
  };
}

/** The SRV input of a stack's own site, from its settings. */
export function siteSrvInput(settings: Settings): SiteSrvInput {
  return {
    site: settings.site.name,
    domain: settings.domain,
    sites: settings.sites.map((x) => x.name),
    masterCount: settings.masters.count,
    masterWeight: settings.masters.srvWeight,
    standbyCaSite: settings.failoverSite?.name,
    standbyActive: settings.certificates.activeCa === "failover",
  };
}

/** Both SRV record sets of a site. */
export function siteSrvRecords(input: SiteSrvInput): SrvRecordSet[] {
  return [
    puppetSrvRecord(input),
    caSrvRecord(input.site, input.domain, input.standbyCaSite, input.standbyActive),
  ];
}

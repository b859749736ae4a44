// The networks the deployment admits: every site's VPC and agent networks, from the `sites` catalogue.
// The pack reads the catalogue the stack itself runs with (Pulumi.yaml, overridden by the stack's
// own file), so a site added to the catalogue is admitted by the program and the pack alike; policy
// config may name the catalogue instead, for a pack run away from the project's files.
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { Address4 } from "ip-address";
import { parse } from "yaml";
import { parseCidr } from "../infra/cidr";
import { readStackConfig } from "../tools/plan/stack-config";

/** A site as the pack needs it: the networks whose traffic its hosts may receive. */
export interface CatalogueSite {
  readonly vpcCidr: string;
  readonly agentCidrs?: readonly string[];
}

/** Site name -> site, the shape of `puppet-multisite:sites` in Pulumi.yaml. */
export type Catalogue = Readonly<Record<string, CatalogueSite>>;

/** The policy config of the ingress rule (`--policy-pack-config`), both keys optional. */
export interface CatalogueConfig {
  /** The catalogue itself; when set, no project file is read. */
  readonly sites?: Catalogue;
  /** Directory of the project's Pulumi.yaml, relative to the pack's directory. Default `..`. */
  readonly projectDir?: string;
}

/** The pack's directory: relative paths in policy config start here, as the CLI runs it here. */
export const PACK_DIR = __dirname;

/** One admitted network and where the catalogue lists it, for messages. */
export interface Network {
  readonly cidr: string;
  readonly source: string;
}

/** The stack and project a URN names: `urn:pulumi:<stack>::<project>::<type>::<name>`. */
export function stackOfUrn(urn: string): { stack: string; project: string } {
  const match = /^urn:pulumi:([^:]+)::([^:]+)::/.exec(urn);
  if (!match) throw new Error(`not a resource URN: ${urn}`);
  return { stack: match[1], project: match[2] };
}

/** Every network of the catalogue; throws when an entry is not a site with IPv4 CIDRs. */
export function networksOf(catalogue: unknown): Network[] {
  if (catalogue === null || typeof catalogue !== "object" || Array.isArray(catalogue)) {
    throw new Error("the sites catalogue must map site names to { vpcCidr, agentCidrs }");
  }
  const networks: Network[] = [];
  for (const [name, site] of Object.entries(catalogue as Record<string, unknown>)) {
    const entry = (site ?? {}) as { vpcCidr?: unknown; agentCidrs?: unknown };
    const cidrs: [unknown, string][] = [[entry.vpcCidr, `sites.${name}.vpcCidr`]];
    if (entry.agentCidrs !== undefined) {
      if (!Array.isArray(entry.agentCidrs))
        throw new Error(`sites.${name}.agentCidrs must be a list of IPv4 CIDRs`);
      entry.agentCidrs.forEach((c, i) => cidrs.push([c, `sites.${name}.agentCidrs[${i}]`]));
    }
    for (const [cidr, source] of cidrs) {
      if (typeof cidr !== "string" || !parseCidr(cidr))
        throw new Error(`${source} must be an IPv4 CIDR in network form, got ${String(cidr)}`);
      networks.push({ cidr, source });
    }
  }
  if (networks.length === 0) throw new Error("the sites catalogue lists no site");
  return networks;
}

const fromProject = new Map<string, Network[]>();

/**
 * The catalogue's networks for the stack a resource belongs to: the config's `sites` if given,
 * else `<project>:sites` as that stack sees it in the project directory's files.
 */
export function admittedNetworks(config: CatalogueConfig, urn: string): Network[] {
  if (config.sites !== undefined) return networksOf(config.sites);
  const dir = config.projectDir ?? "..";
  const projectDir = isAbsolute(dir) ? dir : join(PACK_DIR, dir);
  const { stack, project } = stackOfUrn(urn);
  const key = `${projectDir}\0${stack}`;
  let networks = fromProject.get(key);
  if (!networks) {
    networks = networksOf(projectSites(projectDir, project, stack));
    fromProject.set(key, networks);
  }
  return networks;
}

function projectSites(dir: string, project: string, stack: string): unknown {
  const key = `${project}:sites`;
  if (existsSync(join(dir, `Pulumi.${stack}.yaml`))) {
    const value = readStackConfig(stack, dir).config[key];
    if (value === undefined) throw new Error(`${dir}: stack ${stack} sets no ${key}`);
    return JSON.parse(value) as unknown;
  }
  // A stack whose config lives elsewhere still shares the project's catalogue.
  const file = join(dir, "Pulumi.yaml");
  if (!existsSync(file)) throw new Error(`no ${file}: set the policy config's sites or projectDir`);
  const config = (parse(readFileSync(file, "utf8")) as { config?: Record<string, unknown> }).config;
  const value = config?.[key] ?? config?.sites;
  if (value === undefined) throw new Error(`${file} sets no ${key}`);
  return value;
}

/** The catalogue network holding every address of `cidr`, if any. */
export function admittingNetwork(cidr: string, networks: readonly Network[]): Network | undefined {
  const range = parseCidr(cidr);
  if (!range) return undefined;
  return networks.find((n) => range.isInSubnet(new Address4(n.cidr)));
}

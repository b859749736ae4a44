// The lab's topology, taken from the offline plans of the stacks: the hosts the program would launch
// (with their rendered user data), their planned addresses, and the Route 53 records of every site.
// Pure: what differs from AWS is named here and nowhere else.
//   - no NLB: a pool's alias answers with the addresses of the site's masters;
//   - no latency routing: each site's DNS server answers `puppet.<domain>` with its own pool;
//   - RDS is a PostgreSQL host in the primary's data tier, under the endpoint name RDS would have;
//   - agents (not built by the program) get addresses in each VPC's fourth /18, unused by the subnets.
import { Address4 } from "ip-address";
import { instanceUserData } from "../infra/hostconfig";
import { ROLE_TAG, SITE_TAG } from "../infra/naming";
import { hostTags } from "../tools/plan/hosts";
import { Plan, PlannedResource } from "../tools/plan/plan";

/** A program host's role, the standby CA told apart from the active one (both are role `ca`). */
export type LabRole =
  "ca" | "standby-ca" | "compile-master" | "puppetdb" | "database" | "database-replica" | "agent";

export interface PlannedHost {
  /** Network namespace (and directory) of the host. */
  readonly ns: string;
  readonly certname: string;
  readonly role: LabRole;
  readonly site: string;
  readonly address: string;
  /** The host's rendered cloud-init user data, for the program's hosts. */
  readonly userData?: string;
}

export interface LabSite {
  readonly name: string;
  readonly cidr: string;
  readonly srvDomain: string;
  /** The site's router: its gateway to the other sites' VPCs. */
  readonly routerAddress: string;
  /** The site's DNS server, where AWS puts the VPC resolver: the VPC's base + 2. */
  readonly dnsAddress: string;
  /** `[main]` settings of an agent in this site (a stack output). */
  readonly agentPuppetConf: string;
}

export interface SrvTarget {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}

/** What one site's DNS server answers. */
export interface Zone {
  readonly a: ReadonlyMap<string, readonly string[]>;
  readonly srv: ReadonlyMap<string, readonly SrvTarget[]>;
}

export interface LabTopology {
  readonly domain: string;
  readonly primarySite: string;
  readonly sites: readonly LabSite[];
  readonly hosts: readonly PlannedHost[];
  /** Per site name. */
  readonly zones: ReadonlyMap<string, Zone>;
  /** Every object the plans upload to the sites' script stores. */
  readonly scripts: readonly StoredObject[];
}

/** An S3 object a plan uploads, as hosts fetch it. */
export interface StoredObject {
  readonly bucket: string;
  readonly key: string;
  readonly content: string;
}

const INSTANCE = "aws:ec2/instance:Instance";
const RECORD = "aws:route53/record:Record";
const OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2";

function offset(cidr: string, n: number): string {
  return Address4.fromBigInt(new Address4(cidr).startAddress().bigInt() + BigInt(n)).address;
}

function str(value: unknown, what: string): string {
  if (typeof value !== "string" || value === "") throw new Error(`plan: ${what} is missing`);
  return value;
}

/** `master-1.site-a.<domain>` -> `pml-site-a-master-1`: short, unique, readable in `ip netns`. */
export function namespaceOf(site: string, certname: string): string {
  return `pml-${site}-${certname.split(".")[0]}`;
}

export function parseSrv(value: string): SrvTarget {
  const [priority, weight, port, target] = value.split(" ");
  return { priority: Number(priority), weight: Number(weight), port: Number(port), target };
}

export interface TopologyOptions {
  /** Agents per site. Default 2. */
  readonly agentsPerSite?: number;
  /** Agents in the primary site that join later (a new agent; a rogue one). Default 2. */
  readonly spareAgents?: number;
}

export function labTopology(plans: readonly Plan[], options: TopologyOptions = {}): LabTopology {
  const agentsPerSite = options.agentsPerSite ?? 2;
  if (plans.length === 0) throw new Error("the lab needs the plan of at least one stack");
  const domain = str(plans[0].outputs.domain, "output domain");
  const primary = plans.find((p) => p.outputs.role === "primary");
  if (!primary)
    throw new Error("the lab needs the plan of the primary stack (the one with the CA)");

  const sites: LabSite[] = plans.map((p) => {
    const cidr = str(p.outputs.vpcCidr, "output vpcCidr");
    return {
      name: str(p.outputs.site, "output site"),
      cidr,
      srvDomain: str(p.outputs.srvDomain, "output srvDomain"),
      routerAddress: offset(cidr, 65534),
      dnsAddress: offset(cidr, 2),
      agentPuppetConf: str(p.outputs.agentPuppetConf, "output agentPuppetConf"),
    };
  });

  // Every record with the site whose stack creates it.
  const records = plans.flatMap((p) =>
    p.resources
      .filter((r) => r.type === RECORD)
      .map((r) => ({ owner: p.outputs.site as string, r })),
  );
  const addressOf = new Map<string, string>();
  for (const { r } of records) {
    const values = r.inputs.records as string[] | undefined;
    if (r.inputs.type === "A" && values?.length) addressOf.set(r.inputs.name as string, values[0]);
  }

  // A CA outside the primary site is the failover site's standby.
  const roleOf = (role: string, site: string): LabRole =>
    role === "ca" && site !== primary.outputs.site ? "standby-ca" : (role as LabRole);
  const hosts: PlannedHost[] = plans.flatMap((p) =>
    p.resources
      .filter((r) => r.type === INSTANCE)
      .map((r: PlannedResource): PlannedHost => {
        const tags = hostTags(r)!;
        const certname = str(tags.name, `Name tag of ${r.name}`);
        const site = str(tags.site, `${SITE_TAG} tag of ${r.name}`);
        const address = addressOf.get(certname);
        if (!address) throw new Error(`plan: no A record for ${certname}`);
        return {
          ns: namespaceOf(site, certname),
          certname,
          role: roleOf(str(tags.role, `${ROLE_TAG} tag of ${r.name}`), site),
          site,
          address,
          userData: instanceUserData(r.inputs),
        };
      }),
  );

  const primarySite = sites.find((s) => s.name === primary.outputs.site)!;
  const databaseName = str(primary.outputs.databaseHost, "output databaseHost of the primary");
  hosts.push({
    ns: namespaceOf(primarySite.name, "database"),
    certname: databaseName,
    role: "database",
    site: primarySite.name,
    address: offset(primarySite.cidr, 0x8000 + 200),
  });
  // The failover site's read replica, under its RDS endpoint name: a role of its own, so the
  // database is still the primary's.
  for (const p of plans) {
    const name = p.outputs.databaseReplicaHost;
    if (name === undefined) continue;
    const site = sites.find((s) => s.name === p.outputs.site)!;
    hosts.push({
      ns: namespaceOf(site.name, "database"),
      certname: str(name, `output databaseReplicaHost of ${site.name}`),
      role: "database-replica",
      site: site.name,
      address: offset(site.cidr, 0x8000 + 200),
    });
  }
  for (let i = 1; i <= (options.spareAgents ?? 2); i++) {
    const certname = `spare-${i}.${primarySite.srvDomain}`;
    hosts.push({
      ns: namespaceOf(primarySite.name, certname),
      certname,
      role: "agent",
      site: primarySite.name,
      address: offset(primarySite.cidr, 0xc000 + 100 + i),
    });
  }
  // One agent that joins later in every other site: a new node while the primary is lost.
  for (const site of sites.filter((s) => s !== primarySite)) {
    const certname = `spare-1.${site.srvDomain}`;
    hosts.push({
      ns: namespaceOf(site.name, certname),
      certname,
      role: "agent",
      site: site.name,
      address: offset(site.cidr, 0xc000 + 101),
    });
  }
  for (const site of sites) {
    for (let i = 1; i <= agentsPerSite; i++) {
      const certname = `agent-${i}.${site.srvDomain}`;
      hosts.push({
        ns: namespaceOf(site.name, certname),
        certname,
        role: "agent",
        site: site.name,
        address: offset(site.cidr, 0xc000 + 10 + i),
      });
    }
  }

  const zones = new Map<string, Zone>();
  for (const site of sites) {
    const a = new Map<string, string[]>();
    for (const h of hosts) a.set(h.certname, [h.address]);
    const srv = new Map<string, SrvTarget[]>();
    for (const { owner, r } of records) {
      const name = r.inputs.name as string;
      if (r.inputs.type === "SRV") srv.set(name, (r.inputs.records as string[]).map(parseSrv));
      if (r.inputs.aliases === undefined) continue;
      // An alias to the owner's load balancer: its masters. A latency record answers with the
      // asking site's own pool, so only that site's record counts in its zone.
      if (r.inputs.setIdentifier !== undefined && owner !== site.name) continue;
      a.set(
        name,
        hosts.filter((h) => h.site === owner && h.role === "compile-master").map((h) => h.address),
      );
    }
    zones.set(site.name, { a, srv });
  }
  const scripts = plans.flatMap((p) =>
    p.resources
      .filter((r) => r.type === OBJECT)
      .map((r) => ({
        bucket: str(r.inputs.bucket, `bucket of ${r.name}`),
        key: str(r.inputs.key, `key of ${r.name}`),
        content: str(r.inputs.content, `content of ${r.name}`),
      })),
  );
  return { domain, primarySite: primarySite.name, sites, hosts, zones, scripts };
}

/** The smallest CIDR holding all of `cidrs` (the lab's own prefixes: who may reach its database). */
export function coveringCidr(cidrs: readonly string[]): string {
  const starts = cidrs.map((c) => new Address4(c).startAddress().bigInt());
  const ends = cidrs.map((c) => new Address4(c).endAddress().bigInt());
  for (let prefix = 32; prefix >= 0; prefix--) {
    const size = 1n << BigInt(32 - prefix);
    const base = (starts[0] / size) * size;
    if (starts.every((s) => s >= base) && ends.every((e) => e < base + size)) {
      return `${Address4.fromBigInt(base).address}/${prefix}`;
    }
  }
  return "0.0.0.0/0";
}

// What a reviewer of a topology change looks at, read from one stack's plan: the site, its CA (the
// active one, or a secondary's standby), its pool of compile masters, its PuppetDB, its database or
// the replica of it, its zone, and the records agents use to find the masters (SRV, and
// latency-routed names for agents without SRV).
import { hostTags } from "../plan/hosts";
import { Plan, PlannedResource } from "../plan/plan";

export interface DnsRecordView {
  /** Name, type and set identifier: what tells two records apart. */
  readonly key: string;
  readonly name: string;
  readonly type: string;
  /** One line per value: SRV lines as in a zone file, or where a latency record points. */
  readonly values: readonly string[];
}

export interface SiteView {
  readonly stack: string;
  readonly site: string;
  readonly region: string;
  readonly role: string;
  readonly vpcCidr?: string;
  /** The active CA's host: a CA in the primary's stack. */
  readonly ca?: string;
  /** The standby CA's host: a CA in a secondary's stack, which signs only once promoted. */
  readonly standbyCa?: string;
  readonly pool?: string;
  readonly masters: readonly string[];
  readonly puppetdb: readonly string[];
  /** The database of record: an instance that replicates nothing (a promoted replica too). */
  readonly database?: { readonly engine: string; readonly instanceClass: string };
  /** A read replica of the primary's database (its engine and version are the source's). */
  readonly databaseReplica?: { readonly instanceClass: string };
  readonly zone?: string;
  readonly records: readonly DnsRecordView[];
}

const RECORD = "aws:route53/record:Record";

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function hostsWithRole(plan: Plan, role: string): string[] {
  return plan.resources
    .map(hostTags)
    .filter((host) => host?.role === role)
    .map((host) => String(host?.name))
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
}

/** Where a latency record sends agents: the load balancer it aliases, by its logical name. */
function latencyValues(r: PlannedResource, byUrn: ReadonlyMap<string, PlannedResource>): string[] {
  const policies = (r.inputs.latencyRoutingPolicies as { region?: unknown }[] | undefined) ?? [];
  const region = policies.map((p) => text(p.region)).join(", ");
  const targets = (r.inputs.aliases as { name?: unknown; evaluateTargetHealth?: unknown }[]) ?? [];
  // Plans of any age list what a record depends on; the balancer's name is stabler than its DNS name.
  const balancers = r.dependencies
    .map((u) => byUrn.get(u))
    .filter((x) => x?.type === "aws:lb/loadBalancer:LoadBalancer")
    .map((x) => x!.name);
  const alias = targets.map((t) => {
    const health = t.evaluateTargetHealth === true ? ", target health" : "";
    return `alias of ${balancers[0] ?? text(t.name) ?? "?"}${health}`;
  });
  const records = ((r.inputs.records as unknown[] | undefined) ?? []).map(String);
  return [`latency ${region} → ${[...alias, ...records].join(", ")}`];
}

function dnsRecords(plan: Plan): DnsRecordView[] {
  const byUrn = new Map(plan.resources.map((r) => [r.urn, r]));
  return plan.resources
    .filter((r) => r.type === RECORD)
    .filter((r) => r.inputs.type === "SRV" || r.inputs.latencyRoutingPolicies !== undefined)
    .map((r) => {
      const name = String(r.inputs.name);
      const type = String(r.inputs.type);
      const setId = text(r.inputs.setIdentifier);
      return {
        key: [name, type, setId ?? ""].join(" "),
        name,
        type: setId ? `${type} (${setId})` : type,
        values:
          r.inputs.latencyRoutingPolicies !== undefined
            ? latencyValues(r, byUrn)
            : ((r.inputs.records as unknown[] | undefined) ?? []).map(String),
      };
    })
    .sort((a, b) => a.key.localeCompare(b.key));
}

/** The site a stack's plan describes; undefined when the plan has no site outputs. */
export function siteView(plan: Plan): SiteView | undefined {
  const out = plan.outputs;
  const site = text(out.site);
  if (site === undefined) return undefined;
  const instances = plan.resources.filter((r) => r.type === "aws:rds/instance:Instance");
  const rds = instances.find((r) => r.inputs.replicateSourceDb === undefined);
  const replica = instances.find((r) => r.inputs.replicateSourceDb !== undefined);
  const zone = plan.resources.find((r) => r.type === "aws:route53/zone:Zone");
  const role = text(out.role) ?? "?";
  // A secondary's CA is the standby: the active CA is the primary's.
  const ca = hostsWithRole(plan, "ca")[0];
  return {
    stack: plan.stack,
    site,
    region: text(out.region) ?? "?",
    role,
    vpcCidr: text(out.vpcCidr),
    ca: role === "secondary" ? undefined : ca,
    standbyCa: role === "secondary" ? ca : undefined,
    pool: text(out.poolHost),
    masters: hostsWithRole(plan, "compile-master"),
    puppetdb: hostsWithRole(plan, "puppetdb"),
    database: rds
      ? {
          // A promoted replica names no engine: it took its source's.
          engine:
            rds.inputs.engine === undefined
              ? "promoted replica"
              : `${text(rds.inputs.engine)} ${text(rds.inputs.engineVersion) ?? ""}`.trim(),
          instanceClass: text(rds.inputs.instanceClass) ?? "?",
        }
      : undefined,
    databaseReplica: replica
      ? { instanceClass: text(replica.inputs.instanceClass) ?? "?" }
      : undefined,
    zone: text(zone?.inputs.name),
    records: dnsRecords(plan),
  };
}

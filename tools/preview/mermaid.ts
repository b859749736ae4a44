// A Mermaid flowchart of every site after a change: the CA and the standby CA (once the CA records
// list the standby first, it is drawn promoted and the other fenced), each pool with its size, each
// PuppetDB, the database, its replica and the zone, and where agents are sent: the edges come from
// the planned SRV and latency records, so the cross-site fallback drawn is the one the records make.
// What the change alters is marked (new, changed, removed) and shows its value before.
import { SiteView } from "./topology";

export interface SitePair {
  readonly before?: SiteView;
  readonly after?: SiteView;
}

/** Text inside a quoted Mermaid label: quotes and angle brackets as Mermaid's entity codes. */
function label(...lines: string[]): string {
  const escaped = lines.map((l) =>
    l.replace(/"/g, "#quot;").replace(/</g, "#lt;").replace(/>/g, "#gt;"),
  );
  return `"${escaped.join("<br/>")}"`;
}

function id(...parts: string[]): string {
  return parts.join("_").replace(/[^A-Za-z0-9_]/g, "_");
}

/** "3" or "2 → 3". */
function was<T>(after: T, before: T | undefined, show: (v: T) => string = String): string {
  return before === undefined || show(before) === show(after)
    ? show(after)
    : `${show(before)} → ${show(after)}`;
}

/**
 * The CAs that the sites' `_x-puppet-ca._tcp` records list first: the CA that signs, once a
 * promotion is recorded the failover site's.
 */
function firstCas(views: readonly (SiteView | undefined)[]): Set<string> {
  return new Set(
    views.flatMap((v) =>
      (v?.records ?? [])
        .filter((r) => r.name.startsWith("_x-puppet-ca."))
        .flatMap((r) => r.values.flatMap((x) => /^0\s+\d+\s+\d+\s+(\S+?)\.?$/.exec(x)?.[1] ?? [])),
    ),
  );
}

export function renderMermaid(pairs: readonly SitePair[]): string {
  const lines = ["flowchart LR"];
  const classes: Record<"added" | "changed" | "removed", string[]> = {
    added: [],
    changed: [],
    removed: [],
  };
  /** Node id of the pool, CA or host a DNS target names, in any site. */
  const targets = new Map<string, string>();
  const node = (
    nodeId: string,
    shape: [string, string],
    text: string,
    state: keyof typeof classes | undefined,
  ) => {
    lines.push(`    ${nodeId}${shape[0]}${text}${shape[1]}`);
    if (state) classes[state].push(nodeId);
  };

  const firstAfter = firstCas(pairs.map((p) => p.after ?? p.before));
  const firstBefore = firstCas(pairs.map((p) => p.before));
  /** The standby CA's label: promoted when the CA records list it first. */
  const standbyLabel = (host: string, first: Set<string>) =>
    first.has(host) ? "promoted Puppet CA" : "standby Puppet CA";
  /** The primary's CA's label: fenced when the records list another CA first. */
  const caLabel = (host: string, first: Set<string>) =>
    first.size > 0 && !first.has(host) ? "fenced Puppet CA" : "Puppet CA";
  for (const { before, after } of pairs) {
    const view = after ?? before!;
    const siteState = !before ? "added" : !after ? "removed" : undefined;
    const s = (kind: string) => id(view.site, kind);
    // What the site had no value for before is new in it (a standby CA, a replica, a PuppetDB).
    const changed = (a: unknown, b: unknown) =>
      siteState ??
      (b === undefined ? "added" : JSON.stringify(a) !== JSON.stringify(b) ? "changed" : undefined);
    const heading = [view.site, view.region, view.vpcCidr, view.role].filter(Boolean).join(" · ");
    lines.push(`  subgraph ${s("site")}[${label(heading)}]`);
    if (view.ca) {
      const role = caLabel(view.ca, firstAfter);
      const was = before?.ca && caLabel(before.ca, firstBefore);
      node(
        s("ca"),
        ["[", "]"],
        label(role, view.ca),
        changed([view.ca, role], before?.ca && [before.ca, was]),
      );
      targets.set(view.ca, s("ca"));
    }
    if (view.standbyCa) {
      const role = standbyLabel(view.standbyCa, firstAfter);
      const was = before?.standbyCa && standbyLabel(before.standbyCa, firstBefore);
      const state = changed([view.standbyCa, role], before?.standbyCa && [before.standbyCa, was]);
      node(s("standby_ca"), ["[", "]"], label(role, view.standbyCa), state);
      targets.set(view.standbyCa, s("standby_ca"));
    }
    if (view.pool) {
      const size = was(view.masters.length, before?.masters.length);
      const poolState = changed(view.masters, before?.masters);
      node(s("pool"), ["[", "]"], label(`compile masters: ${size}`, view.pool), poolState);
      for (const host of [view.pool, ...view.masters]) targets.set(host, s("pool"));
    }
    view.puppetdb.forEach((host, i) => {
      const state = changed(host, before?.puppetdb[i]);
      node(s(`puppetdb${i}`), ["[", "]"], label("PuppetDB", host), state);
    });
    if (view.database) {
      const engine = was(view.database.engine, before?.database?.engine);
      const cls = was(view.database.instanceClass, before?.database?.instanceClass);
      const state = changed(view.database, before?.database);
      node(s("db"), ["[(", ")]"], label(`RDS ${engine}`, cls), state);
    }
    if (view.databaseReplica) {
      const replica = view.databaseReplica;
      const cls = was(replica.instanceClass, before?.databaseReplica?.instanceClass);
      const state = changed(replica, before?.databaseReplica);
      node(s("db_replica"), ["[(", ")]"], label("RDS read replica", cls), state);
    }
    if (view.zone) {
      node(
        s("zone"),
        ["{{", "}}"],
        label("private zone", view.zone),
        changed(view.zone, before?.zone),
      );
    }
    lines.push("  end");
  }

  const database = pairs.map((p) => p.after ?? p.before!).find((v) => v.database);
  for (const { before, after } of pairs) {
    const view = after ?? before!;
    const agents = id(view.site, "agents");
    // The domain the site's agents look their SRV records up under (their srv_domain).
    const srvDomain = view.records
      .map((r) => /^_x-puppet\._tcp\.(.+)$/.exec(r.name)?.[1])
      .find((d) => d !== undefined);
    const agentLines = [
      `agents of ${view.site}`,
      ...(srvDomain ? [`srv_domain ${srvDomain}`] : []),
    ];
    lines.push(`  ${agents}([${label(...agentLines)}])`);
    for (const record of view.records) {
      const srv = record.values
        .map((v) => /^(\d+)\s+\d+\s+\d+\s+(\S+?)\.?$/.exec(v))
        .filter((m): m is RegExpExecArray => m !== null);
      const byTarget = new Map<string, number>();
      for (const [, priority, host] of srv) {
        const target = targets.get(host);
        if (target && !byTarget.has(target)) byTarget.set(target, Number(priority));
      }
      const service = record.name.split(".")[0];
      for (const [target, priority] of byTarget) {
        const edge =
          priority === 0
            ? `-- ${label(`${service} p${priority}`)} -->`
            : `-. ${label(`${service} p${priority}`)} .->`;
        lines.push(`  ${agents} ${edge} ${target}`);
      }
      // A latency record: agents without SRV are sent to the nearest site's pool.
      if (srv.length === 0 && view.pool) {
        const edge = `-- ${label(`${record.name} by latency`)} -->`;
        lines.push(`  ${agents} ${edge} ${id(view.site, "pool")}`);
      }
    }
    // A site's PuppetDB writes to its own site's database of record (the primary's, or a promoted
    // replica), else the primary's, and reads from its site's replica.
    const writes = view.database ? view : database;
    view.puppetdb.forEach((_, i) => {
      const puppetdb = id(view.site, `puppetdb${i}`);
      if (writes) lines.push(`  ${puppetdb} --> ${id(writes.site, "db")}`);
      if (view.databaseReplica) {
        lines.push(`  ${puppetdb} -- ${label("reads")} --> ${id(view.site, "db_replica")}`);
      }
    });
    if (view.databaseReplica) {
      const replica = id(view.site, "db_replica");
      if (database) {
        lines.push(`  ${id(database.site, "db")} -. ${label("replication")} .-> ${replica}`);
      }
    }
  }

  lines.push(
    "  classDef added fill:#dafbe1,stroke:#1a7f37",
    "  classDef changed fill:#fff8c5,stroke:#9a6700",
    "  classDef removed fill:#ffebe9,stroke:#cf222e,stroke-dasharray:4 4",
  );
  for (const [cls, ids] of Object.entries(classes)) {
    if (ids.length > 0) lines.push(`  class ${ids.join(",")} ${cls}`);
  }
  return lines.join("\n");
}

import { JSDOM } from "jsdom";
import { beforeAll, describe, expect, it } from "vitest";
import { Plan } from "../../../tools/plan/plan";
import { renderMermaid, SitePair } from "../../../tools/preview/mermaid";
import { SiteView, siteView } from "../../../tools/preview/topology";
import { planDeployment, planFailoverSite } from "./helpers";

type Mermaid = (typeof import("mermaid"))["default"];
let mermaid: Mermaid;
let base: Map<string, Plan>;
let bigger: Map<string, Plan>;

function pairs(before: Map<string, Plan> | undefined, after: Map<string, Plan> | undefined) {
  return ["site-a", "site-b"].map((stack): SitePair => ({
    before: before?.get(stack) && siteView(before.get(stack)!),
    after: after?.get(stack) && siteView(after.get(stack)!),
  }));
}

/** The standby CA and replica of a planned failover site. */
async function failoverView(): Promise<SiteView> {
  return siteView(await planFailoverSite())!;
}

/** Site-b's view with the failover parts, its CA records listing the standby CA at priority 1. */
function withFailoverParts(view: SiteView, failover: SiteView): SiteView {
  const standby = `1 10 8140 ${failover.standbyCa}`;
  return {
    ...view,
    standbyCa: failover.standbyCa,
    databaseReplica: failover.databaseReplica,
    records: view.records.map((r) =>
      r.name.startsWith("_x-puppet-ca.") && !r.values.includes(standby)
        ? { ...r, values: [...r.values, standby] }
        : r,
    ),
  };
}

beforeAll(async () => {
  base = await planDeployment();
  bigger = await planDeployment({ "site-b": { masters: { count: 3 } } });
  // Mermaid sanitizes labels with DOMPurify, which needs a DOM when mermaid is first imported.
  const { window } = new JSDOM("");
  Object.assign(globalThis, { window, document: window.document });
  mermaid = (await import("mermaid")).default;
});

describe("renderMermaid", () => {
  it("draws both sites, each pool's agents and their fallback from the SRV records", async () => {
    const text = renderMermaid(pairs(base, base));
    await expect(mermaid.parse(text)).resolves.toMatchObject({ diagramType: "flowchart-v2" });
    expect(text).toContain('site_a_agents -- "_x-puppet p0" --> site_a_pool');
    expect(text).toContain('site_a_agents -. "_x-puppet p1" .-> site_b_pool');
    expect(text).toContain('site_b_agents -. "_x-puppet p1" .-> site_a_pool');
    expect(text).toContain('site_b_agents -- "_x-puppet-ca p0" --> site_a_ca');
    expect(text).toContain("site_b_puppetdb0 --> site_a_db");
    expect(text).toContain('site_a_db[("RDS postgres 15<br/>db.m6g.large")]');
    expect(text).toContain(
      'site_b_agents(["agents of site-b<br/>srv_domain site-b.puppet.example.internal"])',
    );
    expect(text).not.toMatch(/^\s*class /m);
  });

  it("marks what changes and shows its size before", async () => {
    const text = renderMermaid(pairs(base, bigger));
    await expect(mermaid.parse(text)).resolves.toMatchObject({ diagramType: "flowchart-v2" });
    expect(text).toContain(
      'site_b_pool["compile masters: 2 → 3<br/>pool.site-b.puppet.example.internal"]',
    );
    expect(text).toMatch(/^ {2}class site_b_pool changed$/m);
  });

  it("draws a site that the change removes as removed", async () => {
    const text = renderMermaid([
      { before: siteView(base.get("site-a")!), after: siteView(base.get("site-a")!) },
      { before: siteView(base.get("site-b")!) },
    ]);
    await expect(mermaid.parse(text)).resolves.toMatchObject({ diagramType: "flowchart-v2" });
    expect(text).toMatch(
      /^ {2}class site_b_standby_ca,site_b_pool,site_b_puppetdb0,site_b_db_replica removed$/m,
    );
  });

  it("draws a secondary's standby CA and its database replica, fed by the primary's database", async () => {
    const text = renderMermaid([
      { before: siteView(base.get("site-a")!), after: siteView(base.get("site-a")!) },
      { after: withFailoverParts(siteView(base.get("site-b")!)!, await failoverView()) },
    ]);
    await expect(mermaid.parse(text)).resolves.toMatchObject({ diagramType: "flowchart-v2" });
    expect(text).toContain('site_a_ca["Puppet CA<br/>ca.puppet.example.internal"]');
    expect(text).toContain(
      'site_b_standby_ca["standby Puppet CA<br/>ca.site-b.puppet.example.internal"]',
    );
    expect(text).toContain('site_b_agents -. "_x-puppet-ca p1" .-> site_b_standby_ca');
    expect(text).toContain('site_b_db_replica[("RDS read replica<br/>db.m6g.large")]');
    expect(text).toContain('site_a_db -. "replication" .-> site_b_db_replica');
    // Its PuppetDB writes to the primary's database and reads from the replica of its region.
    expect(text).toContain("site_b_puppetdb0 --> site_a_db");
    expect(text).toContain('site_b_puppetdb0 -- "reads" --> site_b_db_replica');
    expect(text).not.toContain('site_a_puppetdb0 -- "reads"');
  });

  it("draws a recorded database promotion: the failover site's PuppetDB writes to its promoted replica", async () => {
    const edit = { database: { active: "failover" } };
    const promoted = await planDeployment({ "site-a": edit, "site-b": edit });
    const text = renderMermaid(pairs(base, promoted));
    await expect(mermaid.parse(text)).resolves.toMatchObject({ diagramType: "flowchart-v2" });
    expect(text).toContain('site_b_db[("RDS promoted replica<br/>db.m6g.large")]');
    expect(text).toContain("site_b_puppetdb0 --> site_b_db");
    expect(text).not.toContain("site_b_puppetdb0 --> site_a_db");
    expect(text).not.toContain("replication");
    // The primary site's PuppetDB is still configured with the old database.
    expect(text).toContain("site_a_puppetdb0 --> site_a_db");
  });

  it("draws a recorded promotion: the standby promoted and first, the primary's CA fenced", async () => {
    const edit = { certificates: { activeCa: "failover" } };
    const promoted = await planDeployment({ "site-a": edit, "site-b": edit });
    const text = renderMermaid(pairs(base, promoted));
    await expect(mermaid.parse(text)).resolves.toMatchObject({ diagramType: "flowchart-v2" });
    expect(text).toContain(
      'site_b_standby_ca["promoted Puppet CA<br/>ca.site-b.puppet.example.internal"]',
    );
    expect(text).toContain('site_a_ca["fenced Puppet CA<br/>ca.puppet.example.internal"]');
    expect(text).toContain('site_a_agents -- "_x-puppet-ca p0" --> site_b_standby_ca');
    expect(text).toContain('site_b_agents -. "_x-puppet-ca p1" .-> site_a_ca');
    expect(text).toMatch(/^ {2}class site_a_ca,site_b_standby_ca changed$/m);
    // Without the setting the same standby is drawn as the standby.
    expect(renderMermaid(pairs(base, base))).toContain(
      'site_b_standby_ca["standby Puppet CA<br/>ca.site-b.puppet.example.internal"]',
    );
  });

  it("marks a new standby CA and replica as added, and a replica's new class as changed", async () => {
    const before = siteView(base.get("site-b")!)!;
    const failover = await failoverView();
    const after = withFailoverParts(before, failover);
    const added = renderMermaid([
      { before: { ...before, standbyCa: undefined, databaseReplica: undefined }, after },
    ]);
    expect(added).toMatch(/^ {2}class site_b_standby_ca,site_b_db_replica added$/m);
    const larger = withFailoverParts(before, {
      ...failover,
      databaseReplica: { instanceClass: "db.m6g.xlarge" },
    });
    const text = renderMermaid([{ before: after, after: larger }]);
    await expect(mermaid.parse(text)).resolves.toMatchObject({ diagramType: "flowchart-v2" });
    expect(text).toContain(
      'site_b_db_replica[("RDS read replica<br/>db.m6g.large → db.m6g.xlarge")]',
    );
    expect(text).toMatch(/^ {2}class site_b_db_replica changed$/m);
  });

  it("escapes what would end a label", async () => {
    const view = siteView(base.get("site-b")!)!;
    const text = renderMermaid([{ after: { ...view, pool: 'pool "b" <x>' } }]);
    await expect(mermaid.parse(text)).resolves.toMatchObject({ diagramType: "flowchart-v2" });
    expect(text).toContain("pool #quot;b#quot; #lt;x#gt;");
  });

  it("uses a parser that rejects a broken diagram", async () => {
    const broken = renderMermaid(pairs(base, base)).replace("  end\n", "\n");
    await expect(mermaid.parse(broken)).rejects.toThrow(/Parse error/);
  });
});

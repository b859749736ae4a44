import { JSDOM } from "jsdom";
import { beforeAll, describe, expect, it } from "vitest";
import { Plan } from "../../../tools/plan/plan";
import { renderMermaid, SitePair } from "../../../tools/preview/mermaid";
import { siteView } from "../../../tools/preview/topology";
import { planDeployment } from "./helpers";

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
    expect(text).toMatch(/^ {2}class site_b_pool,site_b_puppetdb0 removed$/m);
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

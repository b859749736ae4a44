import { Tokens, lexer } from "marked";
import { beforeAll, describe, expect, it } from "vitest";
import { Plan } from "../../../tools/plan/plan";
import { destructions, renderReport, StackComparison } from "../../../tools/preview/report";
import { compare, planDeployment } from "./helpers";

let base: Map<string, Plan>;

beforeAll(async () => {
  base = await planDeployment();
});

function report(stacks: StackComparison[], allowDestroy = false): string {
  return renderReport({ base: "`main` (1234567)", head: "the working tree", stacks, allowDestroy });
}

/** The tables of a Markdown text as a renderer sees them: header and rows of cell texts. */
function tables(markdown: string): { header: string[]; rows: string[][] }[] {
  return lexer(markdown)
    .filter((t): t is Tokens.Table => t.type === "table")
    .map((t) => ({
      header: t.header.map((c) => c.text),
      rows: t.rows.map((row) => row.map((c) => c.text)),
    }));
}

function tableWith(markdown: string, firstHeader: string, secondHeader?: string) {
  const found = tables(markdown).filter(
    (t) => t.header[0] === firstHeader && (!secondHeader || t.header[1] === secondHeader),
  );
  expect(found.length).toBeGreaterThan(0);
  return found;
}

describe("renderReport", () => {
  it("one more master: counts per stack, the SRV record before and after, the pool's new size", async () => {
    const md = report(compare(base, await planDeployment({ "site-b": { masters: { count: 3 } } })));
    expect(md).not.toContain("[!CAUTION]");
    const [counts] = tableWith(md, "stack", "create");
    expect(counts.header).toEqual(["stack", "create", "update", "replace", "delete", "unchanged"]);
    expect(counts.rows.map((r) => r[0])).toEqual(["site-a", "site-b"]);
    expect(counts.rows[0].slice(1, 5)).toEqual(["0", "0", "0", "0"]);
    expect(Number(counts.rows[1][1])).toBeGreaterThanOrEqual(8);

    const records = tableWith(md, "record");
    expect(records).toHaveLength(2);
    const srv = records[1].rows.find(
      (r) => r[0] === "`_x-puppet._tcp.site-b.puppet.example.internal`",
    )!;
    expect(srv[2]).not.toContain("master-3");
    expect(srv[3]).toContain("0 10 8140 master-3.site-b.puppet.example.internal");
    expect(srv[3]).toContain("1 10 8140 pool.site-a.puppet.example.internal");
    expect(srv[4]).toBe("+ 0 10 8140 master-3.site-b.puppet.example.internal");
    const latency = records[1].rows.find((r) => r[1] === "A (site-b)")!;
    expect(latency[3]).toMatch(/^latency eu-west-1 → alias of site-b-masters-nlb/);
    expect(latency[4]).toBe("");

    const [changes] = tableWith(md, "action");
    expect(changes.rows).toContainEqual([
      "+ create",
      "`site-b-masters-3-instance`",
      "`aws:ec2/instance:Instance`",
      "",
    ]);
    expect(md).toContain("compile masters: 2 → 3");
  });

  it("a new domain: stateful replacements come first, under a warning, and fail the preview", async () => {
    const edit = { domain: "puppet.example.org" };
    const stacks = compare(base, await planDeployment({ "site-a": edit, "site-b": edit }));
    const md = report(stacks);
    const tokens = lexer(md).filter((t) => t.type !== "space");
    expect(tokens[0]).toMatchObject({ type: "heading", text: "Topology preview" });
    expect(tokens[2]).toMatchObject({ type: "blockquote" });
    expect(tokens[2].raw).toContain("[!CAUTION]");
    expect(tokens[2].raw).toContain("--allow-destroy");
    expect(tokens[3]).toMatchObject({
      type: "heading",
      text: "Stateful resources replaced or deleted",
    });
    const [lost] = tableWith(md, "stack", "action");
    expect(lost.rows.map((r) => r[2])).toEqual(
      destructions(stacks).map((d) => `\`${d.change.name}\``),
    );
    const zone = lost.rows.find((r) => r[2] === "`site-a-dns-zone`")!;
    expect(zone[1]).toBe("± replace");
    expect(zone[3]).toMatch(/hosted zone/);
    expect(zone[4]).toContain("`name` **(forces replacement)**");
    expect(zone[5]).toMatch(/^yes/);
    expect(report(stacks, true)).toContain("Allowed with `--allow-destroy`.");
  });

  it("a stack that no longer plans is reported, not compared", () => {
    const md = report([
      { stack: "site-b", headError: "masters.count must be between 0 and 50, got: 99" },
    ]);
    expect(md).toContain("> The plan fails for site-b.");
    expect(md).toContain("**The plan fails:** masters.count must be between 0 and 50, got: 99");
    expect(tableWith(md, "stack")[0].rows).toEqual([["site-b", "plan fails", "", "", "", ""]]);
  });

  it("keeps a table a table whatever the values hold", () => {
    const stacks: StackComparison[] = [
      {
        stack: "site-a",
        diff: {
          stack: "site-a",
          unchanged: 0,
          changes: [
            {
              kind: "update",
              urn: "urn:pulumi:site-a::p::aws:ec2/vpc:Vpc::a|b",
              type: "aws:ec2/vpc:Vpc",
              name: "a|b",
              properties: [
                {
                  property: "tags",
                  before: { x: "1|2" },
                  after: { x: "`3`\n4" },
                  forcesReplacement: false,
                },
              ],
              protect: false,
              custom: true,
            },
          ],
        },
      },
    ];
    const [changes] = tableWith(report(stacks), "action");
    expect(changes.header).toHaveLength(4);
    expect(changes.rows).toHaveLength(1);
    expect(changes.rows[0]).toHaveLength(4);
    expect(changes.rows[0][1]).toBe("`a|b`");
  });

  it("names what a record gains and loses, however many values it has", async () => {
    const stacks = compare(
      await planDeployment({ "site-a": { masters: { count: 250 } } }),
      await planDeployment({ "site-a": { masters: { count: 249 } } }),
    );
    const md = report(stacks);
    // One master fewer in the largest pool still fits a pull-request comment.
    expect(md.length).toBeLessThan(65_536);
    const srv = tableWith(md, "record")[0].rows.find((r) =>
      r[0].includes("_x-puppet._tcp.site-a"),
    )!;
    expect(srv[4]).toBe("− 0 10 8140 master-250.site-a.puppet.example.internal");
    expect(srv[2]).toMatch(/^0 10 8140 master-1\.site-a\.puppet\.example\.internal<br>/);
    expect(srv[2]).toMatch(/… 239 more \(251 in all\)$/);
  });

  it("fits in a size when asked, with less detail, the warning whole, and says so", async () => {
    const edit = { domain: "puppet.example.org" };
    const stacks = compare(base, await planDeployment({ "site-a": edit, "site-b": edit }));
    const full = report(stacks);
    const maxChars = Math.floor(full.length / 4);
    const md = renderReport({ base: "b", head: "h", stacks, allowDestroy: false, maxChars });
    expect(md.length).toBeLessThanOrEqual(maxChars);
    expect(md).toContain(`Shortened to fit a pull-request comment (${maxChars} characters)`);
    expect(full).not.toContain("Shortened");
    const warning = (text: string) =>
      lexer(text).filter((t) => t.type === "blockquote" && t.raw.includes("[!CAUTION]"))[0]?.raw;
    expect(warning(full)).toContain("--allow-destroy");
    expect(warning(md)).toBe(warning(full));
    const rows = (text: string, first: string, second: string) =>
      tableWith(text, first, second)[0].rows.map((r) => r.join("|"));
    expect(rows(md, "stack", "create")).toEqual(rows(full, "stack", "create"));
    expect(rows(md, "stack", "action")).toEqual(rows(full, "stack", "action"));
    expect(md).toContain("more: `npm run preview:diff` shows them all.");
  });
});

import { beforeAll, describe, expect, it } from "vitest";
import { Plan } from "../../../tools/plan/plan";
import { ResourceChange, StackDiff } from "../../../tools/preview/diff";
import { destructions } from "../../../tools/preview/report";
import { compare, planDeployment } from "./helpers";

let base: Map<string, Plan>;

beforeAll(async () => {
  base = await planDeployment();
});

function diffOf(stacks: ReturnType<typeof compare>, stack: string): StackDiff {
  const diff = stacks.find((s) => s.stack === stack)?.diff;
  if (!diff) throw new Error(`no diff for ${stack}`);
  return diff;
}

function named(diff: StackDiff, name: string): ResourceChange {
  const found = diff.changes.find((c) => c.name === name);
  if (!found)
    throw new Error(
      `${name} does not change; changes: ${diff.changes.map((c) => c.name).join(", ")}`,
    );
  return found;
}

describe("diffPlans", () => {
  it("finds nothing to do between two plans of the same configuration", async () => {
    const again = await planDeployment();
    const stacks = compare(base, again);
    expect(stacks.map((s) => s.stack)).toEqual(["site-a", "site-b"]);
    for (const s of stacks) {
      expect(s.diff?.changes).toEqual([]);
      expect(s.diff?.unchanged).toBe(base.get(s.stack)!.resources.length);
    }
  });

  it("one more master in site-b: a new host and its records, the SRV record updated", async () => {
    const stacks = compare(base, await planDeployment({ "site-b": { masters: { count: 3 } } }));
    expect(diffOf(stacks, "site-a").changes).toEqual([]);
    const b = diffOf(stacks, "site-b");
    expect(named(b, "site-b-masters-3").kind).toBe("create");
    expect(named(b, "site-b-masters-3-instance").kind).toBe("create");
    expect(named(b, "site-b-dns-master-3.site-b.puppet.example.internal").kind).toBe("create");
    const srv = named(b, "site-b-dns-_x-puppet._tcp.site-b.puppet.example.internal");
    expect(srv.kind).toBe("update");
    expect(srv.properties.map((p) => p.property)).toEqual(["records"]);
    expect(srv.properties[0].after).toContain("0 10 8140 master-3.site-b.puppet.example.internal");
    expect(b.changes.filter((c) => c.kind === "delete")).toEqual([]);
    // PuppetDB learns the masters from the SRV records: its host stays as it is.
    expect(b.changes.filter((c) => c.kind === "replace")).toEqual([]);
    expect(b.changes.map((c) => c.name)).not.toContain("site-b-puppetdb-instance");
    expect(destructions(stacks)).toEqual([]);
  });

  it("a new PostgreSQL major version replaces the parameter group and upgrades the database in place", async () => {
    const stacks = compare(
      base,
      await planDeployment({ "site-a": { database: { engineVersion: "16" } } }),
    );
    const a = diffOf(stacks, "site-a");
    const params = named(a, "site-a-database-params");
    expect(params.kind).toBe("replace");
    expect(params.properties).toContainEqual(
      expect.objectContaining({
        property: "family",
        before: "postgres15",
        after: "postgres16",
        forcesReplacement: true,
      }),
    );
    // RDS upgrades in place (the program allows major upgrades, in the maintenance window); the new
    // group's name is known only once it exists.
    const db = named(a, "site-a-database-postgres");
    expect(db.kind).toBe("update");
    expect(db.properties.map((p) => p.property)).toEqual(["engineVersion", "parameterGroupName"]);
    expect(db.properties[1]).toMatchObject({
      from: "site-a-database-params",
      forcesReplacement: false,
    });
    expect(destructions(stacks)).toEqual([]);
  });

  it("a new domain replaces the zone and every record in it, and names the zone as stateful", async () => {
    const stacks = compare(
      base,
      await planDeployment({
        "site-a": { domain: "puppet.example.org" },
        "site-b": { domain: "puppet.example.org" },
      }),
    );
    const zone = named(diffOf(stacks, "site-a"), "site-a-dns-zone");
    expect(zone.kind).toBe("replace");
    // Records are named by what they name: each one goes, and one under the new domain comes.
    for (const stack of ["site-a", "site-b"]) {
      const RECORD = "aws:route53/record:Record";
      const records = base
        .get(stack)!
        .resources.filter((r) => r.type === RECORD)
        .map((r) => r.name)
        .sort();
      expect(records.length, stack).toBeGreaterThan(0);
      const changed = (kind: string) =>
        diffOf(stacks, stack)
          .changes.filter((c) => c.type === RECORD && c.kind === kind)
          .map((c) => c.name)
          .sort();
      expect(changed("delete"), stack).toEqual(records);
      expect(changed("create"), stack).toEqual(
        records.map((n) => n.replaceAll("puppet.example.internal", "puppet.example.org")).sort(),
      );
    }
    expect(zone.stateful).toMatch(/hosted zone/);
    expect(zone.protect).toBe(true);
    const lost = destructions(stacks).map((d) => d.change.name);
    expect(lost).toContain("site-a-dns-zone");
    // The CA certificate names the domain: a new CA for every agent.
    expect(lost).toContain("site-a-ca-cert");
    // The CA host is replaced like any other host; its state volume stays (only its tags change).
    const caHost = named(diffOf(stacks, "site-a"), "site-a-ca-host-instance");
    expect(caHost.kind).toBe("replace");
    const volume = named(diffOf(stacks, "site-a"), "site-a-ca-host-state");
    expect(volume.kind).toBe("update");
    expect(volume.properties.map((p) => p.property)).toEqual(["tags"]);
    expect(lost).not.toContain("site-a-ca-host-state");
  });
});

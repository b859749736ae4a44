import { describe, expect, it } from "vitest";
import { Plan, PlannedResource } from "../../../tools/plan/plan";
import { diffPlans } from "../../../tools/preview/diff";
import { destructions, renderReport } from "../../../tools/preview/report";
import { statefulReason } from "../../../tools/preview/stateful";
import { planFailoverSite } from "./helpers";

const REPLICA = /^the database's replica in the failover site: a new one copies the whole database/;
const STANDBY = "the standby CA's state volume: its copy of the CA's records";
const ACTIVE = "the CA's state volume: its signing records, serial numbers and CRL";

function ofType(plan: Plan, type: string): PlannedResource {
  const found = plan.resources.filter((r) => r.type === type);
  expect(found).toHaveLength(1);
  return found[0];
}

describe("statefulReason", () => {
  it("tells the replica from the database by its source, and a promoted one is the database", async () => {
    const replica = ofType(await planFailoverSite(), "aws:rds/instance:Instance");
    expect(statefulReason(replica)).toMatch(REPLICA);
    const promoted = ofType(
      await planFailoverSite({ replica: { promoted: true } }),
      "aws:rds/instance:Instance",
    );
    expect(statefulReason(promoted)).toBe("the database: PuppetDB's reports, facts and catalogs");
  });

  it("calls a CA volume in a secondary's stack the standby's, and in the primary's the CA's", async () => {
    const volume = ofType(await planFailoverSite(), "aws:ebs/volume:Volume");
    expect(statefulReason(volume, { siteRole: "secondary" })).toMatch(new RegExp(`^${STANDBY}`));
    expect(statefulReason(volume, { siteRole: "primary" })).toBe(ACTIVE);
    expect(statefulReason(volume)).toBe(ACTIVE);
  });
});

describe("a failover site's stateful resources in the report", () => {
  it("warns before the replica and the standby CA's volume are replaced, each with what is lost", async () => {
    const before = await planFailoverSite();
    const after = await planFailoverSite({
      replica: { kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/mrk-2" },
      volumeZone: "eu-west-1b",
    });
    const stacks = [{ stack: "site-b", diff: diffPlans("site-b", before, after) }];
    const lost = destructions(stacks)
      .map(({ change: c }) => [c.name, c.kind, c.stateful])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(lost).toEqual([
      ["site-b-database-replica-postgres", "replace", expect.stringMatching(REPLICA)],
      ["site-b-standby-ca-state", "replace", expect.stringMatching(new RegExp(`^${STANDBY}`))],
    ]);
    const md = renderReport({ base: "b", head: "h", stacks, allowDestroy: false });
    expect(md).toContain("**2 stateful resources would be replaced or deleted.**");
    expect(md).toContain("`kmsKeyId` **(forces replacement)**");
    expect(md).toContain("`availabilityZone` **(forces replacement)**");
  });

  it("judges a deleted standby volume by the stack it was planned in", async () => {
    const before = await planFailoverSite();
    const after = {
      ...before,
      resources: before.resources.filter((r) => r.type !== "aws:ebs/volume:Volume"),
    };
    const [gone] = destructions([{ stack: "site-b", diff: diffPlans("site-b", before, after) }]);
    expect([gone.change.kind, gone.change.stateful]).toEqual([
      "delete",
      expect.stringMatching(new RegExp(`^${STANDBY}`)),
    ]);
  });
});

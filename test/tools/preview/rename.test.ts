import { describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { PuppetDatabase } from "../../../infra/components/database";
import { diffPlans } from "../../../tools/preview/diff";
import { renderReport } from "../../../tools/preview/report";
import { readPlanJson } from "../../../tools/preview/plan-json";
import { runProgram } from "../../harness";

/** A plan of one database component, named `name`, with these options. */
async function planDatabase(name: string, opts: pulumi.ComponentResourceOptions = {}) {
  const plan = await runProgram(() => {
    new PuppetDatabase(
      name,
      {
        engineVersion: "15",
        instanceClass: "db.m6g.large",
        allocatedStorageGb: 50,
        backupRetentionDays: 7,
        subnetIds: ["subnet-1", "subnet-2"],
        securityGroupIds: ["sg-1"],
        passwordSecretName: "puppet-multisite/site-a/database",
        kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/k",
        replicaKmsKeyArns: {},
      },
      opts,
    );
  });
  return readPlanJson(JSON.stringify(plan), name);
}

describe("a renamed component", () => {
  it("without an alias: its database is deleted and another created, both called out", async () => {
    const diff = diffPlans("test", await planDatabase("db"), await planDatabase("database"));
    const kinds = (kind: string) =>
      diff.changes.filter((c) => c.kind === kind && c.type === "aws:rds/instance:Instance");
    expect(kinds("delete").map((c) => c.name)).toEqual(["db-postgres"]);
    expect(kinds("create").map((c) => c.name)).toEqual(["database-postgres"]);
    expect(kinds("delete")[0].stateful).toMatch(/database/);
    expect(kinds("delete")[0].protect).toBe(true);
    expect(diff.unchanged).toBe(1); // only the stack itself
    const report = renderReport({
      base: "b",
      head: "h",
      stacks: [{ stack: "test", diff }],
      allowDestroy: false,
    });
    expect(report).toContain(
      '`database-postgres` is created instead: if it is the same resource renamed, give it `aliases: ["' +
        kinds("delete")[0].urn,
    );
  });

  it("with an alias: every child keeps its state, under its new name", async () => {
    const before = await planDatabase("db");
    const after = await planDatabase("database", { aliases: [{ name: "db" }] });
    const diff = diffPlans("test", before, after);
    expect(
      diff.changes.filter((c) => c.kind !== "update").map((c) => [c.name, c.properties]),
    ).toEqual([]);
    // Every resource but the stack continues one of the old plan, under its new name.
    expect(diff.unchanged).toBe(1);
    expect(diff.changes).toHaveLength(before.resources.length - 1);
    expect(diff.changes.filter((c) => !c.renamedFrom).map((c) => c.name)).toEqual([]);
    expect(diff.changes.filter((c) => !c.name.startsWith("database")).map((c) => c.name)).toEqual(
      [],
    );
    const db = diff.changes.find((c) => c.name === "database-postgres")!;
    expect(db.renamedFrom).toBe(before.resources.find((r) => r.name === "db-postgres")!.urn);
    // What the name is part of still changes: the final snapshot's name.
    expect(db.properties.map((p) => p.property)).toEqual(["finalSnapshotIdentifier"]);
  });
});

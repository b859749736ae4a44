import { beforeAll, describe, expect, it } from "vitest";
import { PuppetDatabase } from "../../../infra/components/database";
import { Plan } from "../../../tools/plan/plan";
import { siteView } from "../../../tools/preview/topology";
import { runProgram } from "../../harness";
import { planDeployment, planFailoverSite } from "./helpers";

let base: Map<string, Plan>;

beforeAll(async () => {
  base = await planDeployment();
});

describe("siteView", () => {
  it("calls a secondary's CA the standby CA, and the primary's the CA", async () => {
    const secondary = siteView(await planFailoverSite())!;
    expect(secondary.standbyCa).toBe("ca.site-b.puppet.example.internal");
    expect(secondary.ca).toBeUndefined();
    const primary = siteView(base.get("site-a")!)!;
    expect(primary.role).toBe("primary");
    expect(primary.ca).toBe("ca.puppet.example.internal");
    expect(primary.standbyCa).toBeUndefined();
  });

  it("shows a replica apart from the database, with its instance class", async () => {
    const view = siteView(await planFailoverSite({ replica: { instanceClass: "db.r6g.large" } }))!;
    expect(view.databaseReplica).toEqual({ instanceClass: "db.r6g.large" });
    expect(view.database).toBeUndefined();
  });

  it("keeps the database the instance that replicates nothing, whichever comes first", async () => {
    const failover = await planFailoverSite();
    const primary = await runProgram(
      () =>
        void new PuppetDatabase("site-b-database", {
          engineVersion: "16",
          instanceClass: "db.m6g.xlarge",
          allocatedStorageGb: 50,
          backupRetentionDays: 7,
          subnetIds: ["subnet-1"],
          securityGroupIds: ["sg-1"],
          passwordSecretName: "s",
          kmsKeyArn: "k",
          replicaKmsKeyArns: {},
        }),
      { stack: "site-b" },
    );
    const both = { ...failover, resources: [...failover.resources, ...primary.resources] };
    const view = siteView(both)!;
    expect(view.database).toEqual({ engine: "postgres 16", instanceClass: "db.m6g.xlarge" });
    expect(view.databaseReplica).toEqual({ instanceClass: "db.m6g.large" });
  });

  it("shows a promoted replica as the site's database", async () => {
    const view = siteView(await planFailoverSite({ replica: { promoted: true } }))!;
    expect(view.databaseReplica).toBeUndefined();
    expect(view.database?.instanceClass).toBe("db.m6g.large");
  });
});

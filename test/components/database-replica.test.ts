import { describe, expect, it } from "vitest";
import {
  PuppetDatabaseReplica,
  PuppetDatabaseReplicaArgs,
} from "../../infra/components/database-replica";
import { POSTGRES_PORT } from "../../infra/ports";
import { PlanError } from "../../tools/plan/plan";
import { runProgram } from "../harness";

const SOURCE = "arn:aws:rds:us-east-1:123456789012:db:site-a-database-postgres-1a2b3c4";
const REGION_KEY = "arn:aws:kms:eu-west-1:123456789012:key/mrk-replica";

const args = (overrides: Partial<PuppetDatabaseReplicaArgs> = {}): PuppetDatabaseReplicaArgs => ({
  sourceArn: SOURCE,
  kmsKeyArn: REGION_KEY,
  engineVersion: "15",
  instanceClass: "db.m6g.large",
  backupRetentionDays: 7,
  subnetIds: ["subnet-r1", "subnet-r2"],
  securityGroupIds: ["sg-replica"],
  ...overrides,
});

/** The replica component's plan in the failover site's region. */
function plan(overrides: Partial<PuppetDatabaseReplicaArgs> = {}, name = "site-b-database") {
  return runProgram(() => void new PuppetDatabaseReplica(name, args(overrides)), {
    stack: "site-b",
    region: "eu-west-1",
  });
}

describe("PuppetDatabaseReplica", () => {
  it("replicates the source by its ARN, encrypted with the key of its own region, private and single-AZ", async () => {
    const run = await plan();
    const [db] = run.ofType("aws:rds/instance:Instance");
    expect(db.inputs).toMatchObject({
      replicateSourceDb: SOURCE,
      kmsKeyId: REGION_KEY,
      storageEncrypted: true,
      storageType: "gp3",
      instanceClass: "db.m6g.large",
      multiAz: false,
      publiclyAccessible: false,
      port: POSTGRES_PORT,
      vpcSecurityGroupIds: ["sg-replica"],
      backupRetentionPeriod: 7,
      copyTagsToSnapshot: true,
      autoMinorVersionUpgrade: true,
      applyImmediately: false,
    });
    const [subnets] = run.ofType("aws:rds/subnetGroup:SubnetGroup");
    expect(subnets.inputs.subnetIds).toEqual(["subnet-r1", "subnet-r2"]);
    expect(db.inputs.dbSubnetGroupName).toBe(subnets.outputs.name);
  });

  it("sets nothing a replica takes from its source: engine, version, storage, database, user, password", async () => {
    const [db] = (await plan()).ofType("aws:rds/instance:Instance");
    const fromSource = ["engine", "engineVersion", "allocatedStorage", "dbName", "username"];
    expect(fromSource.concat("password").filter((k) => db.inputs[k] !== undefined)).toEqual([]);
  });

  it("forces TLS with its own parameter group of the source's family, which a new family cannot block", async () => {
    const run = await plan({ engineVersion: "16" });
    const [params] = run.ofType("aws:rds/parameterGroup:ParameterGroup");
    expect(params.inputs).toMatchObject({
      family: "postgres16",
      parameters: [{ name: "rds.force_ssl", value: "1" }],
    });
    expect(params.inputs.name).toBeUndefined();
    expect(params.retainOnDelete).toBe(true);
    expect(run.ofType("aws:rds/instance:Instance")[0].inputs.parameterGroupName).toBe(
      params.outputs.name,
    );
  });

  it("is protected, and deleted without the final snapshot RDS refuses a replica", async () => {
    const [db] = (await plan()).ofType("aws:rds/instance:Instance");
    expect(db.protect).toBe(true);
    expect(db.inputs).toMatchObject({ deletionProtection: true, skipFinalSnapshot: true });
    expect(db.inputs.finalSnapshotIdentifier).toBeUndefined();
  });

  it("once promoted names no source, turns Multi-AZ and keeps a final snapshot of its own", async () => {
    const run = await plan({ promoted: true });
    const [db] = run.ofType("aws:rds/instance:Instance");
    const [suffix] = run.ofType("random:index/randomId:RandomId");
    expect(db.inputs.replicateSourceDb).toBeUndefined();
    expect(db.inputs).toMatchObject({
      kmsKeyId: REGION_KEY,
      multiAz: true,
      deletionProtection: true,
      skipFinalSnapshot: false,
      finalSnapshotIdentifier: `site-b-database-final-${suffix.outputs.hex as string}`,
    });
    expect(db.protect).toBe(true);
    // The same resources before and after: promotion updates the instance, it replaces nothing.
    const names = (r: typeof run) => r.resources.map((x) => x.name);
    expect(names(run)).toEqual(names(await plan()));
  });

  it("can be left unprotected for throwaway stacks", async () => {
    const [db] = (await plan({ protect: false })).ofType("aws:rds/instance:Instance");
    expect(db.protect).toBe(false);
    expect(db.inputs.deletionProtection).toBe(false);
  });

  it("exposes the replica's address, port and ARN", async () => {
    const run = await runProgram(() => {
      const replica = new PuppetDatabaseReplica("r", args());
      return { address: replica.address, port: replica.port, arn: replica.arn };
    });
    const [db] = run.ofType("aws:rds/instance:Instance");
    expect(run.outputs).toEqual({
      address: db.outputs.address,
      port: POSTGRES_PORT,
      arn: db.outputs.arn,
    });
  });

  it.each(["13", "17", "15.4"])(
    "fails when the engine is not a major both PuppetDB 7 and 8 support: %s",
    async (engineVersion) => {
      await expect(plan({ engineVersion }, "r")).rejects.toThrow(
        `PuppetDatabaseReplica r: engineVersion "${engineVersion}": expected a PostgreSQL major version PuppetDB supports: 14, 15, 16`,
      );
    },
  );

  it.each([1, 36])("fails when backups are kept outside 7 to 35 days: %i", async (days) => {
    await expect(plan({ backupRetentionDays: days }, "r")).rejects.toThrow(
      `PuppetDatabaseReplica r: backupRetentionDays must be between 7 and 35 inclusive, got: ${days}`,
    );
  });

  it("creates no child when its settings are refused", async () => {
    const error = await plan({ engineVersion: "13" }, "r").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PlanError);
    const children = (error as PlanError).resources.filter((r) => r.custom);
    expect(children.map((r) => r.type)).toEqual([]);
  });
});

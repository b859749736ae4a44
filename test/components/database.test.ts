import { describe, expect, it } from "vitest";
import { PuppetDatabase, PuppetDatabaseArgs } from "../../infra/components/database";
import { SECRET } from "../../tools/plan/plan";
import { runProgram } from "../harness";

const args = (overrides: Partial<PuppetDatabaseArgs> = {}): PuppetDatabaseArgs => ({
  engineVersion: "15",
  instanceClass: "db.m6g.large",
  allocatedStorageGb: 50,
  backupRetentionDays: 7,
  subnetIds: ["subnet-d1", "subnet-d2"],
  securityGroupIds: ["sg-db"],
  passwordSecretName: "puppet-multisite/site-a/database",
  kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/primary",
  replicaKmsKeyArns: { "eu-west-1": "arn:aws:kms:eu-west-1:123456789012:key/replica" },
  ...overrides,
});

describe("PuppetDatabase", () => {
  it("is a Multi-AZ, encrypted, private PostgreSQL that keeps backups and a final snapshot", async () => {
    const run = await runProgram(() => void new PuppetDatabase("site-a-database", args()));
    const [db] = run.ofType("aws:rds/instance:Instance");
    expect(db.inputs).toMatchObject({
      engine: "postgres",
      engineVersion: "15",
      multiAz: true,
      storageEncrypted: true,
      publiclyAccessible: false,
      backupRetentionPeriod: 7,
      deletionProtection: true,
      skipFinalSnapshot: false,
      finalSnapshotIdentifier: expect.stringMatching(
        /^site-a-database-final-[0-9a-f]{8}$/,
      ) as unknown,
      vpcSecurityGroupIds: ["sg-db"],
      allowMajorVersionUpgrade: true,
      applyImmediately: false,
    });
    expect(db.protect).toBe(true);
    const [params] = run.ofType("aws:rds/parameterGroup:ParameterGroup");
    expect(params.inputs).toMatchObject({
      family: "postgres15",
      parameters: [{ name: "rds.force_ssl", value: "1" }],
    });
  });

  it("names each final snapshot anew: a stack destroyed and deployed again does not collide", async () => {
    const run = await runProgram(() => void new PuppetDatabase("site-a-database", args()));
    const [db] = run.ofType("aws:rds/instance:Instance");
    const [suffix] = run.ofType("random:index/randomId:RandomId");
    expect(db.inputs.finalSnapshotIdentifier).toBe(
      `site-a-database-final-${suffix.outputs.hex as string}`,
    );
    // Destroyed with the stack, so the next deployment draws another.
    expect(suffix.protect).toBe(false);
  });

  it("upgrades a major with a new parameter group that the old one's deletion cannot block", async () => {
    const run = await runProgram(() => void new PuppetDatabase("site-a-database", args()));
    const [params] = run.ofType("aws:rds/parameterGroup:ParameterGroup");
    const [db] = run.ofType("aws:rds/instance:Instance");
    // Auto-named, so a new family's group is created beside the old one; the old one is left, not
    // deleted while the instance still uses it (until the maintenance window).
    expect(params.inputs.name).toBeUndefined();
    expect(params.retainOnDelete).toBe(true);
    expect(db.inputs.parameterGroupName).toBe(params.outputs.name);
    expect(db.inputs).toMatchObject({ allowMajorVersionUpgrade: true, applyImmediately: false });
    const now = await runProgram(
      () => void new PuppetDatabase("d", args({ engineVersion: "16", applyImmediately: true })),
    );
    expect(now.ofType("aws:rds/instance:Instance")[0].inputs).toMatchObject({
      engineVersion: "16",
      applyImmediately: true,
    });
    expect(now.ofType("aws:rds/parameterGroup:ParameterGroup")[0].inputs.family).toBe("postgres16");
  });

  it("keeps the password secret in RDS and in the replicated secret", async () => {
    const run = await runProgram(() => void new PuppetDatabase("site-a-database", args()));
    expect(run.ofType("aws:rds/instance:Instance")[0].inputs.password).toBe(SECRET);
    const [secret] = run.ofType("aws:secretsmanager/secret:Secret");
    expect(secret.inputs).toMatchObject({
      name: "puppet-multisite/site-a/database",
      replicas: [{ region: "eu-west-1" }],
    });
    expect(
      run.ofType("aws:secretsmanager/secretVersion:SecretVersion")[0].inputs.secretString,
    ).toBe(SECRET);
  });

  it("exposes the ARN a replica in another region names as its source", async () => {
    const run = await runProgram(() => ({ arn: new PuppetDatabase("d", args()).arn }));
    expect(run.outputs.arn).toBe(run.ofType("aws:rds/instance:Instance")[0].outputs.arn);
    expect(run.outputs.arn).toMatch(/^arn:aws:rds:/);
  });

  it("can be left unprotected for throwaway stacks", async () => {
    const run = await runProgram(() => void new PuppetDatabase("d", args({ protect: false })));
    const [db] = run.ofType("aws:rds/instance:Instance");
    expect(db.protect).toBe(false);
    expect(db.inputs.deletionProtection).toBe(false);
    expect(db.inputs.skipFinalSnapshot).toBe(false);
  });

  it.each(["13", "17", "15.4"])(
    "fails when the engine is not a major both PuppetDB 7 and 8 support: %s",
    async (engineVersion) => {
      await expect(
        runProgram(() => void new PuppetDatabase("d", args({ engineVersion }))),
      ).rejects.toThrow(
        `PuppetDatabase d: engineVersion "${engineVersion}": expected a PostgreSQL major version PuppetDB supports: 14, 15, 16`,
      );
    },
  );

  it("fails when backups are kept less than 7 days", async () => {
    await expect(
      runProgram(() => void new PuppetDatabase("d", args({ backupRetentionDays: 1 }))),
    ).rejects.toThrow("backupRetentionDays must be between 7 and 35 inclusive, got: 1");
  });
});

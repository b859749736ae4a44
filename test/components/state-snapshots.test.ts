import { describe, expect, it } from "vitest";
import { StateSnapshots, StateSnapshotsArgs } from "../../infra/components/state-snapshots";
import { PlanError } from "../../tools/plan/plan";
import { runProgram } from "../harness";

const TARGET_TAGS = { "puppet:snapshot": "state" };
const SOURCE_KEY = "arn:aws:kms:us-east-1:123456789012:key/source";
const DEST_KEY = "arn:aws:kms:eu-west-1:123456789012:key/destination";

const snapshots = (extra: Partial<StateSnapshotsArgs> = {}) =>
  new StateSnapshots("site-a-state", {
    targetTags: TARGET_TAGS,
    sourceRegion: "us-east-1",
    ...extra,
  });

interface PolicyDocument {
  Statement: {
    Sid?: string;
    Effect: string;
    Principal?: unknown;
    Action: string | string[];
    Resource?: unknown;
    Condition?: unknown;
  }[];
}

const parse = (doc: unknown) => JSON.parse(doc as string) as PolicyDocument;

describe("StateSnapshots", () => {
  it("snapshots the volumes with the target tags every 6 hours from 00:00 UTC, keeping 28, with their tags", async () => {
    const run = await runProgram(() => void snapshots());
    const [policy] = run.ofType("aws:dlm/lifecyclePolicy:LifecyclePolicy");
    expect(policy.name).toBe("site-a-state-policy");
    expect(policy.inputs.state).toBe("ENABLED");
    expect(policy.inputs.policyDetails).toEqual({
      policyType: "EBS_SNAPSHOT_MANAGEMENT",
      resourceTypes: ["VOLUME"],
      targetTags: TARGET_TAGS,
      schedules: [
        {
          name: "Every 6 hours",
          createRule: { interval: 6, intervalUnit: "HOURS", times: "00:00" },
          retainRule: { count: 28 },
          copyTags: true,
          crossRegionCopyRules: [],
        },
      ],
    });
    // DLM accepts only [0-9A-Za-z _-] in a description.
    expect(policy.inputs.description).toMatch(/^[0-9A-Za-z _-]+$/);
  });

  it("takes the interval, retention and start time it is given", async () => {
    const run = await runProgram(
      () => void snapshots({ intervalHours: 12, retainCount: 60, startTimeUtc: "03:30" }),
    );
    const [policy] = run.ofType("aws:dlm/lifecyclePolicy:LifecyclePolicy");
    const details = policy.inputs.policyDetails as { schedules: Record<string, unknown>[] };
    expect(details.schedules[0]).toMatchObject({
      name: "Every 12 hours",
      createRule: { interval: 12, intervalUnit: "HOURS", times: "03:30" },
      retainRule: { count: 60 },
    });
  });

  it("copies every snapshot to each copy region, encrypted (with the key when given), with its tags, for retainDays", async () => {
    const run = await runProgram(
      () =>
        void snapshots({
          copyTo: [
            { region: "eu-west-1", kmsKeyArn: DEST_KEY, retainDays: 14 },
            { region: "ap-southeast-2", retainDays: 7 },
          ],
        }),
    );
    const [policy] = run.ofType("aws:dlm/lifecyclePolicy:LifecyclePolicy");
    const details = policy.inputs.policyDetails as { schedules: Record<string, unknown>[] };
    expect(details.schedules[0].crossRegionCopyRules).toEqual([
      {
        target: "eu-west-1",
        encrypted: true,
        cmkArn: DEST_KEY,
        copyTags: true,
        retainRule: { interval: 14, intervalUnit: "DAYS" },
      },
      {
        target: "ap-southeast-2",
        encrypted: true,
        copyTags: true,
        retainRule: { interval: 7, intervalUnit: "DAYS" },
      },
    ]);
    // `targetRegion` is for AMI policies only.
    expect(JSON.stringify(details)).not.toContain("targetRegion");
  });

  it("runs as a role only DLM may assume, for this account's policies, with AWS's DLM service-role policy", async () => {
    const run = await runProgram(() => void snapshots());
    const [role] = run.ofType("aws:iam/role:Role");
    expect(role.name).toBe("site-a-state-role");
    expect(parse(role.inputs.assumeRolePolicy).Statement).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: "dlm.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: {
          StringEquals: { "aws:SourceAccount": "123456789012" },
          ArnLike: { "aws:SourceArn": "arn:aws:dlm:*:123456789012:policy/*" },
        },
      },
    ]);
    const attachments = run.ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment");
    expect(attachments.map((a) => a.inputs.policyArn)).toEqual([
      "arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole",
    ]);
    expect(attachments[0].dependencies).toContain(role.urn);
    const [policy] = run.ofType("aws:dlm/lifecyclePolicy:LifecyclePolicy");
    expect(role.outputs.arn).toEqual(expect.stringContaining("site-a-state-role"));
    expect(policy.inputs.executionRoleArn).toBe(role.outputs.arn);
  });

  it("grants no KMS use when no customer-managed key is involved", async () => {
    const run = await runProgram(
      () => void snapshots({ copyTo: [{ region: "eu-west-1", retainDays: 14 }] }),
    );
    expect(run.ofType("aws:iam/rolePolicy:RolePolicy")).toEqual([]);
  });

  it("grants use of the source and destination keys, and grants on them only for AWS resources", async () => {
    const run = await runProgram(
      () =>
        void snapshots({
          sourceKmsKeyArn: SOURCE_KEY,
          copyTo: [
            { region: "eu-west-1", kmsKeyArn: DEST_KEY, retainDays: 14 },
            { region: "ap-southeast-2", retainDays: 7 },
          ],
        }),
    );
    const policies = run.ofType("aws:iam/rolePolicy:RolePolicy");
    expect(policies.map((p) => p.name)).toEqual(["site-a-state-kms"]);
    expect(parse(policies[0].inputs.policy).Statement).toEqual([
      {
        Sid: "UseStateKeys",
        Effect: "Allow",
        Action: [
          "kms:Encrypt",
          "kms:Decrypt",
          "kms:ReEncrypt*",
          "kms:GenerateDataKey*",
          "kms:DescribeKey",
        ],
        Resource: [SOURCE_KEY, DEST_KEY],
      },
      {
        Sid: "GrantToEbsOnly",
        Effect: "Allow",
        Action: ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
        Resource: [SOURCE_KEY, DEST_KEY],
        Condition: { Bool: { "kms:GrantIsForAWSResource": true } },
      },
    ]);
  });

  it("grants use of the source key alone when only the volumes' key is given", async () => {
    const run = await runProgram(() => void snapshots({ sourceKmsKeyArn: SOURCE_KEY }));
    const [kms] = run.ofType("aws:iam/rolePolicy:RolePolicy");
    expect(parse(kms.inputs.policy).Statement.map((s) => s.Resource)).toEqual([
      [SOURCE_KEY],
      [SOURCE_KEY],
    ]);
  });

  it("creates the policy after the role's permissions, so its first run may use them", async () => {
    const run = await runProgram(
      () =>
        void snapshots({
          sourceKmsKeyArn: SOURCE_KEY,
          copyTo: [{ region: "eu-west-1", retainDays: 14 }],
        }),
    );
    const [policy] = run.ofType("aws:dlm/lifecyclePolicy:LifecyclePolicy");
    const [attachment] = run.ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment");
    const [kms] = run.ofType("aws:iam/rolePolicy:RolePolicy");
    expect(policy.dependencies).toEqual(expect.arrayContaining([attachment.urn, kms.urn]));
  });

  it("parents every child to the component and tags the role and the policy", async () => {
    const tags = { "puppet:site": "site-a" };
    const run = await runProgram(
      () =>
        void snapshots({
          sourceKmsKeyArn: SOURCE_KEY,
          copyTo: [{ region: "eu-west-1", retainDays: 14 }],
          tags,
        }),
    );
    const children = run.under("site-a-state").filter((r) => r.custom);
    expect(children.map((r) => r.name).sort()).toEqual([
      "site-a-state-kms",
      "site-a-state-policy",
      "site-a-state-role",
      "site-a-state-service-role",
    ]);
    const tagged = run.resources.filter(
      (r) => r.type === "aws:iam/role:Role" || r.type === "aws:dlm/lifecyclePolicy:LifecyclePolicy",
    );
    expect(tagged.map((r) => [r.name, r.inputs.tags])).toEqual([
      ["site-a-state-role", tags],
      ["site-a-state-policy", tags],
    ]);
  });

  /** Runs the component with `extra` and returns the error, checking nothing was created first. */
  async function failure(extra: Partial<StateSnapshotsArgs>): Promise<string> {
    const error = await runProgram(() => void snapshots(extra)).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(PlanError);
    const created = (error as PlanError).resources.filter((r) => r.type.startsWith("aws:"));
    expect(created).toEqual([]);
    return (error as PlanError).message;
  }

  it.each([0, 5, 7, 48, 1.5])("fails when intervalHours is not one DLM allows: %s", async (h) => {
    expect(await failure({ intervalHours: h })).toBe(
      `StateSnapshots site-a-state: intervalHours must be one of 1, 2, 3, 4, 6, 8, 12, 24, got ${h}`,
    );
  });

  it.each([0, -1, 1001, 2.5])("fails when retainCount is out of DLM's range: %s", async (n) => {
    expect(await failure({ retainCount: n })).toBe(
      `StateSnapshots site-a-state: retainCount must be an integer from 1 to 1000, got ${n}`,
    );
  });

  it("fails when targetTags is empty", async () => {
    expect(await failure({ targetTags: {} })).toContain("targetTags must name at least one tag");
  });

  it("fails when targetTags has more tags than DLM takes", async () => {
    const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, "v"]));
    expect(await failure({ targetTags: many })).toContain(
      "targetTags may have at most 50 tags, got 51",
    );
  });

  it("fails when copying to more than 3 regions", async () => {
    const regions = ["eu-west-1", "eu-west-2", "eu-central-1", "ap-southeast-2"];
    expect(
      await failure({ copyTo: regions.map((region) => ({ region, retainDays: 7 })) }),
    ).toContain(
      "copyTo may name at most 3 regions, got 4: eu-west-1, eu-west-2, eu-central-1, ap-southeast-2",
    );
  });

  it("fails when a copy goes to the volumes' own region", async () => {
    expect(await failure({ copyTo: [{ region: "us-east-1", retainDays: 7 }] })).toContain(
      "copyTo region us-east-1 is the volumes' own region",
    );
  });

  it("fails when a copy region is named twice", async () => {
    const copy = { region: "eu-west-1", retainDays: 7 };
    expect(await failure({ copyTo: [copy, copy] })).toContain("copyTo names eu-west-1 twice");
  });

  it.each(["EU-WEST-1", "euwest1", "eu-west", "arn:aws:outposts:eu-west-1:1:outpost/op-1"])(
    "fails when a copy region is not a region: %j",
    async (region) => {
      expect(await failure({ copyTo: [{ region, retainDays: 7 }] })).toContain(
        `copyTo region must be a region such as eu-west-1, got ${JSON.stringify(region)}`,
      );
    },
  );

  it.each([0, 36501, 1.5])("fails when a copy's retainDays is out of range: %s", async (days) => {
    expect(await failure({ copyTo: [{ region: "eu-west-1", retainDays: days }] })).toContain(
      `copyTo eu-west-1: retainDays must be an integer from 1 to 36500, got ${days}`,
    );
  });

  it.each(["24:00", "6:00", "06:60", "noon"])(
    "fails when startTimeUtc is not hh:mm: %j",
    async (time) => {
      expect(await failure({ startTimeUtc: time })).toContain(
        `startTimeUtc must be hh:mm (00:00 to 23:59), got ${JSON.stringify(time)}`,
      );
    },
  );

  it("fails when sourceRegion is not a region", async () => {
    expect(await failure({ sourceRegion: "virginia" })).toContain(
      'sourceRegion must be a region such as us-east-1, got "virginia"',
    );
  });
});

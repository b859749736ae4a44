import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/**
 * The `interval` values DLM accepts with `intervalUnit: "HOURS"` (DLM API reference, CreateRule:
 * "The supported values are 1, 2, 3, 4, 6, 8, 12, and 24").
 */
export const SNAPSHOT_INTERVAL_HOURS: readonly number[] = [1, 2, 3, 4, 6, 8, 12, 24];

/** DLM's bounds on a schedule's count-based retention (RetainRule.Count, 1 with a copy rule). */
export const RETAIN_COUNT_RANGE = { min: 1, max: 1000 } as const;
/** DLM's bounds on a cross-Region copy's retention in days ("the maximum is 100 years ... 36500 days"). */
export const COPY_RETAIN_DAYS_RANGE = { min: 1, max: 36500 } as const;
/** DLM takes at most this many cross-Region copy rules per schedule. */
export const MAX_COPY_TARGETS = 3;
/** DLM allows at most this many target tags per policy. */
export const MAX_TARGET_TAGS = 50;

/** One region every snapshot is copied to. */
export interface SnapshotCopyTarget {
  /** The destination region, e.g. the other site's `eu-west-1`; never the volumes' own region. */
  readonly region: string;
  /**
   * Key ARN (not an alias) of a KMS key in `region` that encrypts the copies; the execution role is
   * granted its use. Default: the destination account's default EBS key in that region.
   */
  readonly kmsKeyArn?: pulumi.Input<string>;
  /** Days a copy is kept in `region` before DLM deletes it (1 to 36500). */
  readonly retainDays: number;
}

export interface StateSnapshotsArgs {
  /**
   * Tags that select the volumes: DLM snapshots every volume of the stack's region that carries any
   * one of these tags (at most 50). Two policies may not share target tags.
   */
  readonly targetTags: Readonly<Record<string, string>>;
  /** The stack's region, where the volumes and the policy are; no copy may go back to it. */
  readonly sourceRegion: string;
  /**
   * Hours between snapshots: 1, 2, 3, 4, 6, 8, 12 or 24. Default 6, the recovery point: the CA
   * directory changes only when a certificate is signed or revoked, so a restore loses at most six
   * hours of signings; PuppetDB's queue holds only commands in transit. Which agents then need
   * signing again, and which PuppetDB commands agents resubmit, is unverified. Hourly snapshots
   * would copy six times as many snapshots to the other region for little gain.
   */
  readonly intervalHours?: number;
  /**
   * Snapshots kept per volume in the source region (1 to 1000). Default 28: seven days at the
   * default interval, long enough to notice a bad CA change after a weekend.
   */
  readonly retainCount?: number;
  /**
   * UTC time (`hh:mm`) the first snapshot of the day starts from; the others follow every
   * `intervalHours`. DLM starts each within the hour after. Default `00:00`.
   */
  readonly startTimeUtc?: string;
  /** Regions every snapshot is copied to, encrypted, with its tags (at most 3). Default none. */
  readonly copyTo?: readonly SnapshotCopyTarget[];
  /**
   * The customer-managed KMS key that encrypts the volumes, when they are encrypted with one: the
   * execution role is granted its use to snapshot them and read the snapshots for copying. Default
   * none (volumes encrypted with the AWS managed EBS key, or unencrypted).
   */
  readonly sourceKmsKeyArn?: pulumi.Input<string>;
  /** Tags of the execution role and the policy. Default none. */
  readonly tags?: Record<string, string>;
}

/**
 * Scheduled snapshots of the state volumes by Amazon Data Lifecycle Manager, each copied to other
 * regions for disaster recovery: an execution role DLM assumes, its KMS permissions when
 * customer-managed keys are involved, and the lifecycle policy.
 */
export class StateSnapshots extends pulumi.ComponentResource {
  public readonly policyArn: pulumi.Output<string>;
  public readonly roleArn: pulumi.Output<string>;

  constructor(name: string, args: StateSnapshotsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("puppet:storage:StateSnapshots", name, {}, opts);
    const intervalHours = args.intervalHours ?? 6;
    const retainCount = args.retainCount ?? 28;
    const startTimeUtc = args.startTimeUtc ?? "00:00";
    const copyTo = args.copyTo ?? [];
    validate(name, { ...args, intervalHours, retainCount, startTimeUtc, copyTo });

    const role = new aws.iam.Role(
      `${name}-role`,
      { assumeRolePolicy: dlmTrustPolicy(this), tags: args.tags },
      { parent: this },
    );
    const managed = new aws.iam.RolePolicyAttachment(
      `${name}-service-role`,
      { role: role.name, policyArn: aws.iam.ManagedPolicy.AWSDataLifecycleManagerServiceRole },
      { parent: this },
    );
    const keyArns = [
      ...(args.sourceKmsKeyArn === undefined ? [] : [args.sourceKmsKeyArn]),
      ...copyTo.flatMap((t) => (t.kmsKeyArn === undefined ? [] : [t.kmsKeyArn])),
    ];
    const permissions: pulumi.Resource[] = [managed];
    if (keyArns.length > 0) {
      permissions.push(
        new aws.iam.RolePolicy(
          `${name}-kms`,
          { role: role.id, policy: kmsPolicy(keyArns) },
          { parent: this },
        ),
      );
    }

    const policy = new aws.dlm.LifecyclePolicy(
      `${name}-policy`,
      {
        description: `State volume snapshots ${name.replace(/[^0-9A-Za-z _-]/g, "-")}`,
        executionRoleArn: role.arn,
        state: "ENABLED",
        policyDetails: {
          policyType: "EBS_SNAPSHOT_MANAGEMENT",
          resourceTypes: ["VOLUME"],
          targetTags: { ...args.targetTags },
          schedules: [
            {
              name: `Every ${intervalHours} hours`,
              createRule: { interval: intervalHours, intervalUnit: "HOURS", times: startTimeUtc },
              retainRule: { count: retainCount },
              copyTags: true,
              crossRegionCopyRules: copyTo.map((t) => ({
                // `target`, not `targetRegion`: the API reserves `targetRegion` for AMI policies.
                target: t.region,
                encrypted: true,
                cmkArn: t.kmsKeyArn,
                copyTags: true,
                retainRule: { interval: t.retainDays, intervalUnit: "DAYS" },
              })),
            },
          ],
        },
        tags: args.tags,
      },
      // The first run needs the role's permissions in place.
      { parent: this, dependsOn: permissions },
    );

    this.policyArn = policy.arn;
    this.roleArn = role.arn;
    this.registerOutputs({ policyArn: this.policyArn, roleArn: this.roleArn });
  }
}

type ResolvedArgs = StateSnapshotsArgs &
  Required<Pick<StateSnapshotsArgs, "intervalHours" | "retainCount" | "startTimeUtc" | "copyTo">>;

/** DLM's Time pattern (hh:mm, 24-hour). */
const TIME_PATTERN = /^(0[0-9]|1[0-9]|2[0-3]):[0-5][0-9]$/;
/** DLM's TargetRegion pattern, anchored: `eu-west-1`, `us-gov-west-1`. */
const REGION_PATTERN = /^([a-z]+-){2,3}\d$/;

/** Throws on the first argument DLM would reject, or that would defeat the copies' purpose. */
function validate(name: string, args: ResolvedArgs): void {
  const fail = (msg: string): never => {
    throw new Error(`StateSnapshots ${name}: ${msg}`);
  };
  const tagCount = Object.keys(args.targetTags).length;
  if (tagCount === 0) {
    fail("targetTags must name at least one tag, got {}: with none DLM would select no volume");
  }
  if (tagCount > MAX_TARGET_TAGS) {
    fail(`targetTags may have at most ${MAX_TARGET_TAGS} tags, got ${tagCount}`);
  }
  if (!SNAPSHOT_INTERVAL_HOURS.includes(args.intervalHours)) {
    fail(
      `intervalHours must be one of ${SNAPSHOT_INTERVAL_HOURS.join(", ")}, got ${args.intervalHours}`,
    );
  }
  const { min, max } = RETAIN_COUNT_RANGE;
  if (!Number.isInteger(args.retainCount) || args.retainCount < min || args.retainCount > max) {
    fail(`retainCount must be an integer from ${min} to ${max}, got ${args.retainCount}`);
  }
  if (!TIME_PATTERN.test(args.startTimeUtc)) {
    fail(`startTimeUtc must be hh:mm (00:00 to 23:59), got ${JSON.stringify(args.startTimeUtc)}`);
  }
  if (!REGION_PATTERN.test(args.sourceRegion)) {
    fail(
      `sourceRegion must be a region such as us-east-1, got ${JSON.stringify(args.sourceRegion)}`,
    );
  }
  if (args.copyTo.length > MAX_COPY_TARGETS) {
    fail(
      `copyTo may name at most ${MAX_COPY_TARGETS} regions, got ${args.copyTo.length}: ${args.copyTo.map((t) => t.region).join(", ")}`,
    );
  }
  const seen = new Set<string>();
  for (const { region, retainDays } of args.copyTo) {
    if (!REGION_PATTERN.test(region)) {
      fail(`copyTo region must be a region such as eu-west-1, got ${JSON.stringify(region)}`);
    }
    if (region === args.sourceRegion) {
      fail(
        `copyTo region ${region} is the volumes' own region: a disaster-recovery copy must go to another region`,
      );
    }
    if (seen.has(region)) fail(`copyTo names ${region} twice; one copy per region`);
    seen.add(region);
    const days = COPY_RETAIN_DAYS_RANGE;
    if (!Number.isInteger(retainDays) || retainDays < days.min || retainDays > days.max) {
      fail(
        `copyTo ${region}: retainDays must be an integer from ${days.min} to ${days.max}, got ${retainDays}`,
      );
    }
  }
}

/**
 * Only DLM may assume the role, and only for this account's lifecycle policies (the confused-deputy
 * conditions AWS recommends for DLM service roles).
 */
function dlmTrustPolicy(parent: pulumi.Resource): pulumi.Output<string> {
  const account = aws.getCallerIdentityOutput({}, { parent }).accountId;
  const partition = aws.getPartitionOutput({}, { parent }).partition;
  return pulumi.jsonStringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: "dlm.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: {
          StringEquals: { "aws:SourceAccount": account },
          ArnLike: {
            "aws:SourceArn": pulumi.interpolate`arn:${partition}:dlm:*:${account}:policy/*`,
          },
        },
      },
    ],
  });
}

/**
 * Use of the customer-managed keys: the source key to snapshot encrypted volumes and read the
 * snapshots, each destination key to encrypt the copies. These are the key-user statements KMS's
 * default console policy gives; EBS works through grants, created only on behalf of an AWS service.
 * The keys' own policies must let IAM policies grant this (KMS's default key policy does).
 */
function kmsPolicy(keyArns: pulumi.Input<string>[]): pulumi.Output<string> {
  return pulumi.jsonStringify({
    Version: "2012-10-17",
    Statement: [
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
        Resource: keyArns,
      },
      {
        Sid: "GrantToEbsOnly",
        Effect: "Allow",
        Action: ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
        Resource: keyArns,
        Condition: { Bool: { "kms:GrantIsForAWSResource": true } },
      },
    ],
  });
}

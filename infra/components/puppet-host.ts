import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { encodeUserData, renderUserData } from "../hostconfig";
import { STATE_MOUNT_POINTS } from "../hostconfig/paths";
import { SCRIPT_KEY_PREFIX } from "../hostconfig/scripts";
import { HostConfig, HostRole, SecretRef } from "../hostconfig/types";
import { ROLE_TAG } from "../naming";
import { ScriptStore } from "./script-store";

export interface StateVolumeArgs {
  /** Size in GiB (1-16384, gp3). */
  readonly sizeGb: number;
  /** Availability zone of the host's subnet: a volume attaches only within its zone. */
  readonly availabilityZone: pulumi.Input<string>;
  /** Tags the snapshot policy selects the volume by, besides the host's. Default none. */
  readonly snapshotTags?: Record<string, string>;
  /** Protect the volume from deletion (Pulumi protect). Default true. */
  readonly protect?: boolean;
}

/** The device name of the state volume's attachment (NVMe instances see it by volume ID). */
export const STATE_DEVICE_NAME = "/dev/sdf";

export interface PuppetHostArgs {
  /** What the host runs; the value of its `puppet:role` tag. */
  readonly role: HostRole;
  /** FQDN of the host: its certname, its Name tag. */
  readonly hostName: string;
  /** Subnet the instance runs in, with no public address. */
  readonly subnetId: pulumi.Input<string>;
  /** Security groups of the instance. */
  readonly securityGroupIds: pulumi.Input<string>[];
  /** EC2 instance type. */
  readonly instanceType: string;
  /** AMI the instance boots (Debian 12: its user data installs packages with apt). */
  readonly ami: pulumi.Input<string>;
  /** What the host needs at first boot, rendered into its cloud-init user data (no secret values). */
  readonly config: pulumi.Input<HostConfig>;
  /** The site's script store: the host reads its role's scripts there at first boot, and nothing else. */
  readonly scripts: ScriptStore;
  /** Secrets the host may read, and nothing else. */
  readonly readsSecrets: readonly SecretRef[];
  /**
   * IAM path of the host's instance role: a secret's resource policy can admit every role under a
   * path (the server challenge admits Puppet servers' roles only). Default `/`.
   */
  readonly rolePath?: string;
  /** Root volume size in GiB. Default 30. */
  readonly rootVolumeGb?: number;
  /**
   * A volume of its own for the role's state (the CA's directory, PuppetDB's queue), which outlives
   * the instance: it moves to whichever instance holds the role. Required for the CA and PuppetDB
   * roles, refused for the others. Default none.
   */
  readonly stateVolume?: StateVolumeArgs;
  /**
   * Tags of the role, instance profile, instance and its volumes, besides the Name and
   * `puppet:role` tags this component sets. Default none.
   */
  readonly tags?: Record<string, string>;
}

/**
 * One Puppet server or PuppetDB host: an instance with no public address, IMDSv2 only, an encrypted
 * root volume, the role's state (if it has any) on an encrypted volume of its own, and a role that
 * can do exactly three things: be reached through SSM Session Manager (no SSH anywhere), read the
 * site's scripts and read the secrets its role needs. The instance is cattle: a new configuration
 * or image replaces it, and its state volume moves to the replacement.
 */
export class PuppetHost extends pulumi.ComponentResource {
  public readonly instanceId: pulumi.Output<string>;
  public readonly privateIp: pulumi.Output<string>;
  public readonly roleArn: pulumi.Output<string>;
  /** The state volume's ID, for the roles that have one. */
  public readonly stateVolumeId?: pulumi.Output<string>;

  constructor(name: string, args: PuppetHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("puppet:hosts:PuppetHost", name, {}, opts);
    const stateful = STATE_MOUNT_POINTS[args.role] !== undefined;
    if (stateful !== (args.stateVolume !== undefined)) {
      throw new Error(
        `PuppetHost ${name}: the ${args.role} role ${stateful ? "keeps its state on a volume of its own: give stateVolume" : "has no state to keep: leave stateVolume out"}`,
      );
    }
    const sizeGb = args.stateVolume?.sizeGb;
    if (sizeGb !== undefined && (!Number.isInteger(sizeGb) || sizeGb < 1 || sizeGb > 16384)) {
      throw new Error(
        `PuppetHost ${name}: stateVolume.sizeGb must be a whole number of GiB from 1 to 16384 (gp3), got ${sizeGb}`,
      );
    }
    const tags = { ...args.tags, Name: args.hostName, [ROLE_TAG]: args.role };

    const role = new aws.iam.Role(
      `${name}-role`,
      {
        path: args.rolePath,
        assumeRolePolicy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Principal: { Service: "ec2.amazonaws.com" },
              Action: "sts:AssumeRole",
            },
          ],
        }),
        tags,
      },
      { parent: this },
    );
    new aws.iam.RolePolicyAttachment(
      `${name}-ssm`,
      { role: role.name, policyArn: aws.iam.ManagedPolicy.AmazonSSMManagedInstanceCore },
      { parent: this },
    );
    if (args.readsSecrets.length > 0) {
      new aws.iam.RolePolicy(
        `${name}-secrets`,
        { role: role.id, policy: secretsPolicy(args.readsSecrets, this) },
        { parent: this },
      );
    }
    new aws.iam.RolePolicy(
      `${name}-scripts`,
      {
        role: role.id,
        policy: pulumi.output(args.scripts.bucketArn).apply((arn) =>
          JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              {
                Sid: "ReadSiteScripts",
                Effect: "Allow",
                Action: "s3:GetObject",
                Resource: `${arn}/${SCRIPT_KEY_PREFIX}*`,
              },
            ],
          }),
        ),
      },
      { parent: this },
    );
    const profile = new aws.iam.InstanceProfile(
      `${name}-profile`,
      { role: role.name, tags },
      { parent: this },
    );

    const volume =
      args.stateVolume &&
      new aws.ebs.Volume(
        `${name}-state`,
        {
          availabilityZone: args.stateVolume.availabilityZone,
          size: args.stateVolume.sizeGb,
          type: "gp3",
          encrypted: true,
          tags: { ...tags, ...args.stateVolume.snapshotTags, Name: `${args.hostName} state` },
        },
        { parent: this, protect: args.stateVolume.protect ?? true },
      );
    // The volume's ID is in the user data: the host mounts that volume and no other disk.
    const config = pulumi
      .all([args.config, volume?.id, args.scripts.bucketName])
      .apply(([c, volumeId, bucket]): HostConfig => ({
        ...c,
        ...(volumeId !== undefined && { stateVolumeId: volumeId }),
        scriptsBucket: bucket,
      }));

    const instance = new aws.ec2.Instance(
      `${name}-instance`,
      {
        ami: args.ami,
        instanceType: args.instanceType,
        subnetId: args.subnetId,
        vpcSecurityGroupIds: args.securityGroupIds,
        associatePublicIpAddress: false,
        iamInstanceProfile: profile.name,
        metadataOptions: {
          httpEndpoint: "enabled",
          httpTokens: "required",
          httpPutResponseHopLimit: 1,
        },
        rootBlockDevice: {
          volumeSize: args.rootVolumeGb ?? 30,
          volumeType: "gp3",
          encrypted: true,
          deleteOnTermination: true,
        },
        // cloud-init runs only on a new instance: a new configuration replaces it.
        userDataBase64: config.apply((c) => encodeUserData(renderUserData(c))),
        userDataReplaceOnChange: true,
        tags,
        volumeTags: tags,
      },
      // The objects its manifest names exist before it boots.
      { parent: this, dependsOn: [args.scripts] },
    );

    if (volume) {
      // A replacement instance is created first; the volume then leaves the old one, which is
      // stopped first so its filesystem is clean, and attaches to the new one, whose first boot
      // waits for it. Delete-before-replace: a volume attaches to one instance at a time.
      new aws.ec2.VolumeAttachment(
        `${name}-state`,
        {
          deviceName: STATE_DEVICE_NAME,
          volumeId: volume.id,
          instanceId: instance.id,
          stopInstanceBeforeDetaching: true,
        },
        { parent: this, deleteBeforeReplace: true },
      );
      this.stateVolumeId = volume.id;
    }

    this.instanceId = instance.id;
    this.privateIp = instance.privateIp;
    this.roleArn = role.arn;
    this.registerOutputs({
      instanceId: this.instanceId,
      privateIp: this.privateIp,
      roleArn: this.roleArn,
      stateVolumeId: this.stateVolumeId,
    });
  }
}

/** GetSecretValue on the named secrets (their replicas share the name), decrypt only through Secrets Manager. */
function secretsPolicy(
  grants: readonly SecretRef[],
  parent: pulumi.Resource,
): pulumi.Output<string> {
  const identity = aws.getCallerIdentityOutput({}, { parent });
  const partition = aws.getPartitionOutput({}, { parent });
  return pulumi.all([identity.accountId, partition.partition]).apply(([account, part]) =>
    JSON.stringify({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "ReadOwnSecrets",
          Effect: "Allow",
          Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
          // Secrets Manager appends six random characters to every secret's ARN.
          Resource: grants.map(
            (g) => `arn:${part}:secretsmanager:${g.region}:${account}:secret:${g.name}-??????`,
          ),
        },
        {
          Sid: "DecryptThroughSecretsManager",
          Effect: "Allow",
          Action: "kms:Decrypt",
          Resource: "*",
          Condition: {
            StringEquals: {
              "kms:ViaService": [
                ...new Set(grants.map((g) => `secretsmanager.${g.region}.amazonaws.com`)),
              ],
            },
          },
        },
      ],
    }),
  );
}

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { encodeUserData, renderUserData } from "../hostconfig";
import { HostConfig, HostRole, SecretRef } from "../hostconfig/types";
import { ROLE_TAG } from "../naming";

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
   * Protect the instance from deletion and API termination, and keep its root volume if it is
   * terminated anyway (the CA host). Default false.
   */
  readonly protect?: boolean;
  /**
   * Replace the instance when its rendered configuration changes (cloud-init runs only on a new
   * instance). Default true: compile masters and PuppetDB hosts are cattle. The CA holds the
   * signed-certificate inventory and CRL, so it sets false: a new configuration for it is applied by
   * hand (SSM), and changes to its user data are ignored rather than stopping it.
   */
  readonly replaceOnConfigChange?: boolean;
  /**
   * Tags of the role, instance profile, instance and its volumes, besides the Name and
   * `puppet:role` tags this component sets. Default none.
   */
  readonly tags?: Record<string, string>;
}

/**
 * One Puppet server or PuppetDB host: an instance with no public address, IMDSv2 only, an encrypted
 * root volume and a role that can do exactly two things: be reached through SSM Session Manager (no
 * SSH anywhere) and read the secrets its role needs.
 */
export class PuppetHost extends pulumi.ComponentResource {
  public readonly instanceId: pulumi.Output<string>;
  public readonly privateIp: pulumi.Output<string>;
  public readonly roleArn: pulumi.Output<string>;

  constructor(name: string, args: PuppetHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("puppet:hosts:PuppetHost", name, {}, opts);
    const tags = { ...args.tags, Name: args.hostName, [ROLE_TAG]: args.role };
    const replace = args.replaceOnConfigChange ?? true;

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
    const profile = new aws.iam.InstanceProfile(
      `${name}-profile`,
      { role: role.name, tags },
      { parent: this },
    );

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
          deleteOnTermination: !args.protect,
        },
        userDataBase64: pulumi
          .output(args.config)
          .apply((config) => encodeUserData(renderUserData(config))),
        userDataReplaceOnChange: replace,
        disableApiTermination: args.protect ?? false,
        tags,
        volumeTags: tags,
      },
      {
        parent: this,
        protect: args.protect ?? false,
        ignoreChanges: replace ? [] : ["userDataBase64"],
      },
    );

    this.instanceId = instance.id;
    this.privateIp = instance.privateIp;
    this.roleArn = role.arn;
    this.registerOutputs({
      instanceId: this.instanceId,
      privateIp: this.privateIp,
      roleArn: this.roleArn,
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

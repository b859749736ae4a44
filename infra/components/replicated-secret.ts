import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { isIamPath } from "../naming";
import { SecretsEncryption } from "./secrets-key";

export interface ReplicatedSecretArgs extends SecretsEncryption {
  /**
   * Secret name; its replicas, one per region of `replicaKmsKeyArns` and encrypted under that
   * region's replica key, share it, so hosts read it by name in their own region.
   */
  readonly secretName: string;
  /** Shown in the Secrets Manager console. */
  readonly description: string;
  /** The value; kept a Pulumi secret end to end. */
  readonly value: pulumi.Input<string>;
  /**
   * Only these IAM role ARNs, the roles of `readerRolePaths`, and the principal running Pulumi (which
   * reads the value back after writing it), may read the value; everyone else is denied by the
   * secret's own policy. Default: no resource policy unless `readerRolePaths` is set, IAM alone
   * decides.
   */
  readonly readers?: pulumi.Input<string>[];
  /**
   * Every role under these IAM paths (`/a/b/`) of the deploying account may read the value too, in
   * every site: roles another stack creates later are admitted without changing this policy.
   * Default none.
   */
  readonly readerRolePaths?: readonly string[];
  /** Protect the secret and its value from deletion. Default true. */
  readonly protect?: boolean;
  /** Tags of the secret. Default none. */
  readonly tags?: Record<string, string>;
}

/** A Secrets Manager secret, KMS-encrypted and replicated to the other sites' regions. */
export class ReplicatedSecret extends pulumi.ComponentResource {
  public readonly arn: pulumi.Output<string>;
  public readonly secretName: string;

  constructor(name: string, args: ReplicatedSecretArgs, opts?: pulumi.ComponentResourceOptions) {
    super("puppet:secrets:ReplicatedSecret", name, {}, opts);
    const badPath = args.readerRolePaths?.find((path) => !isIamPath(path));
    if (badPath !== undefined) {
      throw new Error(
        `ReplicatedSecret ${name}: readerRolePaths must be IAM paths such as /puppet-multisite/servers/, got ${JSON.stringify(badPath)}`,
      );
    }
    const protect = args.protect ?? true;
    const secret = new aws.secretsmanager.Secret(
      `${name}-secret`,
      {
        name: args.secretName,
        description: args.description,
        kmsKeyId: args.kmsKeyArn,
        recoveryWindowInDays: 30,
        replicas: Object.entries(args.replicaKmsKeyArns).map(([region, kmsKeyId]) => ({
          region,
          kmsKeyId,
        })),
        tags: args.tags,
      },
      { parent: this, protect },
    );
    const version = new aws.secretsmanager.SecretVersion(
      `${name}-value`,
      { secretId: secret.id, secretString: pulumi.secret(args.value) },
      { parent: this, protect },
    );
    if (args.readers || args.readerRolePaths) {
      // For an assumed role the caller is `sts::...:assumed-role/...`; the policy names the role.
      const caller = aws.getCallerIdentityOutput({}, { parent: this });
      const deployer = aws.iam.getSessionContextOutput(
        { arn: caller.arn },
        { parent: this },
      ).issuerArn;
      const partition = aws.getPartitionOutput({}, { parent: this }).partition;
      const underPaths = (args.readerRolePaths ?? []).map(
        (path) => pulumi.interpolate`arn:${partition}:iam::${caller.accountId}:role${path}*`,
      );
      new aws.secretsmanager.SecretPolicy(
        `${name}-policy`,
        {
          secretArn: secret.arn,
          policy: readersOnlyPolicy([...(args.readers ?? []), ...underPaths, deployer]),
        },
        // After the value is written, so the provider can still read it back on creation.
        { parent: this, dependsOn: [version] },
      );
    }
    this.arn = secret.arn;
    this.secretName = args.secretName;
    this.registerOutputs({ arn: this.arn });
  }
}

/**
 * Denies reading the value to every principal but the named roles, whatever their IAM policies say.
 * `Resource: "*"` in a secret's own policy means the secret itself, in every region it is
 * replicated to (the replicas' ARNs differ from the primary's).
 */
function readersOnlyPolicy(readers: pulumi.Input<string>[]): pulumi.Output<string> {
  return pulumi.jsonStringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "OnlyNamedReaders",
        Effect: "Deny",
        Principal: "*",
        Action: "secretsmanager:GetSecretValue",
        Resource: "*",
        // ArnNotLike: a reader may be a pattern (every role under an IAM path).
        Condition: { ArnNotLike: { "aws:PrincipalArn": readers } },
      },
    ],
  });
}

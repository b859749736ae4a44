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
   * Only these IAM role ARNs, the roles of `readerRolePaths`, and the administrators may read the
   * value; everyone else is denied by the secret's own policy, in every region it is replicated to.
   * Default: no resource policy unless `readerRolePaths` is set, IAM alone decides.
   */
  readonly readers?: pulumi.Input<string>[];
  /**
   * Role ARNs (wildcards as in `ArnLike`) of everyone who runs Pulumi for this secret: the provider
   * reads the value back on every refresh and update, so they must be readers too. The principal
   * running an update must match one of them. Default: that principal alone, with a warning (each
   * update by someone else then locks the previous one out). Used only with a resource policy.
   */
  readonly administrators?: readonly string[];
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
      const administrators = args.administrators ?? [];
      const managers = deployer.apply((arn) => {
        if (administrators.length === 0) {
          void pulumi.log.warn(
            `only ${arn}, the principal running this update, may read ${args.secretName} besides its readers: ` +
              `set secretAdministrators to the roles of everyone who runs pulumi for this stack (CI, operators), or their next refresh is denied`,
            this,
          );
          return [arn];
        }
        if (!administrators.some((pattern) => arnLike(pattern, arn))) {
          throw new pulumi.ResourceError(
            `secretAdministrators does not include ${arn}, the principal running this update: it would lose the right to read ${args.secretName}, which Pulumi needs on every refresh and update; add it (or a pattern matching it) to secretAdministrators`,
            this,
          );
        }
        return [...administrators];
      });
      const partition = aws.getPartitionOutput({}, { parent: this }).partition;
      const underPaths = (args.readerRolePaths ?? []).map(
        (path) => pulumi.interpolate`arn:${partition}:iam::${caller.accountId}:role${path}*`,
      );
      new aws.secretsmanager.SecretPolicy(
        `${name}-policy`,
        {
          secretArn: secret.arn,
          policy: readersOnlyPolicy(
            pulumi
              .all([pulumi.all(args.readers ?? []), pulumi.all(underPaths), managers])
              .apply(([readers, paths, admins]) => [...readers, ...paths, ...admins]),
          ),
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
function readersOnlyPolicy(readers: pulumi.Input<string[]>): pulumi.Output<string> {
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

/**
 * IAM's `ArnLike`: each of the six colon-separated parts of the ARN is matched on its own,
 * case-sensitively, `*` standing for any run of characters and `?` for any one.
 */
export function arnLike(pattern: string, arn: string): boolean {
  const patternParts = pattern.split(":");
  const arnParts = arn.split(":");
  if (patternParts.length !== 6 || arnParts.length < 6) return false;
  // A resource part may itself hold colons: it is everything after the fifth.
  const resource = arnParts.slice(5).join(":");
  return patternParts.every((part, i) => {
    const regex = [...part]
      .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\/]/g, "\\$&")))
      .join("");
    return new RegExp(`^${regex}$`).test(i === 5 ? resource : arnParts[i]);
  });
}

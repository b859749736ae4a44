import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { regionalProvider } from "./regional-provider";

/** The KMS key that encrypts the deployment's secrets, as every component that encrypts takes it. */
export interface SecretsEncryption {
  /** The multi-Region key in the stack's own region. */
  readonly kmsKeyArn: pulumi.Input<string>;
  /**
   * Its replica per region the secrets are copied to: each secret gets a replica in every region
   * here.
   */
  readonly replicaKmsKeyArns: Readonly<Record<string, pulumi.Input<string>>>;
}

export interface SecretsKeyArgs {
  /** Regions (other than the stack's) where secrets are replicated and must be decryptable. */
  readonly replicaRegions: readonly string[];
  /** Protect the key and its replicas from deletion. Default true. */
  readonly protect?: boolean;
  /** Tags of the key and its replicas. Default none. */
  readonly tags?: Record<string, string>;
}

/**
 * The customer-managed KMS key that encrypts the deployment's secrets: multi-Region, with a replica in
 * every other site's region so each site's secret replicas are encrypted under the same key material.
 */
export class SecretsKey extends pulumi.ComponentResource implements SecretsEncryption {
  public readonly kmsKeyArn: pulumi.Output<string>;
  /** Replica key ARN by region. */
  public readonly replicaKmsKeyArns: Record<string, pulumi.Output<string>>;

  constructor(name: string, args: SecretsKeyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("puppet:secrets:SecretsKey", name, {}, opts);
    const protect = args.protect ?? true;
    const key = new aws.kms.Key(
      `${name}-key`,
      {
        description: "puppet-multisite secrets: CA key, autosign challenge, database password",
        multiRegion: true,
        enableKeyRotation: true,
        deletionWindowInDays: 30,
        tags: args.tags,
      },
      { parent: this, protect },
    );
    new aws.kms.Alias(
      `${name}-alias`,
      { name: `alias/${name}`, targetKeyId: key.keyId },
      { parent: this },
    );
    this.kmsKeyArn = key.arn;
    this.replicaKmsKeyArns = Object.fromEntries(
      args.replicaRegions.map((region) => {
        const provider = regionalProvider(`${name}-${region}`, region, { parent: this });
        const replica = new aws.kms.ReplicaKey(
          `${name}-replica-${region}`,
          { primaryKeyArn: key.arn, deletionWindowInDays: 30, tags: args.tags },
          { parent: this, provider, protect },
        );
        return [region, replica.arn];
      }),
    );
    this.registerOutputs({
      kmsKeyArn: this.kmsKeyArn,
      replicaKmsKeyArns: this.replicaKmsKeyArns,
    });
  }
}

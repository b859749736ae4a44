import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { DATABASE_NAME, DATABASE_USER } from "../postgres";
import { checkPostgres, postgresInstanceArgs, postgresParts } from "./rds-parts";
import { ReplicatedSecret } from "./replicated-secret";
import { SecretsEncryption } from "./secrets-key";

export interface PuppetDatabaseArgs extends SecretsEncryption {
  /**
   * PostgreSQL major version: one of `SUPPORTED_POSTGRES_MAJORS` (14, 15, 16; PuppetDB 8 needs
   * 14+). Also names the parameter group's family; raising it upgrades in place, in the next
   * maintenance window unless `applyImmediately`.
   */
  readonly engineVersion: string;
  /**
   * Apply what RDS would hold for the maintenance window (a major upgrade, a new instance class)
   * during the update itself; the database restarts then. Default false.
   */
  readonly applyImmediately?: boolean;
  /** RDS instance class, e.g. `db.m6g.large`. */
  readonly instanceClass: string;
  /** Storage in GiB (gp3, encrypted). */
  readonly allocatedStorageGb: number;
  /** Days of automated backups: 7 to 35. */
  readonly backupRetentionDays: number;
  /** Subnets of the database's subnet group (Multi-AZ: standby in another AZ). */
  readonly subnetIds: pulumi.Input<string>[];
  /** Security groups of the database. */
  readonly securityGroupIds: pulumi.Input<string>[];
  /** Name of the Secrets Manager secret this component creates to hold the password. */
  readonly passwordSecretName: string;
  /**
   * Protect the database, its password and its secret: deletion protection on, Pulumi protect on.
   * Default true.
   */
  readonly protect?: boolean;
  /**
   * Tags of the database (copied to its snapshots), its subnet and parameter groups and its secret.
   * Default none.
   */
  readonly tags?: Record<string, string>;
}

/**
 * PuppetDB's PostgreSQL on RDS: Multi-AZ, encrypted, TLS required, backups kept, a final snapshot on
 * deletion, and a random password that exists only as a Pulumi secret and in Secrets Manager.
 */
export class PuppetDatabase extends pulumi.ComponentResource {
  public readonly address: pulumi.Output<string>;
  public readonly port: pulumi.Output<number>;
  /** The instance's ARN: what a replica in another region names as its source. */
  public readonly arn: pulumi.Output<string>;
  public readonly passwordSecretName: string;

  constructor(name: string, args: PuppetDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("puppet:database:PuppetDatabase", name, {}, opts);
    checkPostgres(`PuppetDatabase ${name}`, args);
    const protect = args.protect ?? true;
    const password = new random.RandomPassword(
      `${name}-password`,
      { length: 40, special: false },
      { parent: this, protect },
    );
    new ReplicatedSecret(
      `${name}-password-secret`,
      {
        secretName: args.passwordSecretName,
        description: "Password of PuppetDB's PostgreSQL user",
        value: password.result,
        kmsKeyArn: args.kmsKeyArn,
        replicaKmsKeyArns: args.replicaKmsKeyArns,
        protect,
        tags: args.tags,
      },
      { parent: this },
    );
    const parts = postgresParts(name, args, this);
    const instance = new aws.rds.Instance(
      `${name}-postgres`,
      {
        ...postgresInstanceArgs(parts, { ...args, protect }),
        engine: "postgres",
        engineVersion: args.engineVersion,
        allocatedStorage: args.allocatedStorageGb,
        multiAz: true,
        dbName: DATABASE_NAME,
        username: DATABASE_USER,
        password: password.result,
        skipFinalSnapshot: false,
        finalSnapshotIdentifier: parts.finalSnapshotIdentifier,
        // A new `engineVersion` major is an upgrade in place (with the new parameter group, in the
        // same request), which RDS refuses without this; it runs in the next maintenance window
        // unless `applyImmediately`.
        allowMajorVersionUpgrade: true,
      },
      { parent: this, protect },
    );
    this.address = instance.address;
    this.port = instance.port;
    this.arn = instance.arn;
    this.passwordSecretName = args.passwordSecretName;
    this.registerOutputs({ address: this.address, port: this.port, arn: this.arn });
  }
}

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { POSTGRES_PORT } from "../ports";
import {
  BACKUP_RETENTION_DAYS,
  DATABASE_NAME,
  DATABASE_USER,
  postgresMajorProblem,
} from "../postgres";
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
  public readonly passwordSecretName: string;

  constructor(name: string, args: PuppetDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("puppet:database:PuppetDatabase", name, {}, opts);
    const versionProblem = postgresMajorProblem(args.engineVersion);
    if (versionProblem) {
      throw new Error(
        `PuppetDatabase ${name}: engineVersion ${JSON.stringify(args.engineVersion)}: ${versionProblem}`,
      );
    }
    const days = BACKUP_RETENTION_DAYS;
    if (args.backupRetentionDays < days.min || args.backupRetentionDays > days.max) {
      throw new Error(
        `PuppetDatabase ${name}: backupRetentionDays must be between ${days.min} and ${days.max} inclusive, got: ${args.backupRetentionDays}`,
      );
    }
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
    const subnets = new aws.rds.SubnetGroup(
      `${name}-subnets`,
      { subnetIds: args.subnetIds, tags: args.tags },
      { parent: this },
    );
    // A new major needs a group of its family: the family forces a new group (auto-named, so it is
    // created beside the old one), which the instance takes with the upgrade. Until the upgrade runs
    // the instance still uses the old group and RDS refuses to delete it, so a replaced group is
    // left behind rather than failing every update until the maintenance window (README: database
    // upgrades says how to delete it afterwards).
    const parameters = new aws.rds.ParameterGroup(
      `${name}-params`,
      {
        family: `postgres${args.engineVersion}`,
        parameters: [{ name: "rds.force_ssl", value: "1" }],
        tags: args.tags,
      },
      { parent: this, retainOnDelete: true },
    );
    // The final snapshot's identifier must be new in the account and region each time an instance is
    // deleted: a stack destroyed and deployed again gets another suffix.
    const snapshotSuffix = new random.RandomId(
      `${name}-final-snapshot`,
      { byteLength: 4 },
      { parent: this },
    );
    const instance = new aws.rds.Instance(
      `${name}-postgres`,
      {
        engine: "postgres",
        engineVersion: args.engineVersion,
        instanceClass: args.instanceClass,
        allocatedStorage: args.allocatedStorageGb,
        storageType: "gp3",
        storageEncrypted: true,
        multiAz: true,
        dbName: DATABASE_NAME,
        username: DATABASE_USER,
        password: password.result,
        port: POSTGRES_PORT,
        dbSubnetGroupName: subnets.name,
        parameterGroupName: parameters.name,
        vpcSecurityGroupIds: args.securityGroupIds,
        publiclyAccessible: false,
        backupRetentionPeriod: args.backupRetentionDays,
        copyTagsToSnapshot: true,
        deletionProtection: protect,
        skipFinalSnapshot: false,
        finalSnapshotIdentifier: pulumi.interpolate`${name}-final-${snapshotSuffix.hex}`,
        autoMinorVersionUpgrade: true,
        // A new `engineVersion` major is an upgrade in place (with the new parameter group, in the
        // same request), which RDS refuses without this; it runs in the next maintenance window
        // unless `applyImmediately`.
        allowMajorVersionUpgrade: true,
        applyImmediately: args.applyImmediately ?? false,
        tags: args.tags,
      },
      { parent: this, protect },
    );
    this.address = instance.address;
    this.port = instance.port;
    this.passwordSecretName = args.passwordSecretName;
    this.registerOutputs({ address: this.address, port: this.port });
  }
}

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { checkPostgres, postgresInstanceArgs, postgresParts } from "./rds-parts";

export interface PuppetDatabaseReplicaArgs {
  /**
   * ARN of the source DB instance: the primary's `PuppetDatabase`. A replica in another region must
   * name its source by ARN; the provider derives the source's region from it.
   */
  readonly sourceArn: pulumi.Input<string>;
  /**
   * The deployment's multi-Region KMS key in this stack's region (the `SecretsKey` replica of this
   * region): a cross-region replica is encrypted with a key of its own region, whatever encrypts the
   * source. Changing it replaces the replica.
   */
  readonly kmsKeyArn: pulumi.Input<string>;
  /**
   * The source's PostgreSQL major: one of `SUPPORTED_POSTGRES_MAJORS` (14, 15, 16). It names only
   * the parameter group's family: the replica takes its engine and version from the source, and RDS
   * upgrades it with the source. After a major upgrade of the source, update this stack once the
   * source has been upgraded (until then RDS refuses the new family's group for the replica).
   */
  readonly engineVersion: string;
  /** RDS instance class, e.g. `db.m6g.large`: what PuppetDB gets once the replica is promoted. */
  readonly instanceClass: string;
  /**
   * Days of automated backups: 7 to 35. A replica keeps its own backups, so once promoted it is a
   * standalone database with backups from the start, not only from its first backup window.
   */
  readonly backupRetentionDays: number;
  /** Subnets of the replica's subnet group, in this stack's VPC. */
  readonly subnetIds: pulumi.Input<string>[];
  /** Security groups of the replica: they must admit PostgreSQL from this site's PuppetDB. */
  readonly securityGroupIds: pulumi.Input<string>[];
  /**
   * Apply what RDS would hold for the maintenance window (a new instance class, Multi-AZ once
   * promoted) during the update itself. Default false.
   */
  readonly applyImmediately?: boolean;
  /**
   * The replica has been promoted, or is to be: the instance no longer names a source. Set it to
   * promote the replica through the program (removing the source makes the provider promote it),
   * or after promoting it by hand (`aws rds promote-read-replica`): the provider cannot attach a
   * promoted instance to a source again, so `pulumi up` fails until this says so. The promoted
   * instance turns Multi-AZ and keeps a final snapshot when deleted, as the primary's database does.
   * Promotion cannot be undone: a replica again is a new instance. Default false.
   */
  readonly promoted?: boolean;
  /** Protect the replica: deletion protection on, Pulumi protect on. Default true. */
  readonly protect?: boolean;
  /**
   * Tags of the replica (copied to its snapshots) and of its subnet and parameter groups. Default
   * none.
   */
  readonly tags?: Record<string, string>;
}

/**
 * A cross-region read replica of PuppetDB's PostgreSQL, in a site other than the primary's (the
 * stack's default provider is in that region): encrypted with that region's key, TLS required,
 * private, with its own backups; promoted to a standalone database when the primary is lost.
 */
export class PuppetDatabaseReplica extends pulumi.ComponentResource {
  public readonly address: pulumi.Output<string>;
  public readonly port: pulumi.Output<number>;
  public readonly arn: pulumi.Output<string>;

  constructor(
    name: string,
    args: PuppetDatabaseReplicaArgs,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("puppet:database:PuppetDatabaseReplica", name, {}, opts);
    checkPostgres(`PuppetDatabaseReplica ${name}`, args);
    const protect = args.protect ?? true;
    const promoted = args.promoted ?? false;
    const parts = postgresParts(name, args, this);
    const instance = new aws.rds.Instance(
      `${name}-postgres`,
      {
        ...postgresInstanceArgs(parts, { ...args, protect }),
        // No engine, version, database name, user or password: a replica takes them from its source
        // (the provider refuses `username` and `dbName` beside a source, and sends no engine or
        // version when it creates a replica). Storage too is the source's.
        replicateSourceDb: promoted ? undefined : args.sourceArn,
        kmsKeyId: args.kmsKeyArn,
        // One zone while it is a replica: it serves reads and waits to be promoted, and a standby
        // would double its cost for an outage the primary's own Multi-AZ already covers. Once
        // promoted it is the database of record and gets its standby (in place, no downtime).
        multiAz: promoted,
        // RDS deletes a replica only without a final snapshot, and refuses a snapshot name for it;
        // its data is the source's, which keeps its own. A promoted one keeps one.
        skipFinalSnapshot: !promoted,
        finalSnapshotIdentifier: promoted ? parts.finalSnapshotIdentifier : undefined,
      },
      { parent: this, protect },
    );
    this.address = instance.address;
    this.port = instance.port;
    this.arn = instance.arn;
    this.registerOutputs({ address: this.address, port: this.port, arn: this.arn });
  }
}

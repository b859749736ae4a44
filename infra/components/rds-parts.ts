// What every PuppetDB PostgreSQL on RDS is made of, the primary's database and another site's replica
// of it alike: the checks of its settings, its subnet and parameter groups, the name of its final
// snapshot and the instance settings they share. Children are created under the component that asks,
// with its name, so their URNs are the component's own.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { POSTGRES_PORT } from "../ports";
import { BACKUP_RETENTION_DAYS, postgresMajorProblem } from "../postgres";

/** The settings of a PostgreSQL instance that are checked before any child exists. */
export interface PostgresChecked {
  /** A major of `SUPPORTED_POSTGRES_MAJORS`; names the parameter group's family. */
  readonly engineVersion: string;
  /** Days of automated backups: `BACKUP_RETENTION_DAYS`. */
  readonly backupRetentionDays: number;
}

/** Throws an error naming the component (`PuppetDatabase d`), the setting, the value and what is allowed. */
export function checkPostgres(component: string, args: PostgresChecked): void {
  const versionProblem = postgresMajorProblem(args.engineVersion);
  if (versionProblem) {
    throw new Error(
      `${component}: engineVersion ${JSON.stringify(args.engineVersion)}: ${versionProblem}`,
    );
  }
  const days = BACKUP_RETENTION_DAYS;
  if (args.backupRetentionDays < days.min || args.backupRetentionDays > days.max) {
    throw new Error(
      `${component}: backupRetentionDays must be between ${days.min} and ${days.max} inclusive, got: ${args.backupRetentionDays}`,
    );
  }
}

export interface PostgresPartsArgs {
  readonly engineVersion: string;
  readonly subnetIds: pulumi.Input<string>[];
  readonly tags?: Record<string, string>;
}

export interface PostgresParts {
  readonly subnets: aws.rds.SubnetGroup;
  readonly parameters: aws.rds.ParameterGroup;
  /** `<name>-final-<8 hex digits>`: new each time the component is created. */
  readonly finalSnapshotIdentifier: pulumi.Output<string>;
}

/**
 * The subnet group (`<name>-subnets`), the parameter group that requires TLS (`<name>-params`) and
 * the final snapshot's random suffix (`<name>-final-snapshot`) of the instance of `parent`.
 */
export function postgresParts(
  name: string,
  args: PostgresPartsArgs,
  parent: pulumi.Resource,
): PostgresParts {
  const subnets = new aws.rds.SubnetGroup(
    `${name}-subnets`,
    { subnetIds: args.subnetIds, tags: args.tags },
    { parent },
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
    { parent, retainOnDelete: true },
  );
  // The final snapshot's identifier must be new in the account and region each time an instance is
  // deleted: a stack destroyed and deployed again gets another suffix.
  const suffix = new random.RandomId(`${name}-final-snapshot`, { byteLength: 4 }, { parent });
  return {
    subnets,
    parameters,
    finalSnapshotIdentifier: pulumi.interpolate`${name}-final-${suffix.hex}`,
  };
}

export interface PostgresInstanceArgs {
  readonly instanceClass: string;
  readonly securityGroupIds: pulumi.Input<string>[];
  readonly backupRetentionDays: number;
  readonly protect: boolean;
  readonly applyImmediately?: boolean;
  readonly tags?: Record<string, string>;
}

/**
 * The instance settings every PuppetDB PostgreSQL has: gp3 storage, encrypted, private, on the
 * PostgreSQL port, in its subnet group with its TLS parameter group, backups kept, tags copied to
 * snapshots, deletion protection with `protect`, minor versions applied by RDS.
 */
export function postgresInstanceArgs(
  parts: PostgresParts,
  args: PostgresInstanceArgs,
): aws.rds.InstanceArgs {
  return {
    instanceClass: args.instanceClass,
    storageType: "gp3",
    storageEncrypted: true,
    port: POSTGRES_PORT,
    dbSubnetGroupName: parts.subnets.name,
    parameterGroupName: parts.parameters.name,
    vpcSecurityGroupIds: args.securityGroupIds,
    publiclyAccessible: false,
    backupRetentionPeriod: args.backupRetentionDays,
    copyTagsToSnapshot: true,
    deletionProtection: args.protect,
    autoMinorVersionUpgrade: true,
    applyImmediately: args.applyImmediately ?? false,
    tags: args.tags,
  };
}

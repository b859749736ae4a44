// What the failover site keeps ready for the loss of the primary site (README: losing the primary
// site): the standby CA and the database's replica, made from what the primary's stack outputs.
import * as pulumi from "@pulumi/pulumi";
import { Settings } from "../config";
import { standbyCaHostSettings } from "../host-settings";
import { caRolePath } from "../naming";
import { PrimaryOutputs } from "../peer";
import { PuppetDatabaseReplica } from "./database-replica";
import { StateVolumeArgs } from "./puppet-host";
import { StandbyCertificateAuthority } from "./standby-ca";
import { ScriptStore } from "./script-store";

export interface FailoverArgs {
  readonly settings: Settings;
  /** The primary's outputs: the CA certificate, the database's ARN and this region's key. */
  readonly peer: PrimaryOutputs;
  readonly caCertificatePem: pulumi.Input<string>;
  readonly ami: pulumi.Input<string>;
  /** The site\'s script store, which the host fetches its scripts from. */
  readonly scripts: ScriptStore;
  readonly serverSubnetId: pulumi.Input<string>;
  readonly serverSecurityGroupIds: pulumi.Input<string>[];
  readonly dataSubnetIds: pulumi.Input<string>[];
  readonly databaseSecurityGroupId: pulumi.Input<string>;
  readonly caStateVolume: Omit<StateVolumeArgs, "protect">;
  readonly tags: Record<string, string>;
}

/** An output the failover site needs from the primary (readPrimary checks it is there). */
function required(value: string | undefined, output: string): string {
  if (value === undefined) {
    throw new Error(`the primary's stack has no output ${output}: run pulumi up on it first`);
  }
  return value;
}

/** The standby CA and the database replica of the failover site, children of `parent`. */
export function failoverResources(
  name: string,
  args: FailoverArgs,
  parent: pulumi.Resource,
): { standbyCa: StandbyCertificateAuthority; replica: PuppetDatabaseReplica } {
  const { settings, peer, tags } = args;
  const protect = settings.protectStateful;
  // Checked before anything is created: a missing output leaves nothing half built.
  const sourceArn = required(peer.databaseArn, "databaseArn");
  const kmsKeyArn = required(peer.failoverKmsKeyArn, "failoverKmsKeyArn");
  const standbyCa = new StandbyCertificateAuthority(
    `${name}-standby-ca`,
    {
      host: standbyCaHostSettings(settings),
      caCertificatePem: args.caCertificatePem,
      rolePath: caRolePath(settings.project),
      subnetId: args.serverSubnetId,
      securityGroupIds: args.serverSecurityGroupIds,
      instanceType: settings.caInstanceType,
      ami: args.ami,
      scripts: args.scripts,
      stateVolume: args.caStateVolume,
      protect,
      tags,
    },
    { parent },
  );
  const replica = new PuppetDatabaseReplica(
    `${name}-database-replica`,
    {
      sourceArn,
      kmsKeyArn,
      engineVersion: settings.database.engineVersion,
      instanceClass: settings.database.instanceClass,
      backupRetentionDays: settings.database.backupRetentionDays,
      applyImmediately: settings.database.applyImmediately,
      promoted: settings.database.active === "failover",
      subnetIds: args.dataSubnetIds,
      securityGroupIds: [args.databaseSecurityGroupId],
      protect,
      tags,
    },
    { parent },
  );
  return { standbyCa, replica };
}

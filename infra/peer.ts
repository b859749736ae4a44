// The only module that creates a StackReference: a secondary site reads what the primary owns (CA,
// database, zone, VPC). The outputs are awaited and checked before the secondary creates anything, so
// a primary that is missing an output (not deployed yet, or an older version) fails with one clear
// message instead of half a deployment.
import * as pulumi from "@pulumi/pulumi";
import { Settings } from "./config";

/** Outputs the primary site exports and every secondary reads. */
export interface PrimaryOutputs {
  readonly region: string;
  readonly vpcId: string;
  readonly vpcCidr: string;
  /** Private route tables of the primary's VPC: the secondary adds its peering routes to them. */
  readonly privateRouteTableIds: string[];
  readonly zoneId: string;
  readonly caHost: string;
  readonly caCertificatePem: string;
  readonly puppetdbHost: string;
  readonly databaseHost: string;
  readonly databasePort: number;
  readonly databaseName: string;
  readonly databaseUser: string;
  readonly databaseSecretName: string;
  /** ARN of the database: the failover site's replica names it as its source. */
  readonly databaseArn?: string;
  /** The secrets key's replica in the failover site's region: its database replica's key. */
  readonly failoverKmsKeyArn?: string;
}

export const PRIMARY_OUTPUT_NAMES = [
  "region",
  "vpcId",
  "vpcCidr",
  "privateRouteTableIds",
  "zoneId",
  "caHost",
  "caCertificatePem",
  "puppetdbHost",
  "databaseHost",
  "databasePort",
  "databaseName",
  "databaseUser",
  "databaseSecretName",
] as const satisfies readonly (keyof PrimaryOutputs)[];

/** Outputs the failover site reads besides: what its database replica is made from. */
export const FAILOVER_OUTPUT_NAMES = [
  "databaseArn",
  "failoverKmsKeyArn",
] as const satisfies readonly (keyof PrimaryOutputs)[];

/** Reads and checks the primary's outputs through a stack reference. */
export async function readPrimary(peerStack: string, failover = false): Promise<PrimaryOutputs> {
  const ref = new pulumi.StackReference("primary", { name: peerStack });
  const values: Record<string, unknown> = {};
  const missing: string[] = [];
  for (const name of [...PRIMARY_OUTPUT_NAMES, ...(failover ? FAILOVER_OUTPUT_NAMES : [])]) {
    const details = await ref.getOutputDetails(name);
    const value: unknown = details.value ?? details.secretValue;
    if (value === undefined || value === null) missing.push(name);
    values[name] = value;
  }
  if (missing.length > 0) {
    throw new Error(
      `config peerStack: stack ${JSON.stringify(peerStack)} has no output ${missing.map((m) => JSON.stringify(m)).join(", ")}; ` +
        `deploy the primary site first (pulumi up on that stack) or correct peerStack`,
    );
  }
  return values as unknown as PrimaryOutputs;
}

/**
 * A secondary needs the primary's outputs, and they must describe the primary the catalogue names;
 * the primary reads none. Returns the outputs a secondary builds on.
 */
export function checkPrimary(
  settings: Settings,
  primary: PrimaryOutputs | undefined,
): PrimaryOutputs | undefined {
  const site = settings.site.name;
  if (settings.role === "primary") {
    if (primary)
      throw new Error(`site ${site} is the primary (primarySite); it reads no peer stack`);
    return undefined;
  }
  if (!primary) {
    throw new Error(
      `site ${site} is secondary: it needs the outputs of the primary stack (config peerStack)`,
    );
  }
  const catalogue = settings.primarySite;
  for (const [output, expected, key] of [
    ["region", catalogue.region, `sites.${catalogue.name}.region`],
    ["vpcCidr", catalogue.vpcCidr, `sites.${catalogue.name}.vpcCidr`],
  ] as const) {
    if (primary[output] !== expected) {
      throw new Error(
        `config peerStack: output ${output} of ${settings.peerStack} is ${JSON.stringify(primary[output])} but ${key} is ${JSON.stringify(expected)}; ` +
          `peerStack must name the primary site's stack`,
      );
    }
  }
  // The key a replica is encrypted with must be in the replica's region: a primary last deployed
  // with another failover site hands over another region's.
  const key = primary.failoverKmsKeyArn;
  if (settings.failoverSite === settings.site && key !== undefined) {
    const region = key.split(":")[3];
    if (region !== settings.site.region) {
      throw new Error(
        `config peerStack: output failoverKmsKeyArn of ${settings.peerStack} is a key in ${region}, but this failover site is in ${settings.site.region}; ` +
          `run pulumi up on the primary's stack first, so it exports the key of this site's region`,
      );
    }
  }
  return primary;
}

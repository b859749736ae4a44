// Plans of the repository's two stacks with their configuration edited, as a preview reads them
// (through the plan's JSON), and the comparison of two such deployments.
import * as aws from "@pulumi/aws";
import {
  PuppetDatabaseReplica,
  PuppetDatabaseReplicaArgs,
} from "../../../infra/components/database-replica";
import { ROLE_TAG, SITE_TAG } from "../../../infra/naming";
import { Plan, planWithPeers } from "../../../tools/plan/plan";
import { ConfigEdit, editedConfig } from "../../../tools/plan/edit";
import { PlanOutcome, compareStacks } from "../../../tools/preview/compare";
import { readPlanJson } from "../../../tools/preview/plan-json";
import { StackComparison } from "../../../tools/preview/report";
import { DOMAIN } from "../../fixtures";
import { runProgram } from "../../harness";

export async function planDeployment(
  edits: Readonly<Partial<Record<"site-a" | "site-b", ConfigEdit>>> = {},
): Promise<Map<string, Plan>> {
  const edited = editedConfig((stack) => edits[stack as "site-a" | "site-b"]);
  const plans = await planWithPeers("site-b", new Map(), edited);
  // As a preview reads them: through the plan's JSON.
  return new Map(
    [...plans].map(([stack, plan]) => [stack, readPlanJson(JSON.stringify(plan), stack)]),
  );
}

function outcomes(plans: ReadonlyMap<string, Plan>): Map<string, PlanOutcome> {
  return new Map([...plans].map(([stack, plan]) => [stack, { plan }]));
}

export function compare(
  before: ReadonlyMap<string, Plan>,
  after: ReadonlyMap<string, Plan>,
): StackComparison[] {
  return compareStacks(outcomes(before), outcomes(after));
}

export interface FailoverSiteOptions {
  /** The stack's `role` output. Default `secondary`. */
  readonly role?: string;
  readonly replica?: Partial<PuppetDatabaseReplicaArgs>;
  /** Zone of the standby CA's state volume. Default `eu-west-1a`. */
  readonly volumeZone?: string;
}

/**
 * The failover parts of site-b as a preview reads its plan: a read replica of the primary's database
 * and a standby CA host (`ca.site-b.<domain>`) with its state volume, tagged as the program tags
 * hosts, in a stack whose outputs name the site.
 */
export async function planFailoverSite(options: FailoverSiteOptions = {}): Promise<Plan> {
  const site = "site-b";
  const host = `ca.${site}.${DOMAIN}`;
  const tags = { [SITE_TAG]: site, [ROLE_TAG]: "ca", Name: host };
  const plan = await runProgram(
    () => {
      new PuppetDatabaseReplica(`${site}-database-replica`, {
        sourceArn: "arn:aws:rds:us-east-1:123456789012:db:site-a-database-postgres",
        kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/mrk-1",
        engineVersion: "15",
        instanceClass: "db.m6g.large",
        backupRetentionDays: 7,
        subnetIds: ["subnet-1", "subnet-2"],
        securityGroupIds: ["sg-1"],
        ...options.replica,
      });
      new aws.ebs.Volume(
        `${site}-standby-ca-state`,
        {
          availabilityZone: options.volumeZone ?? "eu-west-1a",
          size: 10,
          encrypted: true,
          tags: { ...tags, Name: `${host} state` },
        },
        { protect: true },
      );
      new aws.ec2.Instance(`${site}-standby-ca-instance`, {
        ami: "ami-1",
        instanceType: "m6i.large",
        tags,
      });
      return { site, region: "eu-west-1", role: options.role ?? "secondary" };
    },
    { stack: site, region: "eu-west-1" },
  );
  return readPlanJson(JSON.stringify(plan), site);
}

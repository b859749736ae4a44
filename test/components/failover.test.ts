import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { FailoverArgs, failoverResources } from "../../infra/components/failover";
import { PrimaryOutputs } from "../../infra/peer";
import { PlanError } from "../../tools/plan/plan";
import { settings } from "../fixtures";
import { runProgram } from "../harness";
import { CA_PEM, DOMAIN, scriptStore } from "./fixtures";

const SOURCE = "arn:aws:rds:us-east-1:123456789012:db:site-a-database-postgres";
const REGION_KEY = "arn:aws:kms:eu-west-1:123456789012:key/mrk-replica";

/** What site-a's stack outputs, as site-b reads it. */
const PEER: PrimaryOutputs = {
  region: "us-east-1",
  vpcId: "vpc-a",
  vpcCidr: "10.40.0.0/16",
  privateRouteTableIds: ["rtb-a1", "rtb-a2"],
  zoneId: "ZA",
  caHost: `ca.${DOMAIN}`,
  caCertificatePem: CA_PEM,
  puppetdbHost: `puppetdb.site-a.${DOMAIN}`,
  databaseHost: "db.example.rds.amazonaws.com",
  databasePort: 5432,
  databaseName: "puppetdb",
  databaseUser: "puppetdb",
  databaseSecretName: "puppet-multisite/site-a/database",
  databaseArn: SOURCE,
  failoverKmsKeyArn: REGION_KEY,
};

class Parent extends pulumi.ComponentResource {
  constructor() {
    super("puppet:site:Site", "site-b");
  }
}

function plan(peer: PrimaryOutputs = PEER, overrides: Record<string, unknown> = {}) {
  const args: Omit<FailoverArgs, "scripts"> = {
    settings: settings("site-b", overrides),
    peer,
    caCertificatePem: CA_PEM,
    ami: "ami-0123456789abcdef0",
    serverSubnetId: "subnet-servers-1",
    serverSecurityGroupIds: ["sg-puppetserver"],
    dataSubnetIds: ["subnet-data-1", "subnet-data-2"],
    databaseSecurityGroupId: "sg-database",
    caStateVolume: { sizeGb: 10, availabilityZone: "eu-west-1a" },
    tags: { "puppet:site": "site-b" },
  };
  const program = () =>
    void failoverResources(
      "site-b",
      { ...args, scripts: scriptStore("site-b", "site-b") },
      new Parent(),
    );
  return runProgram(program, {
    stack: "site-b",
    region: "eu-west-1",
  });
}

describe("failoverResources", () => {
  it("makes the standby CA and the replica, children of the site, named after it", async () => {
    const run = await plan();
    const site = run.named("site-b");
    expect(
      run.resources.filter((r) => r.parent === site.urn).map((r) => `${r.type} ${r.name}`),
    ).toEqual([
      "puppet:ca:StandbyCertificateAuthority site-b-standby-ca",
      "puppet:database:PuppetDatabaseReplica site-b-database-replica",
    ]);
  });

  it("replicates the primary's database by its ARN, encrypted with the key the primary outputs for this region", async () => {
    const [db] = (await plan()).ofType("aws:rds/instance:Instance");
    expect(db.inputs).toMatchObject({
      replicateSourceDb: SOURCE,
      kmsKeyId: REGION_KEY,
      vpcSecurityGroupIds: ["sg-database"],
    });
  });

  it("promotes the replica once the configuration records it (database.active), changing nothing else", async () => {
    const before = await plan();
    const after = await plan(PEER, { database: { active: "failover" } });
    const [db] = after.ofType("aws:rds/instance:Instance");
    expect(db.inputs.replicateSourceDb).toBeUndefined();
    expect(db.inputs).toMatchObject({ kmsKeyId: REGION_KEY, multiAz: true });
    // The standby CA's host is the same: recording the database's promotion replaces nothing there.
    const host = (run: typeof before) => run.ofType("aws:ec2/instance:Instance")[0].inputs;
    expect(host(after)).toEqual(host(before));
  });

  it("runs the standby CA of the site's settings under the CAs' role path", async () => {
    const run = await plan();
    const [instance] = run.ofType("aws:ec2/instance:Instance");
    expect(instance.inputs.tags).toMatchObject({
      Name: `ca.site-b.${DOMAIN}`,
      "puppet:role": "ca",
    });
    expect(instance.inputs.subnetId).toBe("subnet-servers-1");
    expect(run.ofType("aws:iam/role:Role").map((r) => r.inputs.path)).toEqual([
      "/puppet-multisite/servers/ca/",
    ]);
  });

  it("protects the standby's state volume and the replica as protectStateful says", async () => {
    const protectedNames = (run: Awaited<ReturnType<typeof plan>>) =>
      run.resources.filter((r) => r.protect).map((r) => `${r.type} ${r.name}`);
    expect(protectedNames(await plan())).toEqual([
      "aws:ebs/volume:Volume site-b-standby-ca-host-state",
      "aws:rds/instance:Instance site-b-database-replica-postgres",
    ]);
    expect(protectedNames(await plan(PEER, { protectStateful: false }))).toEqual([]);
  });

  it.each(["databaseArn", "failoverKmsKeyArn"] as const)(
    "fails when the primary's outputs lack %s, naming the fix",
    async (output) => {
      const { [output]: _missing, ...older } = PEER;
      const error = await plan(older).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(PlanError);
      expect((error as PlanError).message).toBe(
        `the primary's stack has no output ${output}: run pulumi up on it first`,
      );
    },
  );
});

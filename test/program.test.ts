// Whole-stack tests: the real program with the real stack files, site-b's stack reference fed with
// site-a's planned outputs, exactly as `npm run plan` does.
import { instanceUserData } from "../infra/hostconfig";
import { caFingerprint } from "../infra/hostconfig/ca-pin";
import { beforeAll, describe, expect, it } from "vitest";
import { FAILOVER_OUTPUT_NAMES, PRIMARY_OUTPUT_NAMES } from "../infra/peer";
import {
  Plan,
  PlanError,
  PlannedResource,
  SECRET,
  planStack,
  planWithPeers,
} from "../tools/plan/plan";
import { readStackConfig } from "../tools/plan/stack-config";
import { Run, userDataFiles, withQueries } from "./harness";
import { itWithTools, run as runTool } from "./hostconfig/helpers";
import { mkdtempSync, writeFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { forcesReplacement } from "../tools/preview/forces-replacement";
import { tmpdir } from "node:os";
import { join } from "node:path";

const DOMAIN = "puppet.example.internal";
let a: Run;
let b: Run;

beforeAll(async () => {
  const plans = await planWithPeers("site-b");
  a = withQueries(plans.get("site-a")!);
  b = withQueries(plans.get("site-b")!);
});

function count(run: Plan): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of run.resources) counts[r.type] = (counts[r.type] ?? 0) + 1;
  return counts;
}

function srv(run: Run): Record<string, string[]> {
  return Object.fromEntries(
    run
      .ofType("aws:route53/record:Record")
      .filter((r) => r.inputs.type === "SRV")
      .map((r) => [r.inputs.name as string, r.inputs.records as string[]]),
  );
}

/** The value of one setting of a host's `host.env`. */
function hostEnv(instance: PlannedResource, key: string): string | undefined {
  const env = userDataFiles(instanceUserData(instance.inputs))["/etc/puppet-multisite/host.env"];
  return new RegExp(`^${key}='([^']*)'$`, "m").exec(env)?.[1];
}

/** Whether an IAM `ArnLike` pattern (`*` any run of characters, `?` one) matches `arn`. */
function arnLike(pattern: string, arn: string): boolean {
  const source = pattern
    .split("")
    .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\/]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`).test(arn);
}

describe("site-a (primary)", () => {
  it("owns the CA, the database, the zone and the secrets key, builds a 2-master pool, and no standby CA or replica", () => {
    expect(count(a)).toMatchObject({
      "puppet:ca:CertificateAuthority": 1,
      "puppet:database:PuppetDatabase": 1,
      "puppet:secrets:SecretsKey": 1,
      "aws:route53/zone:Zone": 1,
      "aws:rds/instance:Instance": 1,
      "aws:ec2/instance:Instance": 4, // CA, two masters, PuppetDB
      "aws:lb/loadBalancer:LoadBalancer": 1,
      // CA key, server challenge, agent challenge, database password.
      "aws:secretsmanager/secret:Secret": 4,
      "aws:ec2/subnet:Subnet": 6,
      "aws:ec2/natGateway:NatGateway": 2,
    });
    expect(count(a)["pulumi:pulumi:StackReference"]).toBeUndefined();
    expect(count(a)["puppet:ca:StandbyCertificateAuthority"]).toBeUndefined();
    expect(count(a)["puppet:database:PuppetDatabaseReplica"]).toBeUndefined();
    expect(count(a)["aws:ec2/vpcPeeringConnection:VpcPeeringConnection"]).toBeUndefined();
  });

  it("publishes its SRV records: local masters at priority 0, site-b's pool at priority 1, the CA, then site-b's standby CA", () => {
    expect(srv(a)).toEqual({
      [`_x-puppet._tcp.site-a.${DOMAIN}`]: [
        `0 10 8140 master-1.site-a.${DOMAIN}`,
        `0 10 8140 master-2.site-a.${DOMAIN}`,
        `1 10 8140 pool.site-b.${DOMAIN}`,
      ],
      [`_x-puppet-ca._tcp.site-a.${DOMAIN}`]: [
        `0 0 8140 ca.${DOMAIN}`,
        `1 0 8140 ca.site-b.${DOMAIN}`,
      ],
    });
  });

  it("exports every output a secondary reads, those the failover site reads besides, and no secret", () => {
    const read: readonly string[] = [...PRIMARY_OUTPUT_NAMES, ...FAILOVER_OUTPUT_NAMES];
    expect(read.length).toBeGreaterThan(0);
    expect(
      Object.keys(a.outputs)
        .filter((name) => read.includes(name))
        .sort(),
    ).toEqual([...read].sort());
    expect(
      read.filter((name) => a.outputs[name] === undefined || a.outputs[name] === null),
    ).toEqual([]);
    expect(JSON.stringify(a.outputs)).not.toContain(SECRET);
    expect(a.outputs.agentPuppetConf).toContain(`srv_domain = site-a.${DOMAIN}`);
  });
});

describe("site-b (secondary)", () => {
  it("reads site-a through one stack reference named by config; builds no active CA, primary database, zone or secret, but a standby CA and a replica", () => {
    const refs = b.ofType("pulumi:pulumi:StackReference");
    expect(refs.map((r) => r.inputs.name)).toEqual(["organization/puppet-multisite/site-a"]);
    const counts = count(b);
    for (const type of [
      "puppet:ca:CertificateAuthority",
      "puppet:database:PuppetDatabase",
      "puppet:secrets:SecretsKey",
      "aws:route53/zone:Zone",
      "aws:kms/key:Key",
      "aws:secretsmanager/secret:Secret",
      "tls:index/privateKey:PrivateKey",
    ]) {
      expect(counts[type], type).toBeUndefined();
    }
    // The failover site (by default the other site of two).
    expect(counts).toMatchObject({
      "puppet:ca:StandbyCertificateAuthority": 1,
      "puppet:database:PuppetDatabaseReplica": 1,
      "aws:rds/instance:Instance": 1, // the replica
      "aws:ec2/instance:Instance": 4, // two masters, PuppetDB, the standby CA
    });
  });

  it("uses site-a's zone, VPC and route tables", () => {
    const [association] = b.ofType("aws:route53/zoneAssociation:ZoneAssociation");
    expect(association.inputs.zoneId).toBe(a.outputs.zoneId);
    const [peering] = b.ofType("aws:ec2/vpcPeeringConnection:VpcPeeringConnection");
    expect(peering.inputs).toMatchObject({ peerVpcId: a.outputs.vpcId, peerRegion: "us-east-1" });
    const back = b
      .ofType("aws:ec2/route:Route")
      .filter((r) => r.inputs.destinationCidrBlock === "10.50.0.0/16");
    expect(back.map((r) => r.inputs.routeTableId).sort()).toEqual(
      [...(a.outputs.privateRouteTableIds as string[])].sort(),
    );
  });

  it("publishes its SRV records: local masters at priority 0, site-a's pool at priority 1, the CA, then its standby CA", () => {
    expect(srv(b)).toEqual({
      [`_x-puppet._tcp.site-b.${DOMAIN}`]: [
        `0 10 8140 master-1.site-b.${DOMAIN}`,
        `0 10 8140 master-2.site-b.${DOMAIN}`,
        `1 10 8140 pool.site-a.${DOMAIN}`,
      ],
      [`_x-puppet-ca._tcp.site-b.${DOMAIN}`]: [
        `0 0 8140 ca.${DOMAIN}`,
        `1 0 8140 ca.site-b.${DOMAIN}`,
      ],
    });
  });

  it("gives its masters site-a's CA certificate and its own PuppetDB first", () => {
    const masters = b.ofType("aws:ec2/instance:Instance").filter((i) => i.name.includes("masters"));
    expect(masters.map((i) => i.name)).toEqual([
      "site-b-masters-1-instance",
      "site-b-masters-2-instance",
    ]);
    for (const instance of masters) {
      const files = userDataFiles(instanceUserData(instance.inputs));
      expect(files["/etc/puppet-multisite/host.env"]).toContain(
        `CA_FINGERPRINT='${caFingerprint(a.outputs.caCertificatePem as string)}'`,
      );
      expect(files["/etc/puppet-multisite/puppetdb.conf"]).toContain(
        `server_urls = https://puppetdb.site-b.${DOMAIN}:8081,https://puppetdb.site-a.${DOMAIN}:8081`,
      );
      expect(files["/etc/puppet-multisite/puppetdb.conf"]).toContain("soft_write_failure = true");
    }
  });
});

describe("the failover site (site-b, by default the other site of two)", () => {
  it("replicates site-a's planned database, encrypted with the eu-west-1 replica of site-a's secrets key, both from site-a's outputs", () => {
    const source = a.named("site-a-database-postgres");
    const regionKey = a.named("site-a-secrets-replica-eu-west-1");
    expect(String(regionKey.outputs.arn)).toMatch(/^arn:aws:kms:eu-west-1:/);
    expect(a.outputs.databaseArn).toBe(source.outputs.arn);
    expect(a.outputs.failoverKmsKeyArn).toBe(regionKey.outputs.arn);
    const [replica] = b.ofType("aws:rds/instance:Instance");
    expect(replica.name).toBe("site-b-database-replica-postgres");
    expect(replica.inputs.replicateSourceDb).toBe(source.outputs.arn);
    expect(replica.inputs.kmsKeyId).toBe(regionKey.outputs.arn);
    // In site-b's own data subnets, behind its database group.
    const [subnets] = b.ofType("aws:rds/subnetGroup:SubnetGroup");
    expect(subnets.inputs.subnetIds).toEqual(
      b
        .ofType("aws:ec2/subnet:Subnet")
        .filter((x) => x.name.includes("-data-"))
        .map((x) => x.id),
    );
    expect(replica.inputs.vpcSecurityGroupIds).toEqual([b.named("site-b-network-database").id]);
    expect(b.outputs.databaseReplicaHost).toBe(replica.outputs.address);
  });

  it("points its PuppetDB at the replica it plans, and the primary's at the primary alone", () => {
    const replica = b.named("site-b-database-replica-postgres");
    const primary = a.named("site-a-database-postgres");
    const puppetdb = (run: Run) =>
      run.ofType("aws:ec2/instance:Instance").find((i) => hostEnv(i, "PUPPETDB_MIGRATE"))!;
    expect(hostEnv(puppetdb(b), "DB_REPLICA_HOST")).toBe(replica.outputs.address);
    expect(hostEnv(puppetdb(b), "DB_HOST")).toBe(primary.outputs.address);
    expect(hostEnv(puppetdb(b), "DB_CA_BUNDLE_URLS")?.split(" ")).toEqual([
      "https://truststore.pki.rds.amazonaws.com/us-east-1/us-east-1-bundle.pem",
      "https://truststore.pki.rds.amazonaws.com/eu-west-1/eu-west-1-bundle.pem",
    ]);
    expect(hostEnv(puppetdb(a), "DB_REPLICA_HOST")).toBeUndefined();
    expect(hostEnv(puppetdb(a), "DB_HOST")).toBe(primary.outputs.address);
  });

  it("runs the standby CA ca.site-b.<domain> pinning site-a's CA certificate, named in the zone and exported", () => {
    const standby = b.named("site-b-standby-ca-host-instance");
    // Its certificate comes from the active CA, which it pins as every server does.
    expect(hostEnv(standby, "CA_FINGERPRINT")).toBe(
      caFingerprint(a.outputs.caCertificatePem as string),
    );
    expect(hostEnv(standby, "CERTNAME")).toBe(`ca.site-b.${DOMAIN}`);
    expect(hostEnv(standby, "CA_MODE")).toBe("standby");
    const [serverSubnet] = b
      .ofType("aws:ec2/subnet:Subnet")
      .filter((x) => x.name === "site-b-network-servers-1");
    expect(standby.inputs.subnetId).toBe(serverSubnet.id);
    expect(standby.inputs.vpcSecurityGroupIds).toEqual([b.named("site-b-network-puppetserver").id]);
    const records = b
      .ofType("aws:route53/record:Record")
      .filter((r) => r.inputs.name === `ca.site-b.${DOMAIN}`);
    expect(records.map((r) => [r.inputs.type, r.inputs.zoneId, r.inputs.records])).toEqual([
      ["A", a.outputs.zoneId, [standby.outputs.privateIp]],
    ]);
    expect(b.outputs.standbyCaHost).toBe(`ca.site-b.${DOMAIN}`);
    // Only the failover site names the standby CA's host.
    expect(
      a.ofType("aws:route53/record:Record").filter((r) => r.inputs.name === `ca.site-b.${DOMAIN}`),
    ).toEqual([]);
  });

  /** Both stacks' configuration with `sites.site-b.failover` set. */
  const withFailover = (failover: boolean) => (stack: string) => {
    const cfg = readStackConfig(stack);
    const key = "puppet-multisite:sites";
    const sites = JSON.parse(cfg.config[key]) as Record<string, Record<string, unknown>>;
    sites["site-b"] = { ...sites["site-b"], failover };
    return { ...cfg, config: { ...cfg.config, [key]: JSON.stringify(sites) } };
  };

  it("is none with sites.site-b.failover false: no standby CA, no replica, no priority-1 CA target, no failover output", async () => {
    const plans = await planWithPeers("site-b", new Map(), withFailover(false));
    const offA = withQueries(plans.get("site-a")!);
    const offB = withQueries(plans.get("site-b")!);
    const counts = count(offB);
    for (const type of [
      "puppet:ca:StandbyCertificateAuthority",
      "puppet:database:PuppetDatabaseReplica",
      "aws:rds/instance:Instance",
    ]) {
      expect(counts[type], type).toBeUndefined();
    }
    expect(counts["aws:ec2/instance:Instance"]).toBe(3); // two masters, PuppetDB
    for (const run of [offA, offB]) {
      const caTargets = Object.entries(srv(run)).filter(([name]) =>
        name.startsWith("_x-puppet-ca."),
      );
      expect(caTargets.map(([, targets]) => targets)).toEqual([[`0 0 8140 ca.${DOMAIN}`]]);
      // No server reaches site-b's server tier on 8140 (the standby CA's).
      expect(
        run
          .ofType("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
          .filter((r) => r.inputs.cidrIpv4 === "10.50.64.0/18")
          .map((r) => r.name),
      ).toEqual([]);
    }
    expect(offB.outputs).not.toHaveProperty("standbyCaHost");
    expect(offB.outputs).not.toHaveProperty("databaseReplicaHost");
    expect(offA.outputs).not.toHaveProperty("failoverKmsKeyArn");
    // Its counterpart: the default plan has them.
    expect(Object.keys(b.outputs)).toEqual(
      expect.arrayContaining(["standbyCaHost", "databaseReplicaHost"]),
    );
  });

  it("reads no failover output when site-b is not the failover site: a primary without them will do", async () => {
    const { databaseArn: _arn, failoverKmsKeyArn: _key, ...older } = a.outputs;
    const plan = await planStack("site-b", {
      config: withFailover(false)("site-b"),
      peers: { "organization/puppet-multisite/site-a": older },
    });
    expect(count(plan)["puppet:site:Site"]).toBe(1);
    expect(count(plan)["puppet:database:PuppetDatabaseReplica"]).toBeUndefined();
  });
});

describe("both sites", () => {
  const both = () => [...a.resources, ...b.resources];

  it("run every compile master with the CA disabled, and only the two CAs with it enabled: site-a's active, site-b's standby", () => {
    const instances = both().filter((r) => r.type === "aws:ec2/instance:Instance");
    const role = (i: (typeof instances)[number]) =>
      (i.inputs.tags as Record<string, string>)["puppet:role"];
    const services = (i: (typeof instances)[number]) =>
      userDataFiles(instanceUserData(i.inputs))["/etc/puppet-multisite/puppetserver/ca.cfg"] ?? "";
    const masters = instances.filter((i) => role(i) === "compile-master");
    expect(masters).toHaveLength(4);
    expect(
      masters
        .filter((i) => !services(i).includes("certificate-authority-disabled-service"))
        .map((i) => i.name),
    ).toEqual([]);
    expect(
      instances
        .filter((i) =>
          services(i).includes("certificate-authority-service/certificate-authority-service"),
        )
        .map((i) => `${i.name} (${role(i)}, ${hostEnv(i, "CA_MODE")})`),
    ).toEqual([
      "site-a-ca-host-instance (ca, active)",
      "site-b-standby-ca-host-instance (ca, standby)",
    ]);
  });

  it("let each host read its secrets in its own region: the server challenge every server, the CA key and agent challenge the two CAs only", () => {
    const instances = both().filter((r) => r.type === "aws:ec2/instance:Instance");
    // A host's role, role policy and instance share the component's name.
    const reads = Object.fromEntries(
      instances.map((i) => {
        const host = i.name.replace(/-instance$/, "");
        const [policy] = both().filter(
          (r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name === `${host}-secrets`,
        );
        const doc = JSON.parse(policy.inputs.policy as string) as {
          Statement: { Sid: string; Resource: string | string[] }[];
        };
        const grant = doc.Statement.find((st) => st.Sid === "ReadOwnSecrets")!;
        const names = [grant.Resource]
          .flat()
          .map((arn) =>
            arn.replace(
              /^arn:aws:secretsmanager:([a-z0-9-]+):123456789012:secret:puppet-multisite\/site-a\/(.*)-\?{6}$/,
              "$1 $2",
            ),
          );
        return [i.name, names.sort()];
      }),
    );
    const server = (region: string) => [`${region} server-challenge`];
    const ca = (region: string) => [
      `${region} ca-key`,
      `${region} challenge`,
      `${region} server-challenge`,
    ];
    const puppetdb = (region: string) => [`${region} database`, `${region} server-challenge`];
    expect(reads).toEqual({
      "site-a-ca-host-instance": ca("us-east-1"),
      "site-a-masters-1-instance": server("us-east-1"),
      "site-a-masters-2-instance": server("us-east-1"),
      "site-a-puppetdb-instance": puppetdb("us-east-1"),
      "site-b-masters-1-instance": server("eu-west-1"),
      "site-b-masters-2-instance": server("eu-west-1"),
      "site-b-puppetdb-instance": puppetdb("eu-west-1"),
      "site-b-standby-ca-host-instance": ca("eu-west-1"),
    });
  });

  it("admit by IAM path: every host's role to the server challenge, only the two CAs' roles to the CA key", () => {
    // Instance roles: those EC2 assumes (the snapshot policy's role is DLM's).
    const roles = both().filter(
      (r) =>
        r.type === "aws:iam/role:Role" &&
        String(r.inputs.assumeRolePolicy).includes("ec2.amazonaws.com"),
    );
    expect(roles.map((r) => `${r.name} ${String(r.inputs.path)}`).sort()).toEqual([
      "site-a-ca-host-role /puppet-multisite/servers/ca/",
      "site-a-masters-1-role /puppet-multisite/servers/",
      "site-a-masters-2-role /puppet-multisite/servers/",
      "site-a-puppetdb-role /puppet-multisite/servers/",
      "site-b-masters-1-role /puppet-multisite/servers/",
      "site-b-masters-2-role /puppet-multisite/servers/",
      "site-b-puppetdb-role /puppet-multisite/servers/",
      "site-b-standby-ca-host-role /puppet-multisite/servers/ca/",
    ]);
    // The ARN AWS gives a role names its path (the mocks' ARNs leave it out).
    const arns = roles.map((r) => ({
      name: r.name,
      arn: `arn:aws:iam::123456789012:role${String(r.inputs.path)}${String(r.outputs.name)}`,
    }));
    const admitted = (part: string) => {
      const [policy] = a
        .ofType("aws:secretsmanager/secretPolicy:SecretPolicy")
        .filter((p) => p.name.startsWith(`site-a-ca-${part}-secret`));
      const doc = JSON.parse(policy.inputs.policy as string) as {
        Statement: { Condition: { ArnNotLike: { "aws:PrincipalArn": string[] } } }[];
      };
      const patterns = doc.Statement[0].Condition.ArnNotLike["aws:PrincipalArn"];
      return arns.filter((r) => patterns.some((p) => arnLike(p, r.arn))).map((r) => r.name);
    };
    expect(admitted("key")).toEqual(["site-a-ca-host-role", "site-b-standby-ca-host-role"]);
    expect(admitted("server-challenge")).toEqual(roles.map((r) => r.name));
  });

  itWithTools(
    ["cloud-init"],
    "give every instance user data that cloud-init's schema accepts",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "pm-planned-user-data-"));
      const instances = both().filter((r) => r.type === "aws:ec2/instance:Instance");
      expect(instances).toHaveLength(8);
      for (const instance of instances) {
        const file = join(dir, `${instance.name}.yaml`);
        writeFileSync(file, instanceUserData(instance.inputs));
        const result = runTool("cloud-init", ["schema", "--config-file", file]);
        expect(result.status, `${instance.name}: ${result.stdout}${result.stderr}`).toBe(0);
      }
    },
  );

  it("give every instance no public address, IMDSv2 and an encrypted root volume", () => {
    const instances = both().filter((r) => r.type === "aws:ec2/instance:Instance");
    expect(instances).toHaveLength(8);
    for (const i of instances) {
      expect(i.inputs.associatePublicIpAddress, i.name).toBe(false);
      expect(i.inputs.metadataOptions, i.name).toMatchObject({ httpTokens: "required" });
      expect(i.inputs.rootBlockDevice, i.name).toMatchObject({ encrypted: true });
    }
  });

  it("open no SSH, admit nothing from the Internet and reach it on 80 and 443 only: a sweep over every security-group rule", () => {
    const rules = both().filter((r) => r.type.startsWith("aws:vpc/securityGroup"));
    expect(rules.length).toBeGreaterThan(20);
    const allowed: Record<number, RegExp> = {
      // The sites' VPCs and agent networks in; out, the CA's server tier and the standby CA's.
      8140: /^(10\.40\.0\.0\/16|10\.50\.0\.0\/16|172\.2[01]\.0\.0\/16|10\.[45]0\.64\.0\/18)$/,
      8081: /^(10\.[45]0\.(64|128)\.0\/18)$/,
      5432: /^(10\.[45]0\.128\.0\/18)$/,
      // The Resolver endpoint: the agent networks only.
      53: /^172\.2[01]\.0\.0\/16$/,
      80: /^0\.0\.0\.0\/0$/,
      443: /^0\.0\.0\.0\/0$/,
    };
    for (const rule of rules) {
      const port = rule.inputs.fromPort as number;
      expect(port, rule.name).not.toBe(22);
      expect(rule.inputs.toPort, rule.name).toBe(port);
      expect(Object.keys(allowed).map(Number), rule.name).toContain(port);
      const ingress = rule.type.endsWith("IngressRule");
      if (ingress) expect(rule.inputs.cidrIpv4, rule.name).not.toBe("0.0.0.0/0");
      if (rule.inputs.cidrIpv4 !== undefined)
        expect(rule.inputs.cidrIpv4, rule.name).toMatch(allowed[port]);
      else expect(rule.inputs.referencedSecurityGroupId, rule.name).toBeTruthy();
    }
  });

  it("encrypt and protect the database and its replica, which is single-AZ and private", () => {
    const protectedDatabase = (db: PlannedResource, inputs: Record<string, unknown>) => {
      expect(db.inputs, db.name).toMatchObject({
        storageEncrypted: true,
        deletionProtection: true,
        publiclyAccessible: false,
        ...inputs,
      });
      expect(db.inputs.backupRetentionPeriod, db.name).toBeGreaterThanOrEqual(7);
      expect(db.protect, db.name).toBe(true);
    };
    protectedDatabase(a.ofType("aws:rds/instance:Instance")[0], {
      multiAz: true,
      skipFinalSnapshot: false,
    });
    // RDS deletes a replica only without a final snapshot; its data is the source's.
    protectedDatabase(b.ofType("aws:rds/instance:Instance")[0], {
      multiAz: false,
      skipFinalSnapshot: true,
    });
  });

  it("protect every CA key and certificate, random password, secret, database, hosted zone, KMS key, KMS replica key and state volume", () => {
    const statefulTypes = [
      "tls:index/privateKey:PrivateKey",
      "tls:index/selfSignedCert:SelfSignedCert",
      "random:index/randomPassword:RandomPassword",
      "aws:secretsmanager/secret:Secret",
      "aws:rds/instance:Instance",
      "aws:route53/zone:Zone",
      "aws:kms/key:Key",
      "aws:kms/replicaKey:ReplicaKey",
      "aws:ebs/volume:Volume",
    ];
    const stateful = both().filter((r) => statefulTypes.includes(r.type));
    // Every type is there (site-a holds them all), so the sweep below is not vacuous.
    expect([...new Set(stateful.map((r) => r.type))].sort()).toEqual([...statefulTypes].sort());
    expect(stateful.filter((r) => !r.protect).map((r) => `${r.type} ${r.name}`)).toEqual([]);
  });

  it("keep each CA's (the active and the standby) and each PuppetDB's state on a volume in its host's zone, snapshotted and copied to the other site's region", () => {
    for (const [run, site, other] of [
      [a, "site-a", "eu-west-1"],
      [b, "site-b", "us-east-1"],
    ] as const) {
      const volumes = run.ofType("aws:ebs/volume:Volume");
      const roles = volumes.map((v) => (v.inputs.tags as Record<string, string>)["puppet:role"]);
      expect(roles.sort()).toEqual(["ca", "puppetdb"]);
      const zoneOfSubnet = new Map(
        run.ofType("aws:ec2/subnet:Subnet").map((s) => [s.id, s.inputs.availabilityZone]),
      );
      for (const v of volumes) {
        const role = (v.inputs.tags as Record<string, string>)["puppet:role"];
        const [instance] = run
          .ofType("aws:ec2/instance:Instance")
          .filter((i) => (i.inputs.tags as Record<string, string>)["puppet:role"] === role);
        expect(v.inputs.availabilityZone).toBe(
          zoneOfSubnet.get(instance.inputs.subnetId as string),
        );
        expect(v.inputs.tags).toMatchObject({ "puppet:snapshots": `puppet-multisite-${site}` });
      }
      const [policy] = run.ofType("aws:dlm/lifecyclePolicy:LifecyclePolicy");
      const details = policy.inputs.policyDetails as {
        targetTags: Record<string, string>;
        schedules: { crossRegionCopyRules: { target: string; encrypted: boolean }[] }[];
      };
      expect(details.targetTags).toEqual({ "puppet:snapshots": `puppet-multisite-${site}` });
      expect(details.schedules[0].crossRegionCopyRules).toMatchObject([
        { target: other, encrypted: true },
      ]);
    }
  });

  it("keep secrets secret: no planned secret value appears in any input or output", () => {
    const text = JSON.stringify([a.resources, a.outputs, b.resources, b.outputs]);
    expect(text).not.toMatch(/planned-[0-9a-f]{8}/); // random passwords under the mocks
    expect(text).not.toContain("PRIVATE KEY");
    const versions = both().filter(
      (x) => x.type === "aws:secretsmanager/secretVersion:SecretVersion",
    );
    expect(versions.length).toBeGreaterThan(0);
    expect(versions.filter((r) => r.inputs.secretString !== SECRET).map((r) => r.name)).toEqual([]);
  });
});

describe("configuration", () => {
  const withConfig = (stack: string, change: (c: Record<string, string>) => void) => {
    const cfg = readStackConfig(stack);
    const config = { ...cfg.config };
    change(config);
    return { ...cfg, config };
  };

  it("fails when a secondary has no peer stack, before creating any resource", async () => {
    const cfg = withConfig("site-b", (c) => delete c["puppet-multisite:peerStack"]);
    const err = await planStack("site-b", { config: cfg }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlanError);
    expect((err as PlanError).message).toContain(
      "config peerStack: got nothing (the key is not set)",
    );
    expect((err as PlanError).resources.map((r) => r.type)).toEqual(["pulumi:pulumi:Stack"]);
  });

  it.each([
    ["an output every secondary reads", ["zoneId", "caCertificatePem"]],
    // An older primary: site-b is the failover site, by default.
    ["the outputs the failover site reads besides", ["databaseArn", "failoverKmsKeyArn"]],
  ])(
    "fails when the primary's stack lacks %s, before creating anything else",
    async (_, missing) => {
      const partial = Object.fromEntries(
        Object.entries(a.outputs).filter(([name]) => !missing.includes(name)),
      );
      const err = await planStack("site-b", {
        config: readStackConfig("site-b"),
        peers: { "organization/puppet-multisite/site-a": partial },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PlanError);
      expect((err as PlanError).message).toContain(
        `config peerStack: stack "organization/puppet-multisite/site-a" has no output ${missing.map((m) => JSON.stringify(m)).join(", ")}`,
      );
      expect((err as PlanError).resources.map((r) => r.type).sort()).toEqual([
        "pulumi:pulumi:Stack",
        "pulumi:pulumi:StackReference",
      ]);
    },
  );

  it("fails when the peer stack describes another site than the primary in the catalogue", async () => {
    const err = await planStack("site-b", {
      config: readStackConfig("site-b"),
      peers: { "organization/puppet-multisite/site-a": { ...a.outputs, vpcCidr: "10.99.0.0/16" } },
    }).catch((e: unknown) => e);
    expect((err as Error).message).toContain(
      'output vpcCidr of organization/puppet-multisite/site-a is "10.99.0.0/16" but sites.site-a.vpcCidr is "10.40.0.0/16"',
    );
  });

  it("fails when a key is unknown (a typo), naming the keys there are", async () => {
    const cfg = withConfig("site-a", (c) => (c["puppet-multisite:master"] = '{"count": 3}'));
    await expect(planStack("site-a", { config: cfg })).rejects.toThrow(
      /config master: got "\(set\)"; unknown key; the keys are: domain, sites, .*, masters, /,
    );
  });

  it("fails when the pool is empty", async () => {
    const cfg = withConfig("site-a", (c) => (c["puppet-multisite:masters"] = '{"count": 0}'));
    await expect(planStack("site-a", { config: cfg })).rejects.toThrow(
      "config masters.count: got 0; expected a whole number from 1 to 250",
    );
  });

  it("follows no SSM parameter: the image comes from the configuration alone", () => {
    // The only data sources: account, partition, zones and the pinned image's lookup by name.
    expect(
      [...(a.calls ?? []), ...(b.calls ?? [])].filter((c) => c.startsWith("aws:ssm/")),
    ).toEqual([]);
    expect(a.calls).toContain("aws:ec2/getAmi:getAmi");
  });

  it("replaces every host, and only hosts, when the stack's configured image changes", async () => {
    const cfg = withConfig(
      "site-a",
      (c) => (c["puppet-multisite:image"] = "debian-12-amd64-20250101-1999"),
    );
    const next = withQueries(await planStack("site-a", { config: cfg }));
    const changed = next.resources.filter((r) => {
      const before = a.resources.find((x) => x.urn === r.urn);
      return before !== undefined && !isDeepStrictEqual(before.inputs, r.inputs);
    });
    expect(changed.map((r) => r.type)).toEqual(
      a.ofType("aws:ec2/instance:Instance").map(() => "aws:ec2/instance:Instance"),
    );
    for (const r of changed) {
      const before = a.resources.find((x) => x.urn === r.urn)!;
      const props = Object.keys(r.inputs).filter(
        (k) => !isDeepStrictEqual(before.inputs[k], r.inputs[k]),
      );
      expect(props).toEqual(["ami"]);
      expect(forcesReplacement(before, r, "ami")).toBe(true);
    }
  });

  it("adds a third site with one more stack's config and no code change", async () => {
    const sites = JSON.stringify({
      "site-a": { region: "us-east-1", vpcCidr: "10.40.0.0/16" },
      "site-b": { region: "eu-west-1", vpcCidr: "10.50.0.0/16" },
      "site-c": { region: "ap-southeast-2", vpcCidr: "10.60.0.0/16" },
    });
    const cfg = withConfig("site-b", (c) => {
      c["puppet-multisite:sites"] = sites;
      c["aws:region"] = "ap-southeast-2";
      c["puppet-multisite:masters"] = '{"count": 3}';
    });
    const plan = withQueries(
      await planStack("site-c", {
        config: { ...cfg, stack: "site-c" },
        peers: { "organization/puppet-multisite/site-a": a.outputs },
      }),
    );
    expect(srv(plan)[`_x-puppet._tcp.site-c.${DOMAIN}`]).toEqual([
      `0 10 8140 master-1.site-c.${DOMAIN}`,
      `0 10 8140 master-2.site-c.${DOMAIN}`,
      `0 10 8140 master-3.site-c.${DOMAIN}`,
      `1 10 8140 pool.site-a.${DOMAIN}`,
      `1 10 8140 pool.site-b.${DOMAIN}`,
    ]);
  });
});

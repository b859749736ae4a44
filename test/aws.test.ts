// What a real AWS account needs that Pulumi's mocks would accept anyway, checked over the whole
// plans of both stacks and of a third site's: routes that survive a refresh, a Resolver endpoint for
// the agent networks, load balancers with security groups and replaceable names, secret policies,
// and extra providers that carry the stack's credentials.
import { beforeAll, describe, expect, it } from "vitest";
import { lastUsableAddress, subnetCidr } from "../infra/cidr";
import { PlannedResource, planStack } from "../tools/plan/plan";
import { StackConfig, readStackConfig } from "../tools/plan/stack-config";
import { instanceUserData } from "../infra/hostconfig";
import { SSH_HOST_KEY } from "./fixtures";
import { Run, userDataFiles, withQueries } from "./harness";

const PROJECT = "puppet-multisite";
const ADMINS = [
  "arn:aws:iam::123456789012:role/deployer",
  "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_Admin_*",
];
const SITES = {
  "site-a": { region: "us-east-1", vpcCidr: "10.40.0.0/16", agentCidrs: ["172.20.0.0/16"] },
  "site-b": { region: "eu-west-1", vpcCidr: "10.50.0.0/16", agentCidrs: ["172.21.0.0/16"] },
  "site-c": { region: "ap-southeast-2", vpcCidr: "10.60.0.0/16", agentCidrs: [] },
};
const AGENT_CIDRS = ["172.20.0.0/16", "172.21.0.0/16"];

/** A stack of the three-site deployment: the repository's stack files, one more site in the catalogue. */
function stackConfig(stack: keyof typeof SITES, extra: Record<string, string> = {}): StackConfig {
  const cfg = readStackConfig(stack === "site-a" ? "site-a" : "site-b");
  return {
    ...cfg,
    stack,
    config: {
      ...cfg.config,
      "aws:region": SITES[stack].region,
      [`${PROJECT}:sites`]: JSON.stringify(SITES),
      [`${PROJECT}:secretAdministrators`]: JSON.stringify(ADMINS),
      ...extra,
    },
  };
}

const plans: Record<string, Run> = {};
const all = () => Object.values(plans).flatMap((p) => p.resources);

beforeAll(async () => {
  const extra = { "aws:profile": "puppet-ops" };
  plans["site-a"] = withQueries(
    await planStack("site-a", { config: stackConfig("site-a", extra) }),
  );
  const peers = { [`organization/${PROJECT}/site-a`]: plans["site-a"].outputs };
  for (const stack of ["site-b", "site-c"] as const) {
    plans[stack] = withQueries(
      await planStack(stack, { config: stackConfig(stack, extra), peers }),
    );
  }
});

const inputs = (r: PlannedResource) => r.inputs;

describe("routes", () => {
  it("no route table of any stack has inline routes", () => {
    const tables = all().filter((r) => r.type === "aws:ec2/routeTable:RouteTable");
    expect(tables).toHaveLength(9); // a public and two private tables per site
    expect(tables.filter((t) => inputs(t).routes !== undefined).map((t) => t.urn)).toEqual([]);
  });

  it("every private table reaches the Internet through its NAT and every other site through the peering", () => {
    const routes = all().filter((r) => r.type === "aws:ec2/route:Route");
    for (const [site, plan] of Object.entries(plans)) {
      const others = Object.entries(SITES).filter(([name]) => name !== site);
      for (const table of plan.ofType("aws:ec2/routeTable:RouteTable")) {
        const destinations = routes
          .filter((r) => inputs(r).routeTableId === table.id)
          .map((r) => inputs(r).destinationCidrBlock)
          .sort();
        // The primary peers with every secondary, each secondary with the primary only.
        const peered = table.name.includes("private")
          ? others
              .filter(([name]) => site === "site-a" || name === "site-a")
              .map(([, s]) => s.vpcCidr)
          : [];
        expect(destinations, `${site} ${table.name}`).toEqual(["0.0.0.0/0", ...peered].sort());
      }
    }
  });
});

describe("the Route 53 Resolver inbound endpoint", () => {
  it("runs in two zones of every site whose catalogue has agent networks, at fixed addresses it exports", () => {
    for (const [site, plan] of Object.entries(plans)) {
      const [endpoint] = plan.ofType("aws:route53/resolverEndpoint:ResolverEndpoint");
      const { vpcCidr } = SITES[site as keyof typeof SITES];
      const addresses = [0, 1].map((i) => lastUsableAddress(subnetCidr(vpcCidr, "servers", i)));
      expect(inputs(endpoint).direction).toBe("INBOUND");
      const ips = inputs(endpoint).ipAddresses as { subnetId: string; ip: string }[];
      expect(ips.map((x) => x.ip)).toEqual(addresses);
      const zones = ips.map(
        (x) => inputs(plan.resources.find((s) => s.id === x.subnetId)!).availabilityZone,
      );
      expect(new Set(zones).size).toBe(2);
      expect(plan.outputs.resolverAddresses).toEqual(addresses);
      expect(endpoint.deleteBeforeReplace).toBe(true);
    }
  });

  it("admits DNS over UDP and TCP from the catalogue's agent networks and nothing else", () => {
    for (const plan of Object.values(plans)) {
      const [endpoint] = plan.ofType("aws:route53/resolverEndpoint:ResolverEndpoint");
      const [group] = inputs(endpoint).securityGroupIds as string[];
      const rules = plan.resources.filter(
        (r) => r.type.startsWith("aws:vpc/securityGroup") && inputs(r).securityGroupId === group,
      );
      expect(
        rules
          .map(
            (r) =>
              `${r.type.split(":").pop()} ${String(inputs(r).ipProtocol)} ${String(inputs(r).fromPort)}-${String(inputs(r).toPort)} ${String(inputs(r).cidrIpv4)}`,
          )
          .sort(),
      ).toEqual(
        AGENT_CIDRS.flatMap((cidr) => [
          `SecurityGroupIngressRule tcp 53-53 ${cidr}`,
          `SecurityGroupIngressRule udp 53-53 ${cidr}`,
        ]).sort(),
      );
    }
  });
});

describe("the compile masters' load balancers", () => {
  it("have a security group admitting 8140 from the sites' VPCs and agent networks, forwarding to the masters only", () => {
    for (const [site, plan] of Object.entries(plans)) {
      const [lb] = plan.ofType("aws:lb/loadBalancer:LoadBalancer");
      const [group] = inputs(lb).securityGroups as string[];
      expect(group, site).toBeTruthy();
      const rules = plan.resources.filter(
        (r) => r.type.startsWith("aws:vpc/securityGroup") && inputs(r).securityGroupId === group,
      );
      const ingress = rules.filter((r) => r.type.endsWith("IngressRule"));
      expect(ingress.map((r) => inputs(r).cidrIpv4).sort()).toEqual(
        [...Object.values(SITES).map((s) => s.vpcCidr), ...AGENT_CIDRS].sort(),
      );
      expect(new Set(ingress.map((r) => inputs(r).fromPort))).toEqual(new Set([8140]));
      const egress = rules.filter((r) => r.type.endsWith("EgressRule"));
      const masters = plan.ofType("aws:ec2/instance:Instance")[0];
      expect(egress.map((r) => [inputs(r).fromPort, inputs(r).referencedSecurityGroupId])).toEqual([
        [8140, (inputs(masters).vpcSecurityGroupIds as string[])[0]],
      ]);
    }
  });

  it("carry no fixed name: each ends in a suffix a replacement draws anew", () => {
    for (const plan of Object.values(plans)) {
      for (const type of ["aws:lb/loadBalancer:LoadBalancer", "aws:lb/targetGroup:TargetGroup"]) {
        const [r] = plan.ofType(type);
        const name = inputs(r).name as string;
        const suffix = plan
          .ofType("random:index/randomString:RandomString")
          .find((s) => name.endsWith(`-${s.outputs.result as string}`));
        expect(suffix, name).toBeDefined();
        expect(name.length).toBeLessThanOrEqual(32);
      }
    }
  });
});

describe("secrets", () => {
  const policies = () =>
    Object.fromEntries(
      plans["site-a"]
        .ofType("aws:secretsmanager/secretPolicy:SecretPolicy")
        .map((p) => [p.name, JSON.parse(inputs(p).policy as string) as PolicyDocument]),
    );
  interface PolicyDocument {
    Statement: { Resource: string; Condition: { ArnNotLike: { "aws:PrincipalArn": string[] } } }[];
  }

  it("let only the CAs' roles, by their IAM path, and the administrators read the CA key, in every region", () => {
    const caKey = Object.entries(policies()).find(([name]) => name.includes("key-secret"))![1];
    expect(caKey.Statement).toHaveLength(1);
    expect(caKey.Statement[0].Resource).toBe("*");
    expect(caKey.Statement[0].Condition.ArnNotLike["aws:PrincipalArn"]).toEqual([
      `arn:aws:iam::123456789012:role/${PROJECT}/servers/ca/*`,
      ...ADMINS,
    ]);
    // Under that path: the CA host's role alone, in three sites with no failover site (no standby).
    const caRoles = all().filter(
      (r) =>
        r.type === "aws:iam/role:Role" &&
        String(inputs(r).path).startsWith(`/${PROJECT}/servers/ca/`),
    );
    expect(caRoles.map((r) => `${r.name} ${String(inputs(r).path)}`)).toEqual([
      `site-a-ca-host-role /${PROJECT}/servers/ca/`,
    ]);
  });

  it("replicate the CA key to every other site's region", () => {
    const secret = plans["site-a"]
      .ofType("aws:secretsmanager/secret:Secret")
      .find((s) => (inputs(s).name as string).endsWith("/ca-key"))!;
    expect((inputs(secret).replicas as { region: string }[]).map((r) => r.region).sort()).toEqual([
      "ap-southeast-2",
      "eu-west-1",
    ]);
  });
});

describe("providers", () => {
  it("every extra provider carries the stack's aws:profile, with only its region changed", () => {
    const providers = all().filter((r) => r.type === "pulumi:providers:aws");
    // The KMS replicas (two regions) on the primary, the peering accepter on each secondary.
    expect(providers).toHaveLength(4);
    for (const p of providers) {
      expect(inputs(p).profile, p.urn).toBe("puppet-ops");
      expect(Object.values(SITES).map((s) => s.region)).toContain(inputs(p).region);
    }
  });
});

describe("control repository credentials", () => {
  it("let each site's masters read the deploy key in their own region, and stage the host keys", async () => {
    const knownHost = `[git.example.com]:2222 ${SSH_HOST_KEY}`;
    const repo = {
      url: "ssh://git@git.example.com:2222/puppet/control.git",
      sshKeySecret: "puppet/deploy-key",
      knownHosts: [knownHost],
    };
    const peers = { [`organization/${PROJECT}/site-a`]: plans["site-a"].outputs };
    const plan = withQueries(
      await planStack("site-c", {
        config: stackConfig("site-c", { [`${PROJECT}:controlRepo`]: JSON.stringify(repo) }),
        peers,
      }),
    );
    const region = SITES["site-c"].region;
    const masters = plan
      .ofType("aws:ec2/instance:Instance")
      .filter((i) => (i.inputs.tags as Record<string, string>)["puppet:role"] === "compile-master");
    expect(masters.length).toBeGreaterThan(0);
    for (const instance of masters) {
      const host = instance.name.replace(/-instance$/, "");
      const policy = plan
        .ofType("aws:iam/rolePolicy:RolePolicy")
        .find((p) => p.name === `${host}-secrets`)!;
      expect(policy.inputs.policy as string).toContain(
        `arn:aws:secretsmanager:${region}:123456789012:secret:puppet/deploy-key-??????`,
      );
      const files = userDataFiles(instanceUserData(instance.inputs));
      const env = files["/etc/puppet-multisite/host.env"];
      expect(env).toContain("CONTROL_REPO_SECRET_NAME='puppet/deploy-key'");
      expect(env).toContain(`CONTROL_REPO_SECRET_REGION='${region}'`);
      expect(env).toContain(
        "CONTROL_REPO_KNOWN_HOSTS='/etc/puppet-multisite/control-repo-known-hosts'",
      );
      expect(files["/etc/puppet-multisite/control-repo-known-hosts"]).toBe(`${knownHost}\n`);
      // The key itself never: only its name.
      expect(JSON.stringify(instance.inputs)).not.toContain("PRIVATE KEY");
    }
  });
});

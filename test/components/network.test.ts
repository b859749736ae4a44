import { describe, expect, it } from "vitest";
import { SiteNetwork, SiteNetworkArgs } from "../../infra/components/network";
import { FirewallInput } from "../../infra/firewall";
import { Run, runProgram } from "../harness";

const sites = [
  { name: "site-a", vpcCidr: "10.40.0.0/16", agentCidrs: ["172.20.0.0/16"] },
  { name: "site-b", vpcCidr: "10.50.0.0/16", agentCidrs: [] },
];
const firewall = (site: string): FirewallInput => ({
  site,
  sites,
  primarySite: "site-a",
});

const CIDRS: Record<string, string> = { "site-a": "10.40.0.0/16", "site-b": "10.50.0.0/16" };
const REGIONS: Record<string, string> = { "site-a": "us-east-1", "site-b": "eu-west-1" };

/**
 * Plans the network of a site, in that site's region (with `zoneCount` zones, default 4, after an
 * opted-in Local Zone), where zones lack the instance types `missingOfferings` names.
 */
const network = (
  site: string,
  overrides: Partial<SiteNetworkArgs> = {},
  zoneCount?: number,
  missingOfferings?: Record<string, string[]>,
) =>
  runProgram(
    () =>
      void new SiteNetwork(`${site}-network`, {
        region: REGIONS[site],
        cidr: CIDRS[site],
        azCount: 2,
        instanceTypes: ["m6i.large", "r6i.large"],
        firewall: firewall(site),
        ...overrides,
      }),
    { region: REGIONS[site], zoneCount, missingOfferings },
  );

const zonesOf = (run: Run) =>
  [...new Set(run.ofType("aws:ec2/subnet:Subnet").map((s) => s.inputs.availabilityZone))].sort();

/** site-a, as site-b peers with it. */
const PEER = {
  vpcId: "vpc-primary",
  cidr: "10.40.0.0/16",
  region: "us-east-1",
  routeTableIds: ["rtb-a1", "rtb-a2"],
};

const INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
const EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule";

describe("SiteNetwork", () => {
  it("fails when the region has fewer zones than availabilityZoneCount, naming both", async () => {
    await expect(network("site-a", { azCount: 3 }, 2)).rejects.toThrow(
      "availabilityZoneCount is 3 but only 2 zone(s) of the region need no opt-in and offer every instance type (m6i.large, r6i.large): us-east-1a, us-east-1b. Lower availabilityZoneCount to 2",
    );
  });

  it("uses every zone of a region that has exactly availabilityZoneCount", async () => {
    const run = await network("site-a", { azCount: 3 }, 3);
    expect(zonesOf(run)).toEqual(["us-east-1a", "us-east-1b", "us-east-1c"]);
  });

  it("never uses the opted-in Local Zone the region lists first", async () => {
    const run = await network("site-a", { azCount: 2 });
    expect(zonesOf(run)).toEqual(["us-east-1a", "us-east-1b"]);
  });

  it("skips zones that lack a configured instance type, and names them when too few remain", async () => {
    const run = await network("site-a", { azCount: 2 }, 4, { "us-east-1a": ["r6i.large"] });
    expect(zonesOf(run)).toEqual(["us-east-1b", "us-east-1c"]);
    await expect(
      network("site-a", { azCount: 3 }, 3, { "us-east-1b": ["m6i.large", "r6i.large"] }),
    ).rejects.toThrow(
      "only 2 zone(s) of the region need no opt-in and offer every instance type (m6i.large, r6i.large): us-east-1a, us-east-1c; us-east-1b lacks m6i.large, r6i.large",
    );
  });

  it("carves public, server and data subnets in every AZ, each private AZ behind its own NAT", async () => {
    const run = await network("site-a", { azCount: 3 });
    const subnets = run.ofType("aws:ec2/subnet:Subnet");
    expect(subnets.map((s) => s.inputs.cidrBlock).sort()).toEqual(
      [
        "10.40.0.0/20",
        "10.40.16.0/20",
        "10.40.32.0/20",
        "10.40.64.0/20",
        "10.40.80.0/20",
        "10.40.96.0/20",
        "10.40.128.0/20",
        "10.40.144.0/20",
        "10.40.160.0/20",
      ].sort(),
    );
    expect(new Set(subnets.map((s) => s.inputs.availabilityZone))).toEqual(
      new Set(["us-east-1a", "us-east-1b", "us-east-1c"]),
    );
    expect(
      subnets.filter((s) => s.inputs.mapPublicIpOnLaunch !== false).map((s) => s.name),
    ).toEqual([]);
    const nats = run.ofType("aws:ec2/natGateway:NatGateway");
    expect(nats).toHaveLength(3);
    const privateTables = run
      .ofType("aws:ec2/routeTable:RouteTable")
      .filter((t) => t.name.includes("private"));
    expect(privateTables).toHaveLength(3);
    const defaults = run
      .ofType("aws:ec2/route:Route")
      .filter((r) => r.inputs.destinationCidrBlock === "0.0.0.0/0" && r.inputs.natGatewayId);
    expect(defaults.map((r) => r.inputs.routeTableId).sort()).toEqual(
      privateTables.map((t) => t.id).sort(),
    );
    // Its own NAT: each gateway serves exactly one private route table.
    expect(defaults.map((r) => r.inputs.natGatewayId).sort()).toEqual(nats.map((n) => n.id).sort());
  });

  it("opens no port to the Internet and no SSH at all", async () => {
    const run = await network("site-a");
    const ingress = run.ofType(INGRESS);
    expect(ingress.length).toBeGreaterThan(0);
    for (const rule of ingress) {
      expect(rule.inputs.cidrIpv4, rule.name).not.toBe("0.0.0.0/0");
      expect(rule.inputs.fromPort, rule.name).not.toBe(22);
      expect(rule.inputs.fromPort, rule.name).toBe(rule.inputs.toPort);
      // UDP for DNS only.
      if (rule.inputs.ipProtocol !== "tcp") {
        expect([rule.inputs.ipProtocol, rule.inputs.fromPort], rule.name).toEqual(["udp", 53]);
      }
    }
    for (const rule of run.ofType(EGRESS)) {
      if (rule.inputs.cidrIpv4 === "0.0.0.0/0")
        expect([80, 443], rule.name).toContain(rule.inputs.fromPort);
    }
    // Security groups carry no inline rules, so AWS's default allow-all egress is gone.
    for (const group of run.ofType("aws:ec2/securityGroup:SecurityGroup")) {
      expect(group.inputs.egress).toEqual([]);
      expect(group.inputs.ingress).toEqual([]);
    }
  });

  it("admits 8140 from both sites' VPCs and the agent networks only", async () => {
    const run = await network("site-a");
    const puppet = run
      .ofType(INGRESS)
      .filter((r) => r.inputs.fromPort === 8140 && r.name.includes("-puppetserver-"));
    expect(puppet.map((r) => r.inputs.cidrIpv4).sort()).toEqual([
      "10.40.0.0/16",
      "10.50.0.0/16",
      "172.20.0.0/16",
    ]);
  });

  it("puts no inline route on any table: every route is a resource a refresh cannot drop", async () => {
    const run = await network("site-b", {
      peer: PEER,
    });
    const tables = run.ofType("aws:ec2/routeTable:RouteTable");
    expect(tables).toHaveLength(3);
    expect(tables.filter((t) => t.inputs.routes !== undefined).map((t) => t.name)).toEqual([]);
    const routes = run.ofType("aws:ec2/route:Route");
    // Each table of this site: a default route, and (private ones) the route to the peer.
    for (const table of tables) {
      const own = routes.filter((r) => r.inputs.routeTableId === table.id);
      const destinations = own.map((r) => r.inputs.destinationCidrBlock).sort();
      expect(destinations, table.name).toEqual(
        table.name.includes("private") ? ["0.0.0.0/0", "10.40.0.0/16"] : ["0.0.0.0/0"],
      );
    }
  });

  it("admits DNS from the agent networks alone, over UDP and TCP", async () => {
    const run = await network("site-b");
    const dns = run.ofType(INGRESS).filter((r) => r.inputs.fromPort === 53);
    expect(
      dns.map((r) => `${String(r.inputs.ipProtocol)} ${String(r.inputs.cidrIpv4)}`).sort(),
    ).toEqual(["tcp 172.20.0.0/16", "udp 172.20.0.0/16"]);
    expect(new Set(dns.map((r) => r.name.split("-ingress")[0]))).toEqual(
      new Set(["site-b-network-resolver"]),
    );
  });

  it("peers a secondary with the primary, accepting in the primary's region, with routes both ways", async () => {
    const run = await network("site-b", {
      peer: PEER,
    });
    const [connection] = run.ofType("aws:ec2/vpcPeeringConnection:VpcPeeringConnection");
    expect(connection.inputs).toMatchObject({ peerVpcId: "vpc-primary", peerRegion: "us-east-1" });
    const [accepter] = run.ofType(
      "aws:ec2/vpcPeeringConnectionAccepter:VpcPeeringConnectionAccepter",
    );
    expect(accepter.inputs.autoAccept).toBe(true);
    const [provider] = run.ofType("pulumi:providers:aws");
    expect(provider.inputs.region).toBe("us-east-1");
    expect(provider.inputs.profile).toBeUndefined();
    expect(accepter.provider).toContain(provider.urn);

    const routes = run.ofType("aws:ec2/route:Route");
    const toPeer = routes.filter((r) => r.inputs.destinationCidrBlock === "10.40.0.0/16");
    const fromPeer = routes.filter((r) => r.inputs.destinationCidrBlock === "10.50.0.0/16");
    expect(toPeer).toHaveLength(2);
    expect(fromPeer.map((r) => r.inputs.routeTableId).sort()).toEqual(["rtb-a1", "rtb-a2"]);
    expect(fromPeer.filter((r) => !r.provider?.includes(provider.urn)).map((r) => r.name)).toEqual(
      [],
    );
    expect(toPeer.filter((r) => r.provider?.includes(provider.urn)).map((r) => r.name)).toEqual([]);
  });

  it("gives a secondary no database security group", async () => {
    const run = await network("site-b");
    expect(
      run
        .ofType("aws:ec2/securityGroup:SecurityGroup")
        .map((g) => g.name)
        .sort(),
    ).toEqual([
      "site-b-network-balancer",
      "site-b-network-puppetdb",
      "site-b-network-puppetserver",
      "site-b-network-resolver",
    ]);
  });

  it("fails when asked for fewer than two AZs", async () => {
    await expect(network("site-a", { azCount: 1 })).rejects.toThrow(
      "azCount must be between 2 and 4, got: 1",
    );
  });

  it("gives the peer region's provider the stack's credentials and settings, with only the region changed", async () => {
    const run = await runProgram(
      () =>
        void new SiteNetwork("site-b-network", {
          region: REGIONS["site-b"],
          cidr: CIDRS["site-b"],
          azCount: 2,
          instanceTypes: ["m6i.large"],
          firewall: firewall("site-b"),
          peer: {
            vpcId: "vpc-primary",
            cidr: "10.40.0.0/16",
            region: "us-east-1",
            routeTableIds: [],
          },
        }),
      {
        region: "eu-west-1",
        config: {
          "aws:profile": "ops",
          "aws:assumeRoles": JSON.stringify([{ roleArn: "arn:aws:iam::123456789012:role/deploy" }]),
          "aws:defaultTags": JSON.stringify({ tags: { team: "puppet" } }),
          "aws:maxRetries": "7",
        },
      },
    );
    const [provider] = run.ofType("pulumi:providers:aws");
    // A provider's inputs travel to the engine JSON-encoded, as the provider's schema decodes them.
    const decoded = Object.fromEntries(
      Object.entries(provider.inputs).map(([k, v]) => [
        k,
        typeof v === "string" && /^[[{\d]/.test(v) ? (JSON.parse(v) as unknown) : v,
      ]),
    );
    expect(decoded).toMatchObject({
      region: "us-east-1",
      profile: "ops",
      assumeRoles: [{ roleArn: "arn:aws:iam::123456789012:role/deploy" }],
      defaultTags: { tags: { team: "puppet" } },
      maxRetries: 7,
    });
  });
});

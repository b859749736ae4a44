import { describe, expect, it } from "vitest";
import { ServiceDiscovery, ServiceDiscoveryArgs } from "../../infra/components/service-discovery";
import { siteSrvRecords } from "../../infra/dns-records";
import { runProgram } from "../harness";

const DOMAIN = "puppet.example.internal";
const args = (
  site: string,
  overrides: Partial<ServiceDiscoveryArgs> = {},
): ServiceDiscoveryArgs => ({
  domain: DOMAIN,
  site,
  region: site === "site-a" ? "us-east-1" : "eu-west-1",
  vpcId: `vpc-${site}`,
  srvRecords: siteSrvRecords({
    site,
    domain: DOMAIN,
    sites: ["site-a", "site-b"],
    masterCount: 2,
    masterWeight: 20,
  }),
  hosts: [
    { hostName: `master-1.${site}.${DOMAIN}`, privateIp: "10.40.64.4" },
    { hostName: `master-2.${site}.${DOMAIN}`, privateIp: "10.40.80.4" },
  ],
  pool: {
    hostName: `pool.${site}.${DOMAIN}`,
    dnsName: "nlb.example.amazonaws.com",
    zoneId: "ZNLB",
  },
  genericName: `puppet.${DOMAIN}`,
  ...overrides,
});

type Record53 = {
  name: string;
  type: string;
  records?: string[];
  setIdentifier?: string;
  aliases?: unknown[];
  latencyRoutingPolicies?: unknown[];
};

describe("ServiceDiscovery", () => {
  it("on the primary, creates the protected private zone for the domain in the site's VPC", async () => {
    const run = await runProgram(() => void new ServiceDiscovery("site-a-dns", args("site-a")));
    const [zone] = run.ofType("aws:route53/zone:Zone");
    expect(zone.inputs).toMatchObject({
      name: DOMAIN,
      vpcs: [{ vpcId: "vpc-site-a", vpcRegion: "us-east-1" }],
    });
    expect(zone.protect).toBe(true);
    expect(run.ofType("aws:route53/zoneAssociation:ZoneAssociation")).toHaveLength(0);
  });

  it("on a secondary, associates its VPC with the primary's zone and creates none", async () => {
    const run = await runProgram(
      () => void new ServiceDiscovery("site-b-dns", args("site-b", { zoneId: "ZPRIMARY" })),
      {
        region: "eu-west-1",
      },
    );
    expect(run.ofType("aws:route53/zone:Zone")).toHaveLength(0);
    const [association] = run.ofType("aws:route53/zoneAssociation:ZoneAssociation");
    expect(association.inputs).toMatchObject({
      zoneId: "ZPRIMARY",
      vpcId: "vpc-site-b",
      vpcRegion: "eu-west-1",
    });
    const records = run.ofType("aws:route53/record:Record");
    expect(records.length).toBeGreaterThan(0);
    expect(records.filter((r) => r.inputs.zoneId !== "ZPRIMARY").map((r) => r.name)).toEqual([]);
  });

  it("publishes the site's SRV records: own masters first, the other site's pool as fallback, and the CA", async () => {
    const run = await runProgram(
      () => void new ServiceDiscovery("site-b-dns", args("site-b", { zoneId: "Z" })),
    );
    const records = run.ofType("aws:route53/record:Record").map((r) => r.inputs as Record53);
    const srv = Object.fromEntries(
      records.filter((r) => r.type === "SRV").map((r) => [r.name, r.records]),
    );
    expect(srv).toEqual({
      [`_x-puppet._tcp.site-b.${DOMAIN}`]: [
        `0 20 8140 master-1.site-b.${DOMAIN}`,
        `0 20 8140 master-2.site-b.${DOMAIN}`,
        `1 10 8140 pool.site-a.${DOMAIN}`,
      ],
      [`_x-puppet-ca._tcp.site-b.${DOMAIN}`]: [`0 0 8140 ca.${DOMAIN}`],
    });
  });

  it("names every host, aliases the pool and routes the generic name by latency with target health", async () => {
    const run = await runProgram(() => void new ServiceDiscovery("site-a-dns", args("site-a")));
    const records = run.ofType("aws:route53/record:Record").map((r) => r.inputs as Record53);
    const a = records.filter((r) => r.type === "A" && r.records).map((r) => [r.name, r.records]);
    expect(a).toEqual([
      [`master-1.site-a.${DOMAIN}`, ["10.40.64.4"]],
      [`master-2.site-a.${DOMAIN}`, ["10.40.80.4"]],
    ]);
    const alias = { name: "nlb.example.amazonaws.com", zoneId: "ZNLB", evaluateTargetHealth: true };
    expect(records.find((r) => r.name === `pool.site-a.${DOMAIN}`)).toMatchObject({
      aliases: [alias],
    });
    expect(records.find((r) => r.name === `puppet.${DOMAIN}`)).toMatchObject({
      setIdentifier: "site-a",
      latencyRoutingPolicies: [{ region: "us-east-1" }],
      aliases: [alias],
    });
  });

  it("fails when a record lies outside the domain", async () => {
    await expect(
      runProgram(
        () =>
          void new ServiceDiscovery("d", args("site-a", { genericName: "puppet.other.example" })),
      ),
    ).rejects.toThrow("record puppet.other.example is outside the domain puppet.example.internal");
  });
});

import { beforeAll, describe, expect, it } from "vitest";
import { Plan, planWithPeers } from "../../tools/plan/plan";
import { renderDns } from "../../lab/dns";
import { LabTopology, coveringCidr, labTopology } from "../../lab/topology";

const DOMAIN = "puppet.example.internal";
let plans: Plan[];
let topo: LabTopology;

beforeAll(async () => {
  plans = [...(await planWithPeers("site-b")).values()];
  topo = labTopology(plans);
});

describe("labTopology", () => {
  it("takes every planned instance with its role, site, planned address and user data", () => {
    const servers = topo.hosts.filter((h) => h.userData !== undefined);
    expect(servers.map((h) => `${h.role} ${h.certname}`).sort()).toEqual(
      [
        `ca ca.${DOMAIN}`,
        // The failover site's CA is the standby, told apart from the active one.
        `standby-ca ca.site-b.${DOMAIN}`,
        `compile-master master-1.site-a.${DOMAIN}`,
        `compile-master master-2.site-a.${DOMAIN}`,
        `compile-master master-1.site-b.${DOMAIN}`,
        `compile-master master-2.site-b.${DOMAIN}`,
        `puppetdb puppetdb.site-a.${DOMAIN}`,
        `puppetdb puppetdb.site-b.${DOMAIN}`,
      ].sort(),
    );
    for (const h of servers) {
      expect(h.address.startsWith(h.site === "site-a" ? "10.40." : "10.50."), h.certname).toBe(
        true,
      );
      expect(h.userData!.startsWith("#cloud-config")).toBe(true);
    }
    expect(new Set(topo.hosts.map((h) => h.address)).size).toBe(topo.hosts.length);
    expect(new Set(topo.hosts.map((h) => h.ns)).size).toBe(topo.hosts.length);
  });

  it("adds two agents per site, two spare ones and one in the other site, and the database under the RDS endpoint name", () => {
    expect(topo.hosts.filter((h) => h.role === "agent").map((h) => h.certname)).toEqual([
      `spare-1.site-a.${DOMAIN}`,
      `spare-2.site-a.${DOMAIN}`,
      `spare-1.site-b.${DOMAIN}`,
      `agent-1.site-a.${DOMAIN}`,
      `agent-2.site-a.${DOMAIN}`,
      `agent-1.site-b.${DOMAIN}`,
      `agent-2.site-b.${DOMAIN}`,
    ]);
    const [db] = topo.hosts.filter((h) => h.role === "database");
    expect(db.certname).toBe(plans.find((p) => p.stack === "site-a")!.outputs.databaseHost);
    expect(db.site).toBe("site-a");
  });

  it("serves each site the planned SRV records, and its own pool for the latency name", () => {
    const a = topo.zones.get("site-a")!;
    const b = topo.zones.get("site-b")!;
    expect(a.srv.get(`_x-puppet._tcp.site-b.${DOMAIN}`)).toEqual([
      { priority: 0, weight: 10, port: 8140, target: `master-1.site-b.${DOMAIN}` },
      { priority: 0, weight: 10, port: 8140, target: `master-2.site-b.${DOMAIN}` },
      { priority: 1, weight: 10, port: 8140, target: `pool.site-a.${DOMAIN}` },
    ]);
    const mastersOf = (site: string) =>
      topo.hosts
        .filter((h) => h.site === site && h.role === "compile-master")
        .map((h) => h.address);
    expect(a.a.get(`pool.site-b.${DOMAIN}`)).toEqual(mastersOf("site-b"));
    expect(a.a.get(`puppet.${DOMAIN}`)).toEqual(mastersOf("site-a"));
    expect(b.a.get(`puppet.${DOMAIN}`)).toEqual(mastersOf("site-b"));
  });

  it("fails without the primary's plan", () => {
    expect(() => labTopology(plans.filter((p) => p.stack !== "site-a"))).toThrow(
      "the lab needs the plan of the primary stack",
    );
  });
});

describe("renderDns", () => {
  it("answers only from the planned records, at the site's resolver address", () => {
    const site = topo.sites.find((s) => s.name === "site-a")!;
    const files = renderDns(site, topo.zones.get("site-a")!, "/x/hosts");
    const conf = files.conf.split("\n");
    expect(conf).toEqual(
      expect.arrayContaining([
        "no-resolv",
        "no-hosts",
        "listen-address=10.40.0.2",
        "addn-hosts=/x/hosts",
      ]),
    );
    expect(conf).toContain(
      `srv-host=_x-puppet._tcp.site-a.${DOMAIN},pool.site-b.${DOMAIN},8140,1,10`,
    );
    expect(conf).toContain(`srv-host=_x-puppet-ca._tcp.site-b.${DOMAIN},ca.${DOMAIN},8140,0,0`);
    const ca = topo.hosts.find((h) => h.role === "ca")!;
    expect(ca.address).toMatch(/^10\.40\.(6[4-9]|7\d)\.\d+$/); // a servers subnet of site-a
    expect(files.hosts).toContain(`${ca.address} ca.${DOMAIN}\n`);
  });
});

describe("coveringCidr", () => {
  it("is the smallest prefix holding every site", () => {
    expect(coveringCidr(["10.40.0.0/16", "10.50.0.0/16"])).toBe("10.32.0.0/11");
    expect(coveringCidr(["10.40.0.0/16"])).toBe("10.40.0.0/16");
    expect(coveringCidr(["10.40.0.0/16", "172.20.0.0/16"])).toBe("0.0.0.0/0");
  });
});

// The lab's plans with a setting changed as a later `pulumi up` would see it, and what recording a
// promotion (certificates.activeCa: failover) does to both stacks, as the preview diffs them: each
// site's CA record and the agents' settings change, and no host.
import { beforeAll, describe, expect, it } from "vitest";
import { instanceUserData } from "../../infra/hostconfig";
import { Lab } from "../../lab/lab";
import { planAll } from "../../lab/plans";
import { labTopology } from "../../lab/topology";
import { Plan } from "../../tools/plan/plan";
import { diffPlans } from "../../tools/preview/diff";

const DOMAIN = "puppet.example.internal";
let original: Map<string, Plan>;
let promoted: Map<string, Plan>;
let databasePromoted: Map<string, Plan>;
/** Plans with another branch deployed: the masters' user data changes. */
let staging: Map<string, Plan>;

beforeAll(async () => {
  original = await planAll();
  promoted = await planAll({ certificates: { activeCa: "failover" } });
  databasePromoted = await planAll({ database: { active: "failover" } });
  // controlRepo.url is required: replacing the whole object would fail the plan.
  staging = await planAll({ controlRepo: { branch: "staging" } });
}, 300_000);

describe("recording a promotion", () => {
  it("updates each site's _x-puppet-ca._tcp record in place and changes nothing else", () => {
    for (const site of ["site-a", "site-b"]) {
      const diff = diffPlans(site, original.get(site), promoted.get(site));
      expect(
        diff.changes.map((c) => [c.kind, c.type, c.properties.map((p) => p.property)]),
      ).toEqual([["update", "aws:route53/record:Record", ["records"]]]);
      const record = promoted
        .get(site)!
        .resources.find((r) => r.inputs.name === `_x-puppet-ca._tcp.${site}.${DOMAIN}`);
      expect(record?.inputs.records).toEqual([
        `0 0 8140 ca.site-b.${DOMAIN}`,
        `1 0 8140 ca.${DOMAIN}`,
      ]);
    }
  });

  it("points every site's agents at the promoted CA", () => {
    for (const site of ["site-a", "site-b"]) {
      expect(original.get(site)!.outputs.agentPuppetConf).toContain(`ca_server = ca.${DOMAIN}\n`);
      expect(promoted.get(site)!.outputs.agentPuppetConf).toContain(
        `ca_server = ca.site-b.${DOMAIN}\n`,
      );
    }
  });
});

describe("recording the database's promotion", () => {
  it("updates the replica in place, names no source, and changes no host", () => {
    const changes = (site: string) =>
      diffPlans(site, original.get(site), databasePromoted.get(site)).changes.map((c) => [
        c.kind,
        c.type,
        c.properties.map((p) => p.property),
      ]);
    expect(changes("site-a")).toEqual([]);
    expect(changes("site-b")).toEqual([
      [
        "update",
        "aws:rds/instance:Instance",
        ["finalSnapshotIdentifier", "multiAz", "replicateSourceDb", "skipFinalSnapshot"],
      ],
    ]);
  });
});

describe("planAll", () => {
  it("merges a changed setting over the configured one, key by key", () => {
    const userData = (p: Map<string, Plan>) =>
      new Map(
        p
          .get("site-a")!
          .resources.filter((r) => r.type === "aws:ec2/instance:Instance")
          .map((r) => [r.name, instanceUserData(r.inputs)]),
      );
    const [before, after] = [userData(original), userData(staging)];
    // The branch reaches the masters' settings, and only theirs.
    const changed = [...after.keys()].filter((name) => after.get(name) !== before.get(name));
    expect(changed.length).toBeGreaterThan(0);
    expect(
      changed.every((name) => name.includes("master")),
      changed.join(", "),
    ).toBe(true);
  });
});

describe("Lab.adoptPlans", () => {
  it("refuses plans that change a host, naming each, and keeps the topology", async () => {
    const lab = new Lab(
      labTopology([...original.values()]),
      {
        wanDelayMs: 0,
        syncIntervalSeconds: 20,
        crlRefreshSeconds: 10,
        caSyncSeconds: 5,
        heapMb: 512,
        bootRetrySeconds: 10,
      },
      "production",
      { caKey: "k", serverChallenge: "s", agentChallenge: "a", database: "d" },
    );
    const kept = lab.topo;
    // `pulumi up` would replace the masters: the lab cannot take these plans as they are.
    await expect(lab.adoptPlans(labTopology([...staging.values()]))).rejects.toThrow(
      `the new plans change hosts, which the lab does not replace: master-1.site-a.${DOMAIN}, master-2.site-a.${DOMAIN}, master-1.site-b.${DOMAIN}, master-2.site-b.${DOMAIN}`,
    );
    expect(lab.topo).toBe(kept);
  });
});

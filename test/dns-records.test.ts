import { describe, expect, it } from "vitest";
import {
  FALLBACK_PRIORITY,
  FALLBACK_WEIGHT,
  LOCAL_PRIORITY,
  SRV_TTL,
  SiteSrvInput,
  SrvTarget,
  caSrvRecord,
  puppetSrvRecord,
  siteSrvInput,
  siteSrvRecords,
  srvValue,
} from "../infra/dns-records";
import { DOMAIN, SITE_C, settings } from "./fixtures";

describe("constants", () => {
  it("prefers local masters and keeps TTLs short", () => {
    expect([LOCAL_PRIORITY, FALLBACK_PRIORITY, FALLBACK_WEIGHT, SRV_TTL]).toEqual([0, 1, 10, 60]);
  });
});

describe("two-site deployment", () => {
  const a = settings("site-a", { masters: { count: 3, srvWeight: 25 } });
  const b = settings("site-b");

  it("site-a: its own masters at priority 0 with the configured weight, site-b's pool at priority 1", () => {
    const record = puppetSrvRecord(siteSrvInput(a));
    expect(record.name).toBe("_x-puppet._tcp.site-a.puppet.example.internal");
    expect(record.ttl).toBe(60);
    expect(record.targets).toEqual([
      { priority: 0, weight: 25, port: 8140, target: "master-1.site-a.puppet.example.internal" },
      { priority: 0, weight: 25, port: 8140, target: "master-2.site-a.puppet.example.internal" },
      { priority: 0, weight: 25, port: 8140, target: "master-3.site-a.puppet.example.internal" },
      { priority: 1, weight: 10, port: 8140, target: "pool.site-b.puppet.example.internal" },
    ]);
  });

  it("site-b: its own masters at priority 0 with the default weight, site-a's pool at priority 1", () => {
    const record = puppetSrvRecord(siteSrvInput(b));
    expect(record.name).toBe("_x-puppet._tcp.site-b.puppet.example.internal");
    expect(record.targets.map(srvValue)).toEqual([
      "0 10 8140 master-1.site-b.puppet.example.internal",
      "0 10 8140 master-2.site-b.puppet.example.internal",
      "1 10 8140 pool.site-a.puppet.example.internal",
    ]);
  });

  it("never points a site's agents at another site's individual masters or at itself as fallback", () => {
    for (const s of [a, b]) {
      const site = s.site.name;
      for (const t of puppetSrvRecord(siteSrvInput(s)).targets) {
        if (t.priority === LOCAL_PRIORITY)
          expect(t.target).toMatch(new RegExp(`^master-\\d+\\.${site}\\.`));
        else {
          // A fallback is another site's pool, never one of its masters.
          expect(t.target).toMatch(/^pool\./);
          expect(t.target).not.toContain(`.${site}.`);
        }
      }
    }
  });

  it("gives every site its own CA SRV record: the active CA, then site-b's standby CA", () => {
    for (const s of [a, b]) {
      const site = s.site.name;
      const record = caSrvRecord(site, s.domain, "site-b");
      expect(record).toEqual({
        name: `_x-puppet-ca._tcp.${site}.puppet.example.internal`,
        ttl: 60,
        targets: [
          { priority: 0, weight: 0, port: 8140, target: "ca.puppet.example.internal" },
          { priority: 1, weight: 0, port: 8140, target: "ca.site-b.puppet.example.internal" },
        ],
      });
      expect(record.targets.map(srvValue)).toEqual([
        "0 0 8140 ca.puppet.example.internal",
        "1 0 8140 ca.site-b.puppet.example.internal",
      ]);
    }
  });

  it("lists the promoted standby first, and the old CA after it, once a promotion is recorded", () => {
    for (const stack of ["site-a", "site-b"] as const) {
      const promoted = settings(stack, { certificates: { activeCa: "failover" } });
      expect(siteSrvRecords(siteSrvInput(promoted))[1].targets.map(srvValue)).toEqual([
        "0 0 8140 ca.site-b.puppet.example.internal",
        "1 0 8140 ca.puppet.example.internal",
      ]);
    }
    expect(() => caSrvRecord("site-a", DOMAIN, undefined, true)).toThrow(
      "caSrvRecord site-a: the standby CA is active, but no site runs one",
    );
  });

  it("lists the active CA alone when no site runs a standby", () => {
    expect(caSrvRecord("site-a", DOMAIN).targets.map(srvValue)).toEqual([
      "0 0 8140 ca.puppet.example.internal",
    ]);
    const none = settings("site-a", { sites: { "site-b": { failover: false } } });
    expect(siteSrvRecords(siteSrvInput(none))[1].targets).toHaveLength(1);
  });

  it("siteSrvRecords gives the catalog record then the CA record", () => {
    const records = siteSrvRecords(siteSrvInput(b));
    expect(records.map((r) => r.name)).toEqual([
      "_x-puppet._tcp.site-b.puppet.example.internal",
      "_x-puppet-ca._tcp.site-b.puppet.example.internal",
    ]);
    expect(records[0]).toEqual(puppetSrvRecord(siteSrvInput(b)));
    expect(records[1]).toEqual(caSrvRecord("site-b", DOMAIN, "site-b"));
  });
});

describe("three-site catalogue", () => {
  const input: SiteSrvInput = {
    site: "site-b",
    domain: DOMAIN,
    sites: ["site-a", "site-b", SITE_C.name],
    masterCount: 1,
    masterWeight: 10,
  };

  it("lists both other sites' pools as fallbacks, in catalogue order", () => {
    const targets = puppetSrvRecord(input).targets;
    expect(targets.filter((t) => t.priority === FALLBACK_PRIORITY)).toEqual([
      { priority: 1, weight: 10, port: 8140, target: "pool.site-a.puppet.example.internal" },
      { priority: 1, weight: 10, port: 8140, target: "pool.site-c.puppet.example.internal" },
    ]);
    expect(targets.filter((t) => t.priority === LOCAL_PRIORITY).map((t) => t.target)).toEqual([
      "master-1.site-b.puppet.example.internal",
    ]);
  });

  it("a single-site catalogue has no fallback", () => {
    const targets = puppetSrvRecord({
      ...input,
      site: "site-a",
      sites: ["site-a"],
      masterCount: 2,
    }).targets;
    expect(targets.map((t) => t.priority)).toEqual([0, 0]);
  });
});

describe("srvValue", () => {
  const target: SrvTarget = {
    priority: 1,
    weight: 10,
    port: 8140,
    target: "pool.site-a.puppet.example.internal",
  };

  it("renders `priority weight port target`", () => {
    expect(srvValue(target)).toBe("1 10 8140 pool.site-a.puppet.example.internal");
    expect(srvValue({ ...target, priority: 0, weight: 0, port: 0 })).toBe(
      "0 0 0 pool.site-a.puppet.example.internal",
    );
    expect(srvValue({ ...target, priority: 65535, weight: 65535, port: 65535 })).toBe(
      "65535 65535 65535 pool.site-a.puppet.example.internal",
    );
  });

  it.each([
    ["priority", -1, "SRV priority must be between 0 and 65535 inclusive, got: -1"],
    ["priority", 1.5, "SRV priority must be between 0 and 65535 inclusive, got: 1.5"],
    ["weight", 65536, "SRV weight must be between 0 and 65535 inclusive, got: 65536"],
    ["weight", Number.NaN, "SRV weight must be between 0 and 65535 inclusive, got: NaN"],
    ["port", 70000, "SRV port must be between 0 and 65535 inclusive, got: 70000"],
    ["port", -8140, "SRV port must be between 0 and 65535 inclusive, got: -8140"],
  ] as const)("fails when %s is %s", (field, value, message) => {
    expect(() => srvValue({ ...target, [field]: value })).toThrow(RangeError);
    expect(() => srvValue({ ...target, [field]: value })).toThrow(message);
  });

  it.each([
    ["empty", ""],
    ["an IP address", "10.40.64.10"],
    ["a single label", "pool"],
    ["an upper-case name", "Pool.site-a.puppet.example.internal"],
    ["a trailing space", "pool.site-a.puppet.example.internal "],
  ])("fails when the target is %s", (_what, value) => {
    expect(() => srvValue({ ...target, target: value })).toThrow(RangeError);
    expect(() => srvValue({ ...target, target: value })).toThrow(
      `SRV target must be a host name, got: ${JSON.stringify(value)}`,
    );
  });

  it("accepts host names whose labels are digits or start with one", () => {
    expect(srvValue({ ...target, target: "10.40.64.10.example" })).toBe(
      "1 10 8140 10.40.64.10.example",
    );
    expect(srvValue({ ...target, target: "3pool.site-a.puppet.example.internal" })).toBe(
      "1 10 8140 3pool.site-a.puppet.example.internal",
    );
  });

  it("renders every record of both sites (all targets are host names)", () => {
    const rendered = (["site-a", "site-b"] as const).flatMap((stack) =>
      siteSrvRecords(siteSrvInput(settings(stack))).map((record) => [
        record.name,
        record.targets.map(srvValue),
      ]),
    );
    expect(rendered).toEqual([
      [
        "_x-puppet._tcp.site-a.puppet.example.internal",
        [
          "0 10 8140 master-1.site-a.puppet.example.internal",
          "0 10 8140 master-2.site-a.puppet.example.internal",
          "1 10 8140 pool.site-b.puppet.example.internal",
        ],
      ],
      [
        "_x-puppet-ca._tcp.site-a.puppet.example.internal",
        ["0 0 8140 ca.puppet.example.internal", "1 0 8140 ca.site-b.puppet.example.internal"],
      ],
      [
        "_x-puppet._tcp.site-b.puppet.example.internal",
        [
          "0 10 8140 master-1.site-b.puppet.example.internal",
          "0 10 8140 master-2.site-b.puppet.example.internal",
          "1 10 8140 pool.site-a.puppet.example.internal",
        ],
      ],
      [
        "_x-puppet-ca._tcp.site-b.puppet.example.internal",
        ["0 0 8140 ca.puppet.example.internal", "1 0 8140 ca.site-b.puppet.example.internal"],
      ],
    ]);
  });

  it("fails when a configured master weight is out of range, at render time", () => {
    const [local] = puppetSrvRecord({
      ...siteSrvInput(settings("site-a")),
      masterWeight: 70000,
    }).targets;
    expect(() => srvValue(local)).toThrow(
      "SRV weight must be between 0 and 65535 inclusive, got: 70000",
    );
  });
});

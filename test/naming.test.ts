import { describe, expect, it } from "vitest";
import {
  boundedName,
  caHostName,
  caSrvName,
  genericPuppetName,
  isDnsLabel,
  isDomain,
  masterAltNames,
  masterHostName,
  masterHostNames,
  poolHostName,
  puppetSrvName,
  puppetdbHostName,
  puppetdbUrl,
  puppetdbUrls,
  resourcePrefix,
  secretName,
  siteDomain,
} from "../infra/naming";
import { DOMAIN, PROJECT, SITE_C } from "./fixtures";

describe("isDnsLabel / isDomain", () => {
  const long = `${"a".repeat(63)}.`.repeat(4) + "io";
  it.each([
    ["site-a", true, false],
    ["x".repeat(63), true, false],
    ["0", true, false],
    [DOMAIN, false, true],
    ["10.40.64.10", false, true],
    ["", false, false],
    ["-a", false, false],
    ["a-", false, false],
    ["Site", false, false],
    ["a_b.internal", false, false],
    ["puppet..internal", false, false],
    [`${DOMAIN}.`, false, false],
    ["x".repeat(64), false, false],
    [long, false, false],
  ])("%j: label %s, domain %s", (value, label, domain) => {
    expect([isDnsLabel(value), isDomain(value)]).toEqual([label, domain]);
  });

  it("allows a domain of exactly 253 characters and no more", () => {
    const d253 = `${"a".repeat(63)}.`.repeat(3) + "b".repeat(61);
    expect(d253).toHaveLength(253);
    expect(isDomain(d253)).toBe(true);
    expect(isDomain(`c${d253}`)).toBe(false);
  });
});

describe("names of a site", () => {
  it("puts every per-site name under <site>.<domain>", () => {
    expect(siteDomain("site-a", DOMAIN)).toBe("site-a.puppet.example.internal");
    expect(masterHostName("site-b", DOMAIN, 3)).toBe("master-3.site-b.puppet.example.internal");
    expect(poolHostName("site-a", DOMAIN)).toBe("pool.site-a.puppet.example.internal");
    expect(puppetdbHostName("site-b", DOMAIN)).toBe("puppetdb.site-b.puppet.example.internal");
    expect(puppetSrvName("site-a", DOMAIN)).toBe("_x-puppet._tcp.site-a.puppet.example.internal");
    expect(caSrvName("site-b", DOMAIN)).toBe("_x-puppet-ca._tcp.site-b.puppet.example.internal");
  });

  it("keeps deployment-wide names at the domain", () => {
    expect(caHostName(DOMAIN)).toBe("ca.puppet.example.internal");
    expect(genericPuppetName(DOMAIN)).toBe("puppet.puppet.example.internal");
  });

  it("numbers masters from 1 and keeps existing names when the pool grows", () => {
    expect(masterHostNames("site-a", DOMAIN, 2)).toEqual([
      "master-1.site-a.puppet.example.internal",
      "master-2.site-a.puppet.example.internal",
    ]);
    expect(masterHostNames("site-a", DOMAIN, 4).slice(0, 2)).toEqual(
      masterHostNames("site-a", DOMAIN, 2),
    );
    expect(masterHostNames("site-a", DOMAIN, 0)).toEqual([]);
    const many = masterHostNames("site-a", DOMAIN, 250);
    expect(many).toHaveLength(250);
    expect(many.filter((n, i) => many.indexOf(n) !== i)).toEqual([]);
  });

  it("names resources and secrets by project and site", () => {
    expect(resourcePrefix(PROJECT, "site-b")).toBe("puppet-multisite-site-b");
    expect(secretName(PROJECT, "site-a", "ca-key")).toBe("puppet-multisite/site-a/ca-key");
    expect(secretName(PROJECT, "site-a", "database")).toBe("puppet-multisite/site-a/database");
  });
});

describe("masterAltNames", () => {
  it("covers the master's own name, its site's pool and the generic name", () => {
    expect(masterAltNames("site-b", DOMAIN, 2)).toEqual([
      "master-2.site-b.puppet.example.internal",
      "pool.site-b.puppet.example.internal",
      "puppet.puppet.example.internal",
    ]);
  });

  it("covers every name an agent of either site may reach the master by", () => {
    for (const site of ["site-a", "site-b"]) {
      const names = masterAltNames(site, DOMAIN, 1);
      expect(names).toContain(masterHostName(site, DOMAIN, 1));
      expect(names).toContain(poolHostName(site, DOMAIN));
      expect(names).toContain(genericPuppetName(DOMAIN));
      expect(names).not.toContain(caHostName(DOMAIN));
      expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    }
  });
});

describe("boundedName", () => {
  it("leaves names within the limit alone", () => {
    expect(boundedName("site-a-masters")).toBe("site-a-masters");
    expect(boundedName("x".repeat(32))).toBe("x".repeat(32));
    expect(boundedName("abcdefghij", 10)).toBe("abcdefghij");
  });

  it("shortens long names to at most 32 characters, keeping their start", () => {
    const long = `${resourcePrefix(PROJECT, "a-very-long-site-name")}-masters`;
    const bounded = boundedName(long);
    expect(long.length).toBeGreaterThan(32);
    expect(bounded.length).toBeLessThanOrEqual(32);
    expect(bounded).toMatch(/^puppet-multisite-a-very-[0-9a-f]{8}$/);
    expect(boundedName("y".repeat(33))).toHaveLength(32);
  });

  it("is stable across calls and releases (a new name would replace the load balancer)", () => {
    const long = `${resourcePrefix(PROJECT, "a-very-long-site-name")}-masters`;
    expect(boundedName(long)).toBe(boundedName(long));
    expect(boundedName(long)).toBe("puppet-multisite-a-very-dd437fab");
  });

  it("keeps names unique that share their first 32 characters", () => {
    const base = "puppet-multisite-site-with-long-name";
    const names = ["-masters", "-masters-tg", "-puppetdb"].map((s) => boundedName(base + s));
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    expect(names.filter((n) => n.length > 32)).toEqual([]);
  });

  it("does not end the kept start with dashes before the hash", () => {
    const name = `${"a".repeat(22)}--${"b".repeat(20)}`;
    expect(boundedName(name)).toMatch(/^a{22}-[0-9a-f]{8}$/);
  });

  it("honours a custom limit", () => {
    const bounded = boundedName(`${SITE_C.name}-${"z".repeat(40)}`, 20);
    expect(bounded.length).toBeLessThanOrEqual(20);
    expect(bounded).toMatch(/^site-c-zzzz/);
  });
});

describe("puppetdbUrls", () => {
  it("gives a PuppetDB HTTPS URL on 8081", () => {
    expect(puppetdbUrl("site-a", DOMAIN)).toBe(
      "https://puppetdb.site-a.puppet.example.internal:8081",
    );
  });

  it("lists the local site's PuppetDB first, then the others in catalogue order", () => {
    const sites = ["site-a", "site-b", "site-c"];
    expect(puppetdbUrls("site-b", sites, DOMAIN)).toEqual([
      "https://puppetdb.site-b.puppet.example.internal:8081",
      "https://puppetdb.site-a.puppet.example.internal:8081",
      "https://puppetdb.site-c.puppet.example.internal:8081",
    ]);
    expect(puppetdbUrls("site-a", sites.slice(0, 2), DOMAIN)).toEqual([
      "https://puppetdb.site-a.puppet.example.internal:8081",
      "https://puppetdb.site-b.puppet.example.internal:8081",
    ]);
  });
});

import { describe, expect, it } from "vitest";
import { tierCidr } from "../infra/cidr";
import { gitSshPort } from "../infra/control-repo";
import { FirewallInput, Rule, SECURITY_GROUPS, firewallRules } from "../infra/firewall";
import { Settings } from "../infra/config";
import { FixtureStack, SITE_A, SITE_B, SITE_C, repoSetting, settings } from "./fixtures";

const ANYWHERE = "0.0.0.0/0";
const SCP_URL = "git@git.example.com:puppet/control-repo.git";
const SSH_2222_URL = "ssh://git@git.example.com:2222/puppet/control-repo.git";

/** The firewall input the site component derives from a stack's settings. */
function firewallInput(s: Settings): FirewallInput {
  return {
    site: s.site.name,
    sites: s.sites,
    primarySite: s.primarySite.name,
    standbyCaSite: s.failoverSite?.name,
    gitSshPort: gitSshPort(s.controlRepo.url),
  };
}

/** One line per rule, easy to compare and to read in a failure. */
function show(r: Rule): string {
  const peer = "cidr" in r.peer ? r.peer.cidr : `sg:${r.peer.group}`;
  const udp = r.protocol === "udp" ? "/udp" : "";
  return `${r.group} ${r.direction} ${r.port}${udp} ${peer}`;
}

/** Every way a rule set breaks least privilege; empty when it does not. */
function violations(rules: readonly Rule[], input: FirewallInput): string[] {
  const isPrimary = input.site === input.primarySite;
  // The failover site holds the standby CA and the database's replica.
  const isFailover = input.standbyCaSite !== undefined && input.site === input.standbyCaSite;
  const hasDatabase = isPrimary || isFailover;
  const primary = input.sites.find((s) => s.name === input.primarySite);
  const standby = input.sites.find((s) => s.name === input.standbyCaSite);
  // Puppet servers and PuppetDB reach port 8140 on the CAs only: the active's and the standby's tier.
  const caTiers = [primary, standby].flatMap((s) => (s ? [tierCidr(s.vpcCidr, "servers")] : []));
  const primaryData = primary && tierCidr(primary.vpcCidr, "data");
  const others = input.sites.filter((s) => s.name !== input.site);
  // Agents of every site (in its VPC or its agent networks) may reach every site's Puppet servers.
  const agents = input.sites.flatMap((s) => [s.vpcCidr, ...s.agentCidrs]);
  // Only the agent networks outside AWS need the Resolver endpoint.
  const agentNetworks = input.sites.flatMap((s) => s.agentCidrs);
  const otherServers = others.map((s) => tierCidr(s.vpcCidr, "servers"));
  const otherData = others.map((s) => tierCidr(s.vpcCidr, "data"));
  const found: string[] = [];
  const bad = (r: Rule, why: string) => found.push(`${show(r)}: ${why}`);
  for (const r of rules) {
    const cidr = "cidr" in r.peer ? r.peer.cidr : undefined;
    const group = "group" in r.peer ? r.peer.group : undefined;
    const gitSsh =
      input.gitSshPort !== undefined &&
      r.port === input.gitSshPort &&
      r.group === "puppetserver" &&
      r.direction === "egress";
    if (!SECURITY_GROUPS.includes(r.group)) bad(r, "unknown security group");
    if (r.port === 22 && !gitSsh) bad(r, "port 22 other than the control repository's SSH port");
    if (r.group === "database" && !hasDatabase) {
      bad(r, "database rule in a site with neither the database nor its replica");
    }
    if (r.description.trim() === "") bad(r, "no description");
    if ((r.protocol ?? "tcp") !== "tcp" && r.port !== 53) bad(r, "UDP other than DNS");
    if (r.direction === "ingress") {
      if (cidr === ANYWHERE) bad(r, "ingress from anywhere");
      if (r.port === 53) {
        if (r.group !== "resolver") bad(r, "53 into a group other than the Resolver endpoint's");
        if (!(cidr !== undefined && agentNetworks.includes(cidr))) {
          bad(r, "53 from outside the agent networks");
        }
      } else if (r.port === 8140) {
        if (r.group !== "puppetserver" && r.group !== "balancer") {
          bad(r, "8140 into a group other than the Puppet servers' and their balancer's");
        }
        if (!(cidr !== undefined && agents.includes(cidr))) {
          bad(r, "8140 from outside the sites' VPCs and agent networks");
        }
      } else if (r.port === 8081) {
        if (r.group !== "puppetdb") bad(r, "8081 into a non-PuppetDB group");
        if (!(group === "puppetserver" || (cidr !== undefined && otherServers.includes(cidr)))) {
          bad(r, "8081 from other than Puppet servers");
        }
      } else if (r.port === 5432) {
        if (r.group !== "database") bad(r, "5432 into a non-database group");
        if (!hasDatabase)
          bad(r, "5432 ingress in a site with neither the database nor its replica");
        if (isPrimary) {
          if (!(group === "puppetdb" || (cidr !== undefined && otherData.includes(cidr)))) {
            bad(r, "5432 from other than PuppetDB hosts");
          }
        } else if (group !== "puppetdb") {
          bad(r, "5432 into the replica from other than its own site's PuppetDB");
        }
      } else {
        bad(r, "ingress on an unexpected port");
      }
    } else {
      if (r.group === "database" || r.group === "resolver") bad(r, `egress from the ${r.group}`);
      if (r.group === "balancer" && !(r.port === 8140 && group === "puppetserver")) {
        bad(r, "balancer egress other than 8140 to the Puppet servers");
      }
      if (cidr === ANYWHERE && ![80, 443].includes(r.port) && !gitSsh) {
        bad(r, "egress to anywhere on a port other than 80/443 and the git SSH port");
      }
      if (r.port === 8140 && r.group !== "balancer" && !(cidr && caTiers.includes(cidr))) {
        bad(r, "8140 to other than the CA's and the standby CA's server tiers");
      }
      if (r.port === 5432) {
        if (r.group !== "puppetdb") bad(r, "5432 from other than PuppetDB");
        if (group === "database" && !hasDatabase) {
          bad(r, "5432 to a database group the site does not have");
        }
        if (cidr !== undefined && cidr !== primaryData) {
          bad(r, "5432 to other than the primary's data tier");
        }
      }
    }
  }
  const seen = rules.map(show);
  for (const [i, line] of seen.entries())
    if (seen.indexOf(line) !== i) found.push(`${line}: duplicate rule`);
  return found;
}

/** The load balancer's and the Resolver endpoint's rules, the same in both sites. */
const BALANCER_AND_RESOLVER = [
  "balancer ingress 8140 10.40.0.0/16",
  "balancer ingress 8140 172.20.0.0/16",
  "balancer ingress 8140 10.50.0.0/16",
  "balancer ingress 8140 172.21.0.0/16",
  "balancer egress 8140 sg:puppetserver",
  "resolver ingress 53 172.20.0.0/16",
  "resolver ingress 53/udp 172.20.0.0/16",
  "resolver ingress 53 172.21.0.0/16",
  "resolver ingress 53/udp 172.21.0.0/16",
];

/** [stack, control repository URL, the SSH port it needs (none over HTTPS)]. */
const CASES: [FixtureStack, string | undefined, number | undefined][] = [
  ["site-a", undefined, undefined],
  ["site-a", SCP_URL, 22],
  ["site-a", SSH_2222_URL, 2222],
  ["site-b", undefined, undefined],
  ["site-b", SCP_URL, 22],
  ["site-b", SSH_2222_URL, 2222],
];

describe("least-privilege sweep over every rule", () => {
  it.each(CASES)("%s (control repository %s)", (stack, url, port) => {
    const s = settings(stack, url ? { controlRepo: repoSetting(url) } : {});
    const input = firewallInput(s);
    expect(input.gitSshPort).toBe(port);
    const rules = firewallRules(input);
    // Both sites reach the standby CA (2 rules); site-b, the failover site, has its replica's 2.
    expect(rules).toHaveLength(
      (stack === "site-a" ? 26 + 2 : 24 + 2 + 2) + (port === undefined ? 0 : 1),
    );
    expect(violations(rules, input)).toEqual([]);
    // Anywhere is reachable on 80 and 443 only, plus the git SSH port from the Puppet servers.
    expect(
      rules
        .filter((r) => "cidr" in r.peer && r.peer.cidr === ANYWHERE)
        .map(show)
        .sort(),
    ).toEqual(
      [
        "puppetdb egress 443 0.0.0.0/0",
        "puppetdb egress 80 0.0.0.0/0",
        "puppetserver egress 443 0.0.0.0/0",
        "puppetserver egress 80 0.0.0.0/0",
        ...(port === undefined ? [] : [`puppetserver egress ${port} 0.0.0.0/0`]),
      ].sort(),
    );
  });

  it("catches a rule that breaks least privilege (the sweep can fail)", () => {
    const input = firewallInput(settings("site-b"));
    const rules = firewallRules(input);
    const rule = (
      group: Rule["group"],
      direction: Rule["direction"],
      port: number,
      peer: Rule["peer"],
    ): Rule => ({
      group,
      direction,
      port,
      peer,
      description: "x",
    });
    const extra = [
      rule("puppetserver", "ingress", 8140, { cidr: ANYWHERE }),
      rule("puppetserver", "ingress", 8140, { cidr: SITE_C.agentCidrs[0] }),
      rule("puppetdb", "egress", 22, { cidr: ANYWHERE }),
      rule("puppetserver", "egress", 2222, { cidr: ANYWHERE }),
      // site-b's replica admits its own PuppetDB only, not the primary's.
      rule("database", "ingress", 5432, { cidr: tierCidr(SITE_A.vpcCidr, "data") }),
      rule("puppetdb", "egress", 8140, { cidr: tierCidr(SITE_C.vpcCidr, "servers") }),
      rule("puppetserver", "egress", 5432, { group: "database" }),
      rule("puppetdb", "egress", 5432, { cidr: tierCidr(SITE_C.vpcCidr, "data") }),
      rule("resolver", "ingress", 53, { cidr: SITE_B.vpcCidr }),
      rule("balancer", "egress", 8081, { group: "puppetdb" }),
      {
        ...rule("puppetserver", "ingress", 8140, { cidr: SITE_B.vpcCidr }),
        protocol: "udp" as const,
      },
      rules[0],
    ];
    expect(violations([...rules, ...extra], input)).toEqual([
      "puppetserver ingress 8140 0.0.0.0/0: ingress from anywhere",
      "puppetserver ingress 8140 0.0.0.0/0: 8140 from outside the sites' VPCs and agent networks",
      "puppetserver ingress 8140 172.22.0.0/16: 8140 from outside the sites' VPCs and agent networks",
      "puppetdb egress 22 0.0.0.0/0: port 22 other than the control repository's SSH port",
      "puppetdb egress 22 0.0.0.0/0: egress to anywhere on a port other than 80/443 and the git SSH port",
      "puppetserver egress 2222 0.0.0.0/0: egress to anywhere on a port other than 80/443 and the git SSH port",
      "database ingress 5432 10.40.128.0/18: 5432 into the replica from other than its own site's PuppetDB",
      "puppetdb egress 8140 10.60.64.0/18: 8140 to other than the CA's and the standby CA's server tiers",
      "puppetserver egress 5432 sg:database: 5432 from other than PuppetDB",
      "puppetdb egress 5432 10.60.128.0/18: 5432 to other than the primary's data tier",
      "resolver ingress 53 10.50.0.0/16: 53 from outside the agent networks",
      "balancer egress 8081 sg:puppetdb: balancer egress other than 8140 to the Puppet servers",
      "puppetserver ingress 8140/udp 10.50.0.0/16: UDP other than DNS",
      `${show(rules[0])}: duplicate rule`,
    ]);
  });

  it("catches database rules in a site with neither the database nor its replica", () => {
    const input = firewallInput(settings("site-b", { sites: { "site-b": { failover: false } } }));
    expect(input.standbyCaSite).toBeUndefined();
    const wrong: Rule[] = [
      {
        group: "database",
        direction: "ingress",
        port: 5432,
        peer: { group: "puppetdb" },
        description: "x",
      },
      {
        group: "puppetdb",
        direction: "egress",
        port: 5432,
        peer: { group: "database" },
        description: "x",
      },
    ];
    expect(violations(wrong, input)).toEqual([
      "database ingress 5432 sg:puppetdb: database rule in a site with neither the database nor its replica",
      "database ingress 5432 sg:puppetdb: 5432 ingress in a site with neither the database nor its replica",
      "puppetdb egress 5432 sg:database: 5432 to a database group the site does not have",
    ]);
  });

  it("catches the git SSH port opened from the wrong group or to port 22 when 2222 is used", () => {
    const input = firewallInput(settings("site-a", { controlRepo: repoSetting(SSH_2222_URL) }));
    const wrong: Rule[] = [
      {
        group: "puppetdb",
        direction: "egress",
        port: 2222,
        peer: { cidr: ANYWHERE },
        description: "x",
      },
      {
        group: "puppetserver",
        direction: "egress",
        port: 22,
        peer: { cidr: ANYWHERE },
        description: "x",
      },
    ];
    expect(violations(wrong, input)).toEqual([
      "puppetdb egress 2222 0.0.0.0/0: egress to anywhere on a port other than 80/443 and the git SSH port",
      "puppetserver egress 22 0.0.0.0/0: port 22 other than the control repository's SSH port",
      "puppetserver egress 22 0.0.0.0/0: egress to anywhere on a port other than 80/443 and the git SSH port",
    ]);
  });
});

describe("site-a (primary)", () => {
  const rules = firewallRules(firewallInput(settings("site-a")));

  it("has exactly the expected rules", () => {
    expect(rules.map(show)).toEqual([
      "puppetserver ingress 8140 10.40.0.0/16",
      "puppetserver ingress 8140 10.50.0.0/16",
      "puppetserver ingress 8140 172.20.0.0/16",
      "puppetserver ingress 8140 172.21.0.0/16",
      "puppetserver egress 8140 10.40.64.0/18",
      "puppetserver egress 8081 sg:puppetdb",
      "puppetserver egress 8081 10.50.128.0/18",
      "puppetdb ingress 8081 sg:puppetserver",
      "puppetdb ingress 8081 10.50.64.0/18",
      "puppetdb egress 8140 10.40.64.0/18",
      "puppetserver egress 8140 10.50.64.0/18",
      "puppetdb egress 8140 10.50.64.0/18",
      "puppetdb egress 5432 sg:database",
      "database ingress 5432 sg:puppetdb",
      "database ingress 5432 10.50.128.0/18",
      ...BALANCER_AND_RESOLVER,
      "puppetserver egress 443 0.0.0.0/0",
      "puppetserver egress 80 0.0.0.0/0",
      "puppetdb egress 443 0.0.0.0/0",
      "puppetdb egress 80 0.0.0.0/0",
    ]);
  });

  it("describes where each ingress rule's traffic comes from", () => {
    expect(
      Object.fromEntries(
        rules.filter((r) => r.direction === "ingress").map((r) => [show(r), r.description]),
      ),
    ).toEqual({
      "puppetserver ingress 8140 10.40.0.0/16": "Puppet agents and servers in site-a",
      "puppetserver ingress 8140 10.50.0.0/16": "Puppet agents and servers in site-b",
      "puppetserver ingress 8140 172.20.0.0/16": "Puppet agents of site-a (agentCidrs)",
      "puppetserver ingress 8140 172.21.0.0/16": "Puppet agents of site-b (agentCidrs)",
      "puppetdb ingress 8081 sg:puppetserver": "Puppet servers in site-a",
      "puppetdb ingress 8081 10.50.64.0/18": "Puppet servers in site-b",
      "database ingress 5432 sg:puppetdb": "PuppetDB in site-a",
      "database ingress 5432 10.50.128.0/18": "PuppetDB in site-b",
      "balancer ingress 8140 10.40.0.0/16": "Puppet agents of site-a",
      "balancer ingress 8140 172.20.0.0/16": "Puppet agents of site-a",
      "balancer ingress 8140 10.50.0.0/16": "Puppet agents of site-b",
      "balancer ingress 8140 172.21.0.0/16": "Puppet agents of site-b",
      "resolver ingress 53 172.20.0.0/16": "DNS from agents of site-a",
      "resolver ingress 53/udp 172.20.0.0/16": "DNS from agents of site-a",
      "resolver ingress 53 172.21.0.0/16": "DNS from agents of site-b",
      "resolver ingress 53/udp 172.21.0.0/16": "DNS from agents of site-b",
    });
  });
});

describe("site-b (secondary)", () => {
  const rules = firewallRules(firewallInput(settings("site-b")));

  it("has exactly the expected rules, reaching the CA and database in site-a by tier, its standby CA and its replica", () => {
    expect(rules.map(show)).toEqual([
      "puppetserver ingress 8140 10.40.0.0/16",
      "puppetserver ingress 8140 10.50.0.0/16",
      "puppetserver ingress 8140 172.20.0.0/16",
      "puppetserver ingress 8140 172.21.0.0/16",
      "puppetserver egress 8140 10.40.64.0/18",
      "puppetserver egress 8081 sg:puppetdb",
      "puppetserver egress 8081 10.40.128.0/18",
      "puppetdb ingress 8081 sg:puppetserver",
      "puppetdb ingress 8081 10.40.64.0/18",
      "puppetdb egress 8140 10.40.64.0/18",
      "puppetserver egress 8140 10.50.64.0/18",
      "puppetdb egress 8140 10.50.64.0/18",
      "puppetdb egress 5432 10.40.128.0/18",
      "database ingress 5432 sg:puppetdb",
      "puppetdb egress 5432 sg:database",
      ...BALANCER_AND_RESOLVER,
      "puppetserver egress 443 0.0.0.0/0",
      "puppetserver egress 80 0.0.0.0/0",
      "puppetdb egress 443 0.0.0.0/0",
      "puppetdb egress 80 0.0.0.0/0",
    ]);
  });

  it("has database rules for its replica only: from and to its own PuppetDB, by group", () => {
    const database = (r: Rule) =>
      r.group === "database" || ("group" in r.peer && r.peer.group === "database");
    expect(rules.filter(database).map((r) => [show(r), r.description])).toEqual([
      ["database ingress 5432 sg:puppetdb", "PuppetDB in site-b"],
      ["puppetdb egress 5432 sg:database", "The database's replica in this site"],
    ]);
  });

  it("has no database group rules when it is not the failover site", () => {
    const s = settings("site-b", { sites: { "site-b": { failover: false } } });
    const without = firewallRules(firewallInput(s));
    expect(without.filter((r) => r.group === "database")).toEqual([]);
    expect(without.filter((r) => "group" in r.peer && r.peer.group === "database")).toEqual([]);
  });
});

describe("the control repository's SSH port", () => {
  const base = firewallInput(settings("site-b"));
  const added = (port: number) => {
    const without = new Set(firewallRules(base).map(show));
    return firewallRules({ ...base, gitSshPort: port }).filter((r) => !without.has(show(r)));
  };

  it("opens exactly the port of an ssh:// URL (2222), from the Puppet servers only", () => {
    expect(added(2222)).toEqual([
      {
        group: "puppetserver",
        direction: "egress",
        port: 2222,
        peer: { cidr: ANYWHERE },
        description: "Control repository over SSH",
      },
    ]);
    const lines = firewallRules({ ...base, gitSshPort: 2222 }).map(show);
    expect(lines.filter((l) => / 22 /.test(l))).toEqual([]);
  });

  it("opens 22 for a scp-like URL", () => {
    expect(added(22).map(show)).toEqual(["puppetserver egress 22 0.0.0.0/0"]);
  });

  it("opens nothing over HTTPS", () => {
    expect(base.gitSshPort).toBeUndefined();
    expect(firewallRules(base).filter((r) => r.description.includes("SSH"))).toEqual([]);
    // Nothing beyond Puppet, PuppetDB, PostgreSQL and the web ports every host needs anyway.
    expect(
      firewallRules(base)
        .filter((r) => ![8140, 8081, 5432, 53, 80, 443].includes(r.port))
        .map(show),
    ).toEqual([]);
  });
});

describe("catalogue shapes", () => {
  const three: FirewallInput = {
    site: SITE_C.name,
    sites: [SITE_A, SITE_B, SITE_C],
    primarySite: SITE_A.name,
  };

  it("a secondary of three sites admits and reaches both other sites, still least privilege", () => {
    const rules = firewallRules(three);
    expect(violations(rules, three)).toEqual([]);
    expect(
      rules.filter((r) => r.group === "puppetserver" && r.direction === "ingress").map(show),
    ).toEqual([
      "puppetserver ingress 8140 10.40.0.0/16",
      "puppetserver ingress 8140 10.50.0.0/16",
      "puppetserver ingress 8140 10.60.0.0/16",
      "puppetserver ingress 8140 172.20.0.0/16",
      "puppetserver ingress 8140 172.21.0.0/16",
      "puppetserver ingress 8140 172.22.0.0/16",
    ]);
    expect(
      rules.filter((r) => r.group === "puppetdb" && r.direction === "ingress").map(show),
    ).toEqual([
      "puppetdb ingress 8081 sg:puppetserver",
      "puppetdb ingress 8081 10.40.64.0/18",
      "puppetdb ingress 8081 10.50.64.0/18",
    ]);
    // Reaches the CA (site-a), the local PuppetDB and both other sites' PuppetDB, and the database.
    expect(
      rules
        .filter(
          (r) =>
            r.direction === "egress" && r.port !== 80 && r.port !== 443 && r.group !== "balancer",
        )
        .map(show),
    ).toEqual([
      "puppetserver egress 8140 10.40.64.0/18",
      "puppetserver egress 8081 sg:puppetdb",
      "puppetserver egress 8081 10.40.128.0/18",
      "puppetserver egress 8081 10.50.128.0/18",
      "puppetdb egress 8140 10.40.64.0/18",
      "puppetdb egress 5432 10.40.128.0/18",
    ]);
    expect(rules.filter((r) => r.port === 5432).map(show)).toEqual([
      "puppetdb egress 5432 10.40.128.0/18",
    ]);
  });

  it("the primary of three sites admits PuppetDB of both secondaries to the database", () => {
    const input = { ...three, site: SITE_A.name };
    const rules = firewallRules(input);
    expect(violations(rules, input)).toEqual([]);
    expect(rules.filter((r) => r.group === "database").map(show)).toEqual([
      "database ingress 5432 sg:puppetdb",
      "database ingress 5432 10.50.128.0/18",
      "database ingress 5432 10.60.128.0/18",
    ]);
  });

  it("sites without agent networks admit only the VPCs on 8140, and no DNS at all", () => {
    const input: FirewallInput = {
      ...three,
      sites: three.sites.map((s) => ({ ...s, agentCidrs: [] })),
    };
    expect(
      firewallRules(input)
        .filter((r) => r.port === 8140 && r.direction === "ingress")
        .map(show),
    ).toEqual([
      "puppetserver ingress 8140 10.40.0.0/16",
      "puppetserver ingress 8140 10.50.0.0/16",
      "puppetserver ingress 8140 10.60.0.0/16",
      "balancer ingress 8140 10.40.0.0/16",
      "balancer ingress 8140 10.50.0.0/16",
      "balancer ingress 8140 10.60.0.0/16",
    ]);
    expect(firewallRules(input).filter((r) => r.group === "resolver")).toEqual([]);
  });

  it("admits every agent network of a site that has several", () => {
    const input: FirewallInput = {
      ...three,
      sites: [SITE_A, { ...SITE_B, agentCidrs: ["172.21.0.0/16", "192.168.8.0/24"] }],
      site: SITE_B.name,
    };
    const lines = firewallRules(input).map(show);
    expect(lines).toContain("puppetserver ingress 8140 192.168.8.0/24");
    expect(lines).toContain("puppetserver ingress 8140 172.21.0.0/16");
    expect(violations(firewallRules(input), input)).toEqual([]);
  });

  it("fails when the primary is not in the sites list", () => {
    const input = { ...three, primarySite: "site-z" };
    expect(() => firewallRules(input)).toThrow(
      "primarySite site-z is not among the sites: site-a, site-b, site-c",
    );
  });

  it("fails when the sites list is empty", () => {
    expect(() => firewallRules({ ...three, sites: [] })).toThrow(
      "primarySite site-a is not among the sites: ",
    );
  });
});

describe("the standby CA's site (the failover site)", () => {
  const standbyTier = tierCidr(SITE_B.vpcCidr, "servers");
  const failoverOff = { sites: { "site-b": { failover: false } } };

  it.each(["site-a", "site-b"] as const)(
    "%s: its Puppet servers and PuppetDB reach the standby CA's server tier on 8140",
    (stack) => {
      const rules = firewallRules(firewallInput(settings(stack)));
      expect(
        rules
          .filter(
            (r) => r.direction === "egress" && "cidr" in r.peer && r.peer.cidr === standbyTier,
          )
          .map((r) => [show(r), r.description]),
      ).toEqual([
        ["puppetserver egress 8140 10.50.64.0/18", "The standby CA in site-b"],
        ["puppetdb egress 8140 10.50.64.0/18", "The standby CA in site-b"],
      ]);
    },
  );

  it.each([
    ["site-a", 26],
    ["site-b", 24],
  ] as const)(
    "%s with sites.site-b.failover false: no standby CA rule, no replica rule, still least privilege",
    (stack, count) => {
      const input = firewallInput(settings(stack, failoverOff));
      expect(input.standbyCaSite).toBeUndefined();
      const rules = firewallRules(input);
      expect(rules).toHaveLength(count);
      expect(violations(rules, input)).toEqual([]);
      expect(rules.filter((r) => r.description.includes("standby")).map(show)).toEqual([]);
      expect(rules.filter((r) => r.port === 8140 && r.direction === "egress").map(show)).toEqual([
        "puppetserver egress 8140 10.40.64.0/18",
        "puppetdb egress 8140 10.40.64.0/18",
        "balancer egress 8140 sg:puppetserver",
      ]);
    },
  );

  it("in three sites, every site reaches the standby's tier and only the primary and the failover site have database rules", () => {
    const sites = [SITE_A, SITE_B, SITE_C];
    const databaseRules = (site: string) => {
      const input: FirewallInput = { site, sites, primarySite: "site-a", standbyCaSite: "site-c" };
      const rules = firewallRules(input);
      expect(violations(rules, input), site).toEqual([]);
      expect(
        rules.filter((r) => r.description === "The standby CA in site-c").map(show),
        site,
      ).toEqual(["puppetserver egress 8140 10.60.64.0/18", "puppetdb egress 8140 10.60.64.0/18"]);
      return rules
        .filter((r) => r.group === "database" || ("group" in r.peer && r.peer.group === "database"))
        .map(show);
    };
    expect(databaseRules("site-a")).toEqual([
      "puppetdb egress 5432 sg:database",
      "database ingress 5432 sg:puppetdb",
      "database ingress 5432 10.50.128.0/18",
      "database ingress 5432 10.60.128.0/18",
    ]);
    expect(databaseRules("site-b")).toEqual([]);
    // The replica's: its own site's PuppetDB only.
    expect(databaseRules("site-c")).toEqual([
      "database ingress 5432 sg:puppetdb",
      "puppetdb egress 5432 sg:database",
    ]);
  });

  it("fails when standbyCaSite is the primary", () => {
    const input = { ...firewallInput(settings("site-a")), standbyCaSite: "site-a" };
    expect(() => firewallRules(input)).toThrow(
      "standbyCaSite site-a must be one of the sites other than the primary site-a",
    );
  });

  it("fails when standbyCaSite is not among the sites", () => {
    const input = { ...firewallInput(settings("site-a")), standbyCaSite: "site-z" };
    expect(() => firewallRules(input)).toThrow(
      "standbyCaSite site-z must be one of the sites other than the primary site-a",
    );
  });
});

describe("required connectivity (least privilege must not cut the service)", () => {
  it.each(["site-a", "site-b"] as const)(
    "%s: masters reach the CA and every PuppetDB, PuppetDB its database",
    (stack) => {
      const lines = firewallRules(firewallInput(settings(stack))).map(show);
      const caTier = tierCidr(SITE_A.vpcCidr, "servers");
      const other = stack === "site-a" ? SITE_B : SITE_A;
      expect(lines).toContain(`puppetserver egress 8140 ${caTier}`);
      expect(lines).toContain("puppetserver egress 8081 sg:puppetdb");
      expect(lines).toContain(`puppetserver egress 8081 ${tierCidr(other.vpcCidr, "data")}`);
      expect(lines).toContain(`puppetdb egress 8140 ${caTier}`);
      expect(lines).toContain(
        stack === "site-a"
          ? "puppetdb egress 5432 sg:database"
          : `puppetdb egress 5432 ${tierCidr(SITE_A.vpcCidr, "data")}`,
      );
    },
  );

  it.each(["site-a", "site-b"] as const)(
    "%s: admits on 8140 every site's VPC and every site's agent networks (failover, the one CA)",
    (stack) => {
      const lines = firewallRules(firewallInput(settings(stack))).map(show);
      for (const cidr of ["10.40.0.0/16", "10.50.0.0/16", "172.20.0.0/16", "172.21.0.0/16"]) {
        expect(lines).toContain(`puppetserver ingress 8140 ${cidr}`);
      }
    },
  );

  it("site-a admits site-b's agent network and site-b admits site-a's", () => {
    const a = firewallRules(firewallInput(settings("site-a"))).map(show);
    const b = firewallRules(firewallInput(settings("site-b"))).map(show);
    expect(a).toContain("puppetserver ingress 8140 172.21.0.0/16");
    expect(b).toContain("puppetserver ingress 8140 172.20.0.0/16");
  });
});

describe("control repository over SSH on a web port", () => {
  it("adds no second rule when SSH runs on 443 (already open), so rule names stay unique", () => {
    const s = settings("site-a", {
      controlRepo: repoSetting("ssh://git@ssh.github.com:443/org/control-repo.git"),
    });
    const input = firewallInput(s);
    expect(input.gitSshPort).toBe(443);
    const rules = firewallRules(input);
    const keys = rules.map(
      (r) =>
        `${r.group}-${r.direction}-${r.port}-${"cidr" in r.peer ? r.peer.cidr : r.peer.group}-${r.protocol ?? "tcp"}`,
    );
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
    expect(rules.filter((r) => r.group === "puppetserver" && r.port === 443)).toHaveLength(1);
  });
});

import { describe, expect, it } from "vitest";
import {
  ConfigError,
  DEFAULTS,
  MAX_MASTERS,
  RawConfig,
  RawContext,
  Settings,
  parseSettings,
} from "../../infra/config";
import { readStackConfig } from "../../tools/plan/stack-config";
import {
  CONTROL_REPO_URL,
  DOMAIN,
  FixtureStack,
  IMAGE,
  PEER_STACK,
  PROJECT,
  SITE_A,
  SITE_B,
  SITE_C,
  SSH_HOST_KEY,
  context,
  minimalRawConfig,
  rawConfig,
  repoSetting,
  settings,
  siteConfig,
} from "../fixtures";

/** Runs `parse`, expecting a ConfigError; returns it for further assertions. */
function configError(parse: () => unknown): ConfigError {
  try {
    parse();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error("expected a ConfigError, but parsing succeeded");
}

/** Asserts the error names the key, the received value and what is allowed. */
function expectRejected(
  raw: RawConfig,
  ctx: RawContext,
  key: string,
  value: unknown,
  allowed: string,
) {
  const err = configError(() => parseSettings(raw, ctx));
  expect(err.key).toBe(key);
  expect(err.value).toStrictEqual(value);
  expect(err.message).toContain(`config ${key}: `);
  expect(err.message).toContain(
    value === undefined ? "nothing (the key is not set)" : JSON.stringify(value),
  );
  expect(err.message).toContain(allowed);
}

describe("secretAdministrators", () => {
  const ci = "arn:aws:iam::123456789012:role/ci-deployer";
  const sso =
    "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_Admin_*";

  it("takes role ARNs, wildcards allowed", () => {
    const raw = { ...minimalRawConfig(), secretAdministrators: [ci, sso] };
    expect(parseSettings(raw, context("site-a")).secretAdministrators).toEqual([ci, sso]);
  });

  it.each([
    [
      "arn:aws:sts::123456789012:assumed-role/ci-deployer/session-1",
      "for an assumed-role session give its role",
    ],
    ["arn:aws:iam::123456789012:user/alice", "expected an IAM role ARN"],
    ["ci-deployer", "expected an IAM role ARN"],
  ])("refuses %s, naming the entry", (value, allowed) => {
    expectRejected(
      { ...minimalRawConfig(), secretAdministrators: [ci, value] },
      context("site-a"),
      "secretAdministrators[1]",
      value,
      allowed,
    );
  });
});

describe("parseSettings defaults", () => {
  const s = parseSettings(minimalRawConfig(), context("site-a"));

  it("resolves every documented default", () => {
    expect(s.azCount).toBe(2);
    expect(s.masters).toEqual({ count: 2, instanceType: "m6i.large", srvWeight: 10 });
    expect(s).toMatchObject(DEFAULTS);
    expect(s.caInstanceType).toBe("m6i.large");
    expect(s.puppetdbInstanceType).toBe("m6i.large");
    expect(s.database).toEqual({
      instanceClass: "db.m6g.large",
      engineVersion: "15",
      allocatedStorageGb: 50,
      backupRetentionDays: 7,
      applyImmediately: false,
      active: "primary",
    });
    expect(s.secretAdministrators).toEqual([]);
    expect(s.controlRepo).toEqual({
      url: CONTROL_REPO_URL,
      branch: "production",
      syncIntervalMinutes: 5,
      knownHosts: [],
      tokenUser: "x-access-token",
    });
    expect(s.certificates).toEqual({
      crlRefreshMinutes: 5,
      standbySyncSeconds: 60,
      activeCa: "primary",
    });
    expect(s.protectStateful).toBe(true);
    expect(s.image).toEqual({ kind: "debian", name: IMAGE, arch: "amd64" });
  });

  it("gives a site without agentCidrs no agent networks", () => {
    expect(s.site.agentCidrs).toEqual([]);
    expect(s.sites.map((x) => x.agentCidrs)).toEqual([[], []]);
    expect(s).not.toHaveProperty("agentCidrs");
  });

  it("takes the site from the stack name and the primary from the first catalogue entry", () => {
    expect(s.project).toBe(PROJECT);
    expect(s.stack).toBe("site-a");
    expect(s.domain).toBe(DOMAIN);
    expect(s.site).toEqual({ ...SITE_A, agentCidrs: [] });
    expect(s.sites.map((x) => [x.name, x.region, x.vpcCidr])).toEqual([
      ["site-a", "us-east-1", "10.40.0.0/16"],
      ["site-b", "eu-west-1", "10.50.0.0/16"],
    ]);
    expect(s.primarySite.name).toBe("site-a");
    expect(s.role).toBe("primary");
  });

  it("accepts a stack without aws:region (nothing to compare)", () => {
    expect(
      parseSettings(minimalRawConfig(), context("site-a", { awsRegion: undefined })).site.name,
    ).toBe("site-a");
  });
});

describe("the fixture", () => {
  it.each(["site-a", "site-b"] as const)(
    "is the repository's stack files for %s",
    (stack: FixtureStack) => {
      const { config } = readStackConfig(stack);
      const raw: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(config)) {
        if (!key.startsWith(`${PROJECT}:`)) continue;
        const name = key.slice(PROJECT.length + 1);
        raw[name] = ["sites", "masters", "controlRepo"].includes(name)
          ? (JSON.parse(value) as unknown)
          : value;
      }
      expect(raw).toEqual(rawConfig({}, stack));
      expect(config["aws:region"]).toBe(context(stack).awsRegion);
    },
  );
});

describe("the sites catalogue", () => {
  it("gives every stack the whole catalogue, with each site's agent networks", () => {
    const a = settings("site-a");
    const b = settings("site-b");
    expect(a.sites).toEqual([SITE_A, SITE_B]);
    expect(b.sites).toEqual(a.sites);
    expect(a.site.agentCidrs).toEqual(["172.20.0.0/16"]);
    expect(b.site.agentCidrs).toEqual(["172.21.0.0/16"]);
  });

  it("keeps several agent networks of a site in order, from /8 to /32", () => {
    const list = ["172.21.0.0/16", "11.0.0.0/8", "192.168.7.1/32"];
    const s = settings("site-a", at("sites.site-b.agentCidrs", list));
    expect(s.sites[1].agentCidrs).toEqual(list);
    expect(s.site.agentCidrs).toEqual(["172.20.0.0/16"]);
  });

  it("accepts agent networks that touch a VPC without overlapping it", () => {
    const list = ["10.39.0.0/16", "10.41.0.0/16", "10.51.0.0/16"];
    const s = settings("site-a", at("sites.site-a.agentCidrs", list));
    expect(s.site.agentCidrs).toEqual(list);
  });

  it("accepts an empty agentCidrs list", () => {
    const s = settings("site-b", at("sites.site-b.agentCidrs", []));
    expect(s.site.agentCidrs).toEqual([]);
    expect(s.sites[0].agentCidrs).toEqual(["172.20.0.0/16"]);
  });
});

describe("the failover site", () => {
  it("is the other site of a two-site deployment, seen alike by both stacks", () => {
    for (const stack of ["site-a", "site-b"] as const) {
      const s = settings(stack);
      expect(s.failoverSite?.name).toBe("site-b");
      expect(s.sites.map((x) => x.failover)).toEqual([false, true]);
    }
  });

  it("follows primarySite", () => {
    const s = parseSettings(rawConfig({ primarySite: "site-b" }, "site-b"), context("site-b"));
    expect(s.failoverSite?.name).toBe("site-a");
  });

  it("is none when the other site says failover: false, or with a single site", () => {
    expect(settings("site-a", at("sites.site-b.failover", false)).failoverSite).toBeUndefined();
    const single = parseSettings(rawConfig(at("sites.site-b", undefined)), context("site-a"));
    expect(single.failoverSite).toBeUndefined();
  });

  it("is chosen by name among three sites, and none by default there", () => {
    expect(settings("site-a", at("sites.site-c", siteConfig(SITE_C))).failoverSite).toBeUndefined();
    const s = settings("site-a", at("sites.site-c", { ...siteConfig(SITE_C), failover: "true" }));
    expect(s.failoverSite?.name).toBe("site-c");
    expect(s.sites.map((x) => x.failover)).toEqual([false, false, true]);
  });

  it("is never the primary, and there is only one", () => {
    expectRejected(
      rawConfig(at("sites.site-a.failover", true)),
      context("site-a"),
      "sites.site-a.failover",
      true,
      "the primary site holds the active CA and the database",
    );
    const both = {
      "site-b": { ...siteConfig(SITE_B), failover: true },
      "site-c": { ...siteConfig(SITE_C), failover: true },
    };
    expectRejected(
      rawConfig(at("sites", both)),
      context("site-a"),
      "sites.site-c.failover",
      true,
      "sites.site-b.failover is true already; one site is the failover site",
    );
  });

  it("refuses a standbyCa that is not a boolean", () => {
    expectRejected(
      rawConfig(at("sites.site-b.failover", "yes")),
      context("site-a"),
      "sites.site-b.failover",
      "yes",
      "expected true or false",
    );
  });

  it("syncs every 60 s unless told, between 5 s and an hour", () => {
    expect(settings().certificates.standbySyncSeconds).toBe(60);
    expect(settings("site-b", at("certificates.standbySyncSeconds", 5)).certificates).toMatchObject(
      { standbySyncSeconds: 5 },
    );
    expectRejected(
      rawConfig(at("certificates.standbySyncSeconds", 4)),
      context("site-a"),
      "certificates.standbySyncSeconds",
      4,
      "expected a whole number from 5 to 3600",
    );
  });
});

// Where a promotion is recorded: the CA's and the database's, each on its own.
const ACTIVE_SETTINGS = [
  ["certificates.activeCa", "CA", (x: Settings) => x.certificates.activeCa],
  ["database.active", "database", (x: Settings) => x.database.active],
] as const;

describe.each(ACTIVE_SETTINGS)("%s", (key, what, read) => {
  it("is the primary's unless a promotion is recorded, and records nothing else", () => {
    expect(read(settings())).toBe("primary");
    const promoted = settings("site-b", at(key, "failover"));
    expect(read(promoted)).toBe("failover");
    for (const [other, , readOther] of ACTIVE_SETTINGS) {
      if (other !== key) expect(readOther(promoted)).toBe("primary");
    }
  });

  it("refuses anything else, naming both values", () => {
    expectRejected(
      rawConfig(at(key, "site-b")),
      context("site-a"),
      key,
      "site-b",
      "expected primary or failover",
    );
  });

  it("refuses failover when no site is the failover site", () => {
    expectRejected(
      rawConfig({ ...at(key, "failover"), ...at("sites.site-b.failover", false) }),
      context("site-a"),
      key,
      "failover",
      `no site is the failover site (sites.<name>.failover), so the primary's ${what} is the only one: expected primary`,
    );
  });
});

describe("parseSettings roles", () => {
  it("makes the primarySite primary and drops a peerStack it does not need", () => {
    const s = settings("site-a", { peerStack: "organization/puppet-multisite/site-b" });
    expect(s.role).toBe("primary");
    expect(s.peerStack).toBeUndefined();
  });

  it("makes every other site secondary, keeping its peerStack", () => {
    const s = settings("site-b");
    expect(s.role).toBe("secondary");
    expect(s.site).toEqual(SITE_B);
    expect(s.primarySite.name).toBe("site-a");
    expect(s.peerStack).toBe(PEER_STACK);
  });

  it("follows primarySite when it names the second site", () => {
    const b = parseSettings(rawConfig({ primarySite: "site-b" }, "site-b"), context("site-b"));
    expect(b.role).toBe("primary");
    const a = parseSettings(
      rawConfig({ primarySite: "site-b", peerStack: "site-b" }),
      context("site-a"),
    );
    expect(a.role).toBe("secondary");
    expect(a.peerStack).toBe("site-b");
  });

  it("uses siteName over the stack name", () => {
    const s = parseSettings(
      rawConfig({ siteName: "site-b" }, "site-b"),
      context("prod-eu", { awsRegion: "eu-west-1" }),
    );
    expect(s.stack).toBe("prod-eu");
    expect(s.site).toEqual(SITE_B);
    expect(s.role).toBe("secondary");
  });

  it("reads numbers and booleans given as strings (how pulumi.Config hands scalars over)", () => {
    const s = settings("site-a", {
      availabilityZoneCount: "3",
      protectStateful: "false",
      masters: { count: "4" },
    });
    expect(s.azCount).toBe(3);
    expect(s.protectStateful).toBe(false);
    expect(s.masters.count).toBe(4);
  });

  it("accepts the boundaries of every range", () => {
    const s = settings("site-a", {
      availabilityZoneCount: 4,
      masters: { count: MAX_MASTERS, srvWeight: 0 },
      database: { allocatedStorageGb: 20, backupRetentionDays: 35, engineVersion: "16" },
      controlRepo: {
        ...repoSetting("git@git.example.com:puppet/control-repo.git"),
        syncIntervalMinutes: 60,
      },
      image: "ami-0123456789abcdef0",
    });
    expect([s.azCount, s.masters.count, s.masters.srvWeight]).toEqual([4, 250, 0]);
    expect(s.database).toMatchObject({
      allocatedStorageGb: 20,
      backupRetentionDays: 35,
      engineVersion: "16",
    });
    expect(s.controlRepo.syncIntervalMinutes).toBe(60);
    expect(s.image).toEqual({ kind: "ami", id: "ami-0123456789abcdef0" });
  });

  it("takes an arm64 Debian image with Graviton instance types", () => {
    const s = settings("site-a", {
      image: "debian-12-arm64-20240717-1811",
      masters: { instanceType: "m7g.large" },
      caInstanceType: "c6gn.large",
      puppetdbInstanceType: "r6gd.xlarge",
    });
    expect(s.image).toEqual({
      kind: "debian",
      name: "debian-12-arm64-20240717-1811",
      arch: "arm64",
    });
  });

  it.each([
    ["masters.instanceType", { masters: { instanceType: "m7g.large" } }, "m7g.large", "arm64"],
    ["caInstanceType", { caInstanceType: "t4g.medium" }, "t4g.medium", "arm64"],
    ["puppetdbInstanceType", { puppetdbInstanceType: "a1.large" }, "a1.large", "arm64"],
  ])("fails when %s does not match the image's architecture", (key, overrides, type, arch) => {
    expect(() => settings("site-a", overrides)).toThrow(
      new ConfigError(
        key,
        type,
        `is an ${arch} instance type but image ${IMAGE} is amd64: choose an amd64 type, or the ${arch} image of the same release`,
      ).message,
    );
  });

  it("leaves the architecture of an AMI id to the user", () => {
    const s = settings("site-a", { image: "ami-0123456789abcdef0", caInstanceType: "m7g.large" });
    expect(s.caInstanceType).toBe("m7g.large");
  });

  it.each([
    "ssh://git@git.example.com/puppet/control-repo.git",
    "ssh://git.example.com/puppet/control-repo.git",
    "ssh://git@git.example.com:1/puppet/control-repo.git",
    "ssh://git@git.example.com:2222/puppet/control-repo.git",
    "ssh://git@git.example.com:65535/puppet/control-repo.git",
    "git@git.example.com:puppet/control-repo.git",
  ])("accepts the git URL %s", (url) => {
    expect(settings("site-a", { controlRepo: repoSetting(url) }).controlRepo.url).toBe(url);
  });
});

describe("controlRepo credentials", () => {
  const SSH = "ssh://git@git.example.com:2222/puppet/control.git";
  const KNOWN = `[git.example.com]:2222 ${SSH_HOST_KEY}`;

  it("takes a deploy key and host keys for an SSH URL", () => {
    const s = settings("site-a", {
      controlRepo: { url: SSH, sshKeySecret: "puppet/deploy-key", knownHosts: [KNOWN] },
    });
    expect(s.controlRepo).toMatchObject({ sshKeySecret: "puppet/deploy-key", knownHosts: [KNOWN] });
  });

  it("takes a token for an HTTPS URL, with a user name", () => {
    const s = settings("site-a", {
      controlRepo: { url: CONTROL_REPO_URL, tokenSecret: "puppet/repo-token", tokenUser: "oauth2" },
    });
    expect(s.controlRepo).toMatchObject({ tokenSecret: "puppet/repo-token", tokenUser: "oauth2" });
  });

  it.each<[string, Record<string, unknown>, string, unknown, string]>([
    [
      "an SSH URL without a deploy key",
      { url: SSH, knownHosts: [KNOWN] },
      "controlRepo.sshKeySecret",
      undefined,
      "required for an SSH URL",
    ],
    [
      "an SSH URL without host keys",
      { url: SSH, sshKeySecret: "k" },
      "controlRepo.knownHosts",
      [],
      "a known_hosts line for [git.example.com]:2222 (ssh-keyscan -p 2222 git.example.com",
    ],
    [
      "host keys of another server (port 22 is not 2222)",
      { url: SSH, sshKeySecret: "k", knownHosts: [`git.example.com ${SSH_HOST_KEY}`] },
      "controlRepo.knownHosts",
      [`git.example.com ${SSH_HOST_KEY}`],
      "a known_hosts line for [git.example.com]:2222",
    ],
    [
      "a known_hosts line with an unknown key type",
      {
        url: SSH,
        sshKeySecret: "k",
        knownHosts: ["git.example.com ssh-dss AAAAB3NzaC1kc3MAAACBAP"],
      },
      "controlRepo.knownHosts[0]",
      "git.example.com ssh-dss AAAAB3NzaC1kc3MAAACBAP",
      "unknown key type ssh-dss",
    ],
    [
      "a hashed known_hosts line",
      { url: SSH, sshKeySecret: "k", knownHosts: [`|1|abc=|def= ${SSH_HOST_KEY}`] },
      "controlRepo.knownHosts[0]",
      `|1|abc=|def= ${SSH_HOST_KEY}`,
      "name the host in clear",
    ],
    [
      "a token for an SSH URL",
      { url: SSH, sshKeySecret: "k", knownHosts: [KNOWN], tokenSecret: "t" },
      "controlRepo.tokenSecret",
      "t",
      "only for an HTTPS URL",
    ],
    [
      "a deploy key for an HTTPS URL",
      { url: CONTROL_REPO_URL, sshKeySecret: "k" },
      "controlRepo.sshKeySecret",
      "k",
      "only for an SSH URL",
    ],
    [
      "credentials inside an HTTPS URL",
      { url: "https://deploy:hunter2@git.example.com/puppet/control.git" },
      "controlRepo.url",
      "https://deploy:hunter2@git.example.com/puppet/control.git",
      "name a secret in controlRepo.tokenSecret",
    ],
    [
      "a secret name with a space",
      { url: CONTROL_REPO_URL, tokenSecret: "repo token" },
      "controlRepo.tokenSecret",
      "repo token",
      "expected a Secrets Manager secret name",
    ],
  ])("refuses %s, naming the setting", (_what, controlRepo, key, value, allowed) => {
    expectRejected(rawConfig({ controlRepo }), context("site-a"), key, value, allowed);
  });
});

const LABEL = "expected a DNS label";
const WHOLE = (min: number, max: number) => `expected a whole number from ${min} to ${max}`;
const EC2 = "expected an EC2 instance type";

/** Overrides setting one dotted key, e.g. `at("masters.count", 0)` is `{ masters: { count: 0 } }`. */
function at(key: string, value: unknown): Record<string, unknown> {
  return key.split(".").reduceRight<unknown>((inner, part) => ({ [part]: inner }), value) as Record<
    string,
    unknown
  >;
}

// A bad value of one key: [key, value, what is allowed]. Run against site-a unless noted.
const REJECTED: [string, unknown, string][] = [
  ["domain", undefined, "a value is required"],
  ["domain", "Puppet_Example", "expected a DNS domain"],
  ["domain", "internal", "such as puppet.example.internal"],
  ["sites", undefined, "expected a map of site name to { region, vpcCidr }"],
  ["sites", ["site-a"], "with at least one site"],
  ["sites.site-b", "eu-west-1", "expected an object"],
  ["sites.site-b.region", undefined, "a value is required"],
  ["sites.site-b.region", "Europe", "expected an AWS region"],
  ["sites.site-b.vpcCidr", undefined, "a value is required"],
  ["sites.site-b.vpcCidr", "10.50.0.0/17", "expected an IPv4 /16"],
  ["sites.site-b.vpcCidr", "10.50.1.0/16", "in network form"],
  ["sites.site-b.vpcCidr", "10.40.0.0/16", "overlaps sites.site-a.vpcCidr (10.40.0.0/16)"],
  ["siteName", "Site_A", LABEL],
  ["siteName", "site-c", "must be one of the sites catalogue: site-a, site-b"],
  ["primarySite", "site-z", "expected one of the sites: site-a, site-b"],
  ["availabilityZoneCount", 1, WHOLE(2, 4)],
  ["availabilityZoneCount", "5", WHOLE(2, 4)],
  ["availabilityZoneCount", 2.5, WHOLE(2, 4)],
  ["sites.site-b.agentCidrs", "172.21.0.0/16", "expected a list"],
  ["sites.site-a.agentCidrs", { office: "172.20.0.0/16" }, "expected a list"],
  ["masters", 3, "expected an object"],
  ["masters.count", 0, WHOLE(1, 250)],
  ["masters.count", 251, WHOLE(1, 250)],
  ["masters.count", "two", WHOLE(1, 250)],
  ["masters.instanceType", "large", EC2],
  ["masters.srvWeight", 65536, WHOLE(0, 65535)],
  ["masters.srvWeight", -1, WHOLE(0, 65535)],
  ["caInstanceType", "M6I.LARGE", EC2],
  ["puppetdbInstanceType", 5, "expected a string"],
  ["database", "postgres", "expected an object"],
  ["database.instanceClass", "m6g.large", "expected an RDS instance class"],
  ["database.engineVersion", "13", "PuppetDB supports: 14, 15, 16"],
  ["database.engineVersion", 15, "expected a string"],
  ["database.allocatedStorageGb", 10, WHOLE(20, 65536)],
  ["database.allocatedStorageGb", 65537, WHOLE(20, 65536)],
  ["database.backupRetentionDays", 3, WHOLE(7, 35)],
  ["database.backupRetentionDays", 36, WHOLE(7, 35)],
  ["controlRepo.url", undefined, "a value is required"],
  ["controlRepo.url", "http://git.example.com/control.git", "expected a git URL"],
  [
    "controlRepo.url",
    "control-repo",
    "https://host/path, ssh://[user@]host[:port]/path or user@host:path",
  ],
  ["controlRepo.url", "ssh://git@git.example.com:0/control.git", "expected a git URL"],
  ["controlRepo.url", "ssh://git@git.example.com:65536/control.git", "expected a git URL"],
  ["controlRepo.url", "ssh://git@git.example.com:99999/control.git", "expected a git URL"],
  ["controlRepo.url", "ssh://git@git.example.com:022/control.git", "expected a git URL"],
  ["controlRepo.url", "ssh://git@git.example.com:/control.git", "expected a git URL"],
  ["controlRepo.url", "ssh://git@git.example.com:22x/control.git", "expected a git URL"],
  ["controlRepo.url", "ssh://git@git.example.com:2222", "expected a git URL"],
  ["controlRepo.branch", "a..b", "expected a git branch name"],
  ["controlRepo.branch", "-main", "expected a git branch name"],
  ["controlRepo.syncIntervalMinutes", 0, WHOLE(1, 60)],
  ["controlRepo.syncIntervalMinutes", 61, WHOLE(1, 60)],
  ["certificates.crlRefreshMinutes", 0, WHOLE(1, 60)],
  ["certificates.crlRefreshMinutes", 61, WHOLE(1, 60)],
  ["certificates.crlRefreshMinutes", 2.5, WHOLE(1, 60)],
  ["protectStateful", "yes", "expected true or false"],
  ["image", "ami-XYZ", "or an AMI id such as ami-0123456789abcdef0"],
  ["image", "", "a value is required"],
  ["image", "debian-12", "expected a Debian 12 image name such as debian-12-amd64-20240717-1811"],
  ["image", "debian-12-amd64-latest", "expected a Debian 12 image name"],
  ["image", "debian-11-amd64-20240717-1811", "expected a Debian 12 image name"],
];

const OUTSIDE = "list each agent network once, outside the sites' VPCs";
const WHOLE_INTERNET =
  "Puppet servers are never open to the whole Internet; name the agents' networks (/8 or longer)";

// A bad agentCidrs list of one site: [site, list, key named, value, what is allowed].
const BAD_AGENT_CIDRS: [string, unknown[], string, unknown, string][] = [
  ["site-b", [42], "sites.site-b.agentCidrs[0]", 42, "expected a string"],
  [
    "site-b",
    ["172.21.0.0/16", "office"],
    "sites.site-b.agentCidrs[1]",
    "office",
    "expected an IPv4 CIDR in network form, such as 172.20.0.0/16",
  ],
  ["site-b", ["172.21.0.1/16"], "sites.site-b.agentCidrs[0]", "172.21.0.1/16", "network form"],
  ["site-b", ["fd00::/8"], "sites.site-b.agentCidrs[0]", "fd00::/8", "network form"],
  ["site-a", ["0.0.0.0/0"], "sites.site-a.agentCidrs[0]", "0.0.0.0/0", WHOLE_INTERNET],
  ["site-b", ["128.0.0.0/1"], "sites.site-b.agentCidrs[0]", "128.0.0.0/1", WHOLE_INTERNET],
  ["site-b", ["172.0.0.0/7"], "sites.site-b.agentCidrs[0]", "172.0.0.0/7", WHOLE_INTERNET],
  // The site's own VPC, exactly: always admitted, so never an agent network.
  [
    "site-b",
    ["10.50.0.0/16"],
    "sites.site-b.agentCidrs[0]",
    "10.50.0.0/16",
    `overlaps sites.site-b.vpcCidr (10.50.0.0/16); ${OUTSIDE}`,
  ],
  // Part of another site's VPC.
  [
    "site-b",
    ["172.21.0.0/16", "10.40.0.0/17"],
    "sites.site-b.agentCidrs[1]",
    "10.40.0.0/17",
    "overlaps sites.site-a.vpcCidr (10.40.0.0/16)",
  ],
  // Containing both VPCs: named by the first it overlaps.
  [
    "site-b",
    ["10.0.0.0/8"],
    "sites.site-b.agentCidrs[0]",
    "10.0.0.0/8",
    "overlaps sites.site-a.vpcCidr (10.40.0.0/16)",
  ],
  // An earlier site's agent network inside a later site's VPC: the VPCs are checked first.
  [
    "site-a",
    ["10.50.240.0/20"],
    "sites.site-a.agentCidrs[0]",
    "10.50.240.0/20",
    "overlaps sites.site-b.vpcCidr (10.50.0.0/16)",
  ],
  // Across sites: the later key is named, with the earlier network it overlaps.
  [
    "site-b",
    ["172.20.128.0/17"],
    "sites.site-b.agentCidrs[0]",
    "172.20.128.0/17",
    `overlaps sites.site-a.agentCidrs[0] (172.20.0.0/16); ${OUTSIDE}`,
  ],
  [
    "site-a",
    ["172.16.0.0/12"],
    "sites.site-b.agentCidrs[0]",
    "172.21.0.0/16",
    "overlaps sites.site-a.agentCidrs[0] (172.16.0.0/12)",
  ],
  // Within one site: listed twice, or one inside the other.
  [
    "site-b",
    ["172.21.0.0/16", "172.21.0.0/16"],
    "sites.site-b.agentCidrs[1]",
    "172.21.0.0/16",
    "overlaps sites.site-b.agentCidrs[0] (172.21.0.0/16)",
  ],
  [
    "site-a",
    ["172.20.0.0/16", "192.168.0.0/24", "172.20.5.0/24"],
    "sites.site-a.agentCidrs[2]",
    "172.20.5.0/24",
    "overlaps sites.site-a.agentCidrs[0] (172.20.0.0/16)",
  ],
];

describe("parseSettings validation", () => {
  it.each(REJECTED)("fails when %s is %j", (key, value, allowed) => {
    expectRejected(rawConfig(at(key, value)), context("site-a"), key, value, allowed);
  });

  it.each(BAD_AGENT_CIDRS)(
    "fails when sites.%s.agentCidrs is %j",
    (site, list, key, value, allowed) => {
      const raw = rawConfig(at(`sites.${site}.agentCidrs`, list));
      expectRejected(raw, context("site-a"), key, value, allowed);
      // Every stack sees the same catalogue, so the secondary fails the same way.
      expectRejected(
        rawConfig(at(`sites.${site}.agentCidrs`, list), "site-b"),
        context("site-b"),
        key,
        value,
        allowed,
      );
    },
  );

  it("fails when a third site's agent network overlaps the first site's, naming the third", () => {
    const raw = rawConfig(
      at("sites.site-c", siteConfig({ ...SITE_C, agentCidrs: ["172.20.0.0/24"] })),
    );
    const allowed = `overlaps sites.site-a.agentCidrs[0] (172.20.0.0/16); ${OUTSIDE}`;
    expectRejected(raw, context("site-a"), "sites.site-c.agentCidrs[0]", "172.20.0.0/24", allowed);
  });

  it("fails when the catalogue is empty", () => {
    const sites = { "site-a": undefined, "site-b": undefined };
    expectRejected(rawConfig({ sites }), context("site-a"), "sites", {}, "at least one site");
  });

  it("fails when a catalogue site name is not a DNS label", () => {
    const raw = rawConfig(at("sites.Site_C", siteConfig(SITE_C)));
    expectRejected(raw, context("site-a"), "sites.Site_C", "Site_C", "must be a DNS label");
  });

  it("fails when a later site overlaps an earlier one, naming the later", () => {
    const raw = rawConfig(at("sites.site-c", siteConfig({ ...SITE_C, vpcCidr: SITE_B.vpcCidr })));
    const allowed = "overlaps sites.site-b.vpcCidr (10.50.0.0/16); peered VPCs need disjoint CIDRs";
    expectRejected(raw, context("site-a"), "sites.site-c.vpcCidr", "10.50.0.0/16", allowed);
  });

  it("fails when controlRepo is missing altogether", () => {
    const raw = rawConfig({ controlRepo: undefined });
    expectRejected(raw, context("site-a"), "controlRepo.url", undefined, "a value is required");
  });

  it("fails when a secondary has no peerStack, naming the stack to set", () => {
    const raw = rawConfig({ peerStack: undefined }, "site-b");
    const allowed =
      "site site-b is secondary (primarySite is site-a), so it must name the primary's stack";
    expectRejected(raw, context("site-b"), "peerStack", undefined, allowed);
    expectRejected(raw, context("site-b"), "peerStack", undefined, PEER_STACK);
  });

  it("fails when peerStack is not a stack name", () => {
    const raw = rawConfig({ peerStack: "a/b/c/d" }, "site-b");
    expectRejected(raw, context("site-b"), "peerStack", "a/b/c/d", "expected a stack name");
  });

  it("fails when aws:region differs from the catalogue", () => {
    expectRejected(
      rawConfig(),
      context("site-a", { awsRegion: "eu-west-1" }),
      "aws:region",
      "eu-west-1",
      "must equal sites.site-a.region (us-east-1)",
    );
  });

  it("fails when the stack name (default siteName) is not in the catalogue", () => {
    expectRejected(
      rawConfig(),
      context("staging"),
      "siteName",
      "staging",
      "(default: the stack name)",
    );
  });
});

describe("misspelt keys inside a section", () => {
  it("fails when a catalogue entry has an unknown key, so a typo cannot drop an agent network", () => {
    expectRejected(
      rawConfig({ sites: { "site-b": { agentCIDRs: ["172.21.0.0/16"] } } }),
      context("site-a"),
      "sites.site-b.agentCIDRs",
      "(set)",
      "unknown key; the keys of sites.site-b are: region, vpcCidr, agentCidrs, failover",
    );
  });

  it("fails when masters, database or controlRepo has an unknown key", () => {
    expectRejected(
      rawConfig({ masters: { cout: 3 } }),
      context("site-a"),
      "masters.cout",
      "(set)",
      "the keys of masters are: count",
    );
    expectRejected(
      rawConfig({ database: { multiAz: false } }),
      context("site-a"),
      "database.multiAz",
      "(set)",
      "unknown key",
    );
    expectRejected(
      rawConfig({ controlRepo: { ref: "main" } }),
      context("site-a"),
      "controlRepo.ref",
      "(set)",
      "unknown key",
    );
  });
});

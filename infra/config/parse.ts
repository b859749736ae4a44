// Validation of one stack's raw configuration: every rule of every key, with the defaults, before any
// resource exists. Pure, so tests call it directly; `load.ts` feeds it from `pulumi.Config`.
import { MAX_AZS, VPC_PREFIX, cidrsOverlap, parseCidr, prefixLength } from "../cidr";
import { isDnsLabel, isDomain } from "../naming";
import { BACKUP_RETENTION_DAYS, postgresMajorProblem } from "../postgres";
import { readControlRepo } from "./control-repo";
import { ConfigError, Reader } from "./reader";
import {
  ActiveSite,
  Arch,
  DEFAULTS,
  ImageSetting,
  MAX_MASTERS,
  RawConfig,
  RawContext,
  Settings,
  SiteEntry,
  SiteRole,
} from "./types";

const REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;

/** Validates raw configuration and resolves defaults; throws ConfigError on the first bad value. */
export function parseSettings(raw: RawConfig, ctx: RawContext): Settings {
  const reader = new Reader(raw);
  const domain = reader.string("domain", undefined, (v) =>
    isDomain(v)
      ? undefined
      : "expected a DNS domain of lower-case labels, such as puppet.example.internal",
  );
  const catalogue = parseSites(reader);
  const siteName = reader.string("siteName", ctx.stack, (v) =>
    isDnsLabel(v) ? undefined : "expected a DNS label: a-z, 0-9 and '-', at most 63 characters",
  );
  const names = catalogue.map((s) => s.name);
  const region = catalogue.find((s) => s.name === siteName)?.region;
  if (region === undefined) {
    throw new ConfigError(
      "siteName",
      siteName,
      `the site (default: the stack name) must be one of the sites catalogue: ${names.join(", ")}`,
    );
  }
  if (ctx.awsRegion !== undefined && ctx.awsRegion !== region) {
    throw new ConfigError(
      "aws:region",
      ctx.awsRegion,
      `must equal sites.${siteName}.region (${region}), the region the catalogue gives this site`,
    );
  }
  const primaryName = reader.string("primarySite", names[0], (v) =>
    names.includes(v) ? undefined : `expected one of the sites: ${names.join(", ")}`,
  );
  const sites = settleFailover(catalogue, primaryName);
  const site = sites.find((s) => s.name === siteName)!;
  const primarySite = sites.find((s) => s.name === primaryName)!;
  const failoverSite = sites.find((s) => s.failover);
  const role: SiteRole = site === primarySite ? "primary" : "secondary";
  const peerStack = reader.optionalString("peerStack", (v) =>
    /^([\w.-]+\/){0,2}[\w.-]+$/.test(v)
      ? undefined
      : "expected a stack name: <org>/<project>/<stack> or <stack>",
  );
  if (role === "secondary" && peerStack === undefined) {
    throw new ConfigError(
      "peerStack",
      undefined,
      `site ${siteName} is secondary (primarySite is ${primaryName}), so it must name the primary's stack, e.g. organization/${ctx.project}/${primaryName}`,
    );
  }
  const settings: Settings = {
    project: ctx.project,
    stack: ctx.stack,
    domain,
    site,
    sites,
    primarySite,
    failoverSite,
    role,
    peerStack: role === "secondary" ? peerStack : undefined,
    azCount: reader.integer("availabilityZoneCount", DEFAULTS.azCount, 2, MAX_AZS),
    masters: reader.section("masters", (masters) => ({
      count: masters.integer("count", DEFAULTS.masters.count, 1, MAX_MASTERS),
      instanceType: masters.string("instanceType", DEFAULTS.masters.instanceType, instanceType),
      srvWeight: masters.integer("srvWeight", DEFAULTS.masters.srvWeight, 0, 65535),
    })),
    caInstanceType: reader.string("caInstanceType", DEFAULTS.caInstanceType, instanceType),
    puppetdbInstanceType: reader.string(
      "puppetdbInstanceType",
      DEFAULTS.puppetdbInstanceType,
      instanceType,
    ),
    database: reader.section("database", (database) => ({
      instanceClass: database.string("instanceClass", DEFAULTS.database.instanceClass, (v) =>
        /^db\.[a-z0-9]+\.[a-z0-9]+$/.test(v)
          ? undefined
          : "expected an RDS instance class such as db.m6g.large",
      ),
      engineVersion: database.string(
        "engineVersion",
        DEFAULTS.database.engineVersion,
        postgresMajorProblem,
      ),
      allocatedStorageGb: database.integer(
        "allocatedStorageGb",
        DEFAULTS.database.allocatedStorageGb,
        20,
        65536,
      ),
      backupRetentionDays: database.integer(
        "backupRetentionDays",
        DEFAULTS.database.backupRetentionDays,
        BACKUP_RETENTION_DAYS.min,
        BACKUP_RETENTION_DAYS.max,
      ),
      applyImmediately: database.boolean("applyImmediately", DEFAULTS.database.applyImmediately),
      active: database.string("active", DEFAULTS.database.active, (v) =>
        activeSiteProblem(v, failoverSite, "database"),
      ) as ActiveSite,
    })),
    controlRepo: reader.section("controlRepo", readControlRepo),
    certificates: reader.section("certificates", (certificates) => ({
      crlRefreshMinutes: certificates.integer(
        "crlRefreshMinutes",
        DEFAULTS.certificates.crlRefreshMinutes,
        1,
        60,
      ),
      standbySyncSeconds: certificates.integer(
        "standbySyncSeconds",
        DEFAULTS.certificates.standbySyncSeconds,
        5,
        3600,
      ),
      activeCa: certificates.string("activeCa", DEFAULTS.certificates.activeCa, (v) =>
        activeSiteProblem(v, failoverSite, "CA"),
      ) as ActiveSite,
    })),
    protectStateful: reader.boolean("protectStateful", DEFAULTS.protectStateful),
    secretAdministrators: reader.list("secretAdministrators", (v, key) => {
      if (!ROLE_ARN.test(v)) throw new ConfigError(key, v, ROLE_ARN_EXPECTED);
      return v;
    }),
    // The check has just accepted the value: it parses.
    image: parseImage(
      reader.string("image", undefined, (v) => (parseImage(v) ? undefined : IMAGE)),
    )!,
  };
  reader.done();
  checkArchitectures(settings);
  return settings;
}

const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}|\*):role\/[\w+=,.@/*?-]+$/;
const ROLE_ARN_EXPECTED =
  "expected an IAM role ARN such as arn:aws:iam::123456789012:role/ci-deployer, with * and ? as wildcards (arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_Admin_*); for an assumed-role session give its role";

const IMAGE =
  "expected a Debian 12 image name such as debian-12-amd64-20240717-1811 (Debian publishes it under that name in every region) or an AMI id such as ami-0123456789abcdef0 (of this stack's region)";

function parseImage(v: string): ImageSetting | undefined {
  const debian = /^debian-12-(amd64|arm64)-\d{8}-\d+$/.exec(v);
  if (debian) return { kind: "debian", name: v, arch: debian[1] as Arch };
  if (/^ami-[0-9a-f]{8,17}$/.test(v)) return { kind: "ami", id: v };
  return undefined;
}

/** The architecture of an EC2 instance type: Graviton families carry a `g` after their generation. */
export function instanceArch(type: string): Arch {
  const family = type.split(".")[0];
  return family === "a1" || /^[a-z]+\d+g[a-z]*$/.test(family) ? "arm64" : "amd64";
}

/** A Debian image of one architecture boots only instance types of that architecture. */
function checkArchitectures(settings: Settings): void {
  const image = settings.image;
  if (image.kind !== "debian") return;
  const types: [string, string][] = [
    ["masters.instanceType", settings.masters.instanceType],
    ["caInstanceType", settings.caInstanceType],
    ["puppetdbInstanceType", settings.puppetdbInstanceType],
  ];
  for (const [key, type] of types) {
    if (instanceArch(type) !== image.arch) {
      throw new ConfigError(
        key,
        type,
        `is an ${instanceArch(type)} instance type but image ${image.name} is ${image.arch}: choose an ${image.arch} type, or the ${instanceArch(type)} image of the same release`,
      );
    }
  }
}

function instanceType(v: string): string | undefined {
  return /^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(v)
    ? undefined
    : "expected an EC2 instance type such as m6i.large";
}

/** A catalogue entry as read: `failover` is settled once the primary is known. */
type ReadSite = Omit<SiteEntry, "failover"> & { readonly failover: boolean | undefined };

/**
 * Settles which site is the failover site: the one that says so, or else the other site of a
 * two-site deployment unless it says `failover: false`.
 */
function settleFailover(read: readonly ReadSite[], primaryName: string): SiteEntry[] {
  const primary = read.find((s) => s.name === primaryName)!;
  if (primary.failover === true) {
    throw new ConfigError(
      `sites.${primary.name}.failover`,
      true,
      "the primary site holds the active CA and the database; the failover site is another",
    );
  }
  const chosen = read.filter((s) => s.failover === true);
  if (chosen.length > 1) {
    throw new ConfigError(
      `sites.${chosen[1].name}.failover`,
      true,
      `sites.${chosen[0].name}.failover is true already; one site is the failover site`,
    );
  }
  const others = read.filter((s) => s !== primary);
  const standby =
    chosen[0] ?? (others.length === 1 && others[0].failover === undefined ? others[0] : undefined);
  return read.map((s) => ({ ...s, failover: s === standby }));
}

function parseSites(reader: Reader): ReadSite[] {
  const expected = "expected a map of site name to { region, vpcCidr }, with at least one site";
  const sites = reader.section(
    "sites",
    (catalogue) => {
      if (catalogue.keys().length === 0)
        throw new ConfigError("sites", reader.value("sites"), expected);
      return catalogue.keys().map((name): ReadSite => {
        const key = catalogue.key(name);
        if (!isDnsLabel(name)) {
          throw new ConfigError(
            key,
            name,
            "a site name must be a DNS label: a-z, 0-9 and '-', at most 63 characters",
          );
        }
        return catalogue.section(name, (entry) => ({
          name,
          region: entry.string("region", undefined, (v) =>
            REGION.test(v) ? undefined : "expected an AWS region such as eu-west-1",
          ),
          vpcCidr: entry.string("vpcCidr", undefined, (v) =>
            parseCidr(v) && prefixLength(v) === VPC_PREFIX
              ? undefined
              : "expected an IPv4 /16 in network form, such as 10.40.0.0/16",
          ),
          agentCidrs: entry.list("agentCidrs", (v, itemKey) => {
            if (!parseCidr(v))
              throw new ConfigError(
                itemKey,
                v,
                "expected an IPv4 CIDR in network form, such as 172.20.0.0/16",
              );
            if (prefixLength(v) < 8) {
              throw new ConfigError(
                itemKey,
                v,
                "Puppet servers are never open to the whole Internet; name the agents' networks (/8 or longer)",
              );
            }
            return v;
          }),
          failover: entry.optionalBoolean("failover"),
        }));
      });
    },
    expected,
  );
  for (const [i, a] of sites.entries()) {
    for (const b of sites.slice(i + 1)) {
      if (cidrsOverlap(a.vpcCidr, b.vpcCidr)) {
        throw new ConfigError(
          `sites.${b.name}.vpcCidr`,
          b.vpcCidr,
          `overlaps sites.${a.name}.vpcCidr (${a.vpcCidr}); peered VPCs need disjoint CIDRs`,
        );
      }
    }
  }
  // Agent networks lie outside every VPC (those are always admitted) and do not overlap each other.
  const networks = [
    ...sites.map((s) => ({ key: `sites.${s.name}.vpcCidr`, cidr: s.vpcCidr })),
    ...sites.flatMap((s) =>
      s.agentCidrs.map((cidr, i) => ({ key: `sites.${s.name}.agentCidrs[${i}]`, cidr })),
    ),
  ];
  for (const [i, n] of networks.entries()) {
    const clash = networks.slice(0, i).find((m) => cidrsOverlap(m.cidr, n.cidr));
    if (clash && n.key.includes("agentCidrs")) {
      throw new ConfigError(
        n.key,
        n.cidr,
        `overlaps ${clash.key} (${clash.cidr}); list each agent network once, outside the sites' VPCs`,
      );
    }
  }
  return sites;
}

/**
 * Why `certificates.activeCa` or `database.active` cannot be `value`; undefined when it can. `what`
 * names the role: the primary's CA, or its database, is the only one without a failover site.
 */
function activeSiteProblem(
  value: string,
  failoverSite: SiteEntry | undefined,
  what: "CA" | "database",
): string | undefined {
  if (value === "primary") return undefined;
  if (value !== "failover") return "expected primary or failover";
  return failoverSite
    ? undefined
    : `no site is the failover site (sites.<name>.failover), so the primary's ${what} is the only one: expected primary`;
}

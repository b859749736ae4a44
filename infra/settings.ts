// The typed, validated settings of one site's stack. Pure: `config.ts` reads `pulumi.Config` and
// hands the raw values here, so validation runs before any resource exists and tests call it directly.
import { MAX_AZS, VPC_PREFIX, cidrsOverlap, parseCidr, prefixLength } from "./cidr";
import { isDnsLabel, isDomain } from "./naming";

export { isDnsLabel, isDomain };

export type SiteRole = "primary" | "secondary";

/** A site of the deployment, as every stack sees it in the shared `sites` catalogue. */
export interface SiteEntry {
  readonly name: string;
  /** AWS region the site's stack deploys into. */
  readonly region: string;
  /** The site's VPC, a /16 that overlaps no other site's. */
  readonly vpcCidr: string;
  /**
   * Networks outside the VPCs whose agents belong to this site (data centres, offices). Every site
   * admits them on 8140: they get certificates from the one CA and fail over to the other sites, so
   * they must be routed to every site's VPC (Direct Connect gateway or Transit Gateway). Default none.
   */
  readonly agentCidrs: readonly string[];
}

export interface MasterSettings {
  /** Compile masters in this site. Default 2. */
  readonly count: number;
  /** EC2 instance type. Default `m6i.large` (puppetserver wants 2+ GB for its JRubies). */
  readonly instanceType: string;
  /** SRV weight of each local master (0-65535). Default 10. */
  readonly srvWeight: number;
}

export interface DatabaseSettings {
  /** RDS instance class. Default `db.m6g.large`. */
  readonly instanceClass: string;
  /** PostgreSQL major version, one PuppetDB 7 and 8 support (14-16). Default `15`. */
  readonly engineVersion: string;
  /** Storage in GiB (20-65536). Default 50. */
  readonly allocatedStorageGb: number;
  /** Days of automated backups (7-35). Default 7. */
  readonly backupRetentionDays: number;
}

export interface ControlRepoSettings {
  /** Git URL of the control repository every master deploys (https:// or ssh). Required. */
  readonly url: string;
  /** Branch deployed as the `production` environment. Default `production`. */
  readonly branch: string;
  /** Minutes between code syncs on each master (1-60). Default 5. */
  readonly syncIntervalMinutes: number;
}

export interface Settings {
  readonly project: string;
  readonly stack: string;
  /** Private DNS domain of the deployment. Required. */
  readonly domain: string;
  /** This stack's site. */
  readonly site: SiteEntry;
  /** Every site of the deployment, in catalogue order (this one included). */
  readonly sites: readonly SiteEntry[];
  /** Name of the site that owns the CA, the database and the zone. */
  readonly primarySite: string;
  readonly role: SiteRole;
  /** Stack the secondary reads the primary's outputs from (`org/project/stack`). */
  readonly peerStack?: string;
  /** Availability zones used (2-4). Default 2. */
  readonly azCount: number;
  readonly masters: MasterSettings;
  /** Instance type of the CA host. Default `m6i.large`. */
  readonly caInstanceType: string;
  /** Instance type of the PuppetDB host. Default `m6i.large`. */
  readonly puppetdbInstanceType: string;
  readonly database: DatabaseSettings;
  readonly controlRepo: ControlRepoSettings;
  /** Protect the CA key and its secret, the database and the zone from deletion. Default true. */
  readonly protectStateful: boolean;
  /** AMI for every host; when unset, the latest Debian 12 image from `imageParameter`. */
  readonly amiId?: string;
  /** SSM public parameter naming the image. Default Debian 12 amd64. */
  readonly imageParameter: string;
}

/** Raw configuration values, keyed without the project namespace; objects already parsed. */
export type RawConfig = Readonly<Record<string, unknown>>;

export interface RawContext {
  readonly project: string;
  readonly stack: string;
  /** `aws:region` of the stack. */
  readonly awsRegion?: string;
}

export const DEFAULTS = {
  azCount: 2,
  masters: { count: 2, instanceType: "m6i.large", srvWeight: 10 },
  caInstanceType: "m6i.large",
  puppetdbInstanceType: "m6i.large",
  database: {
    instanceClass: "db.m6g.large",
    engineVersion: "15",
    allocatedStorageGb: 50,
    backupRetentionDays: 7,
  },
  controlRepo: { branch: "production", syncIntervalMinutes: 5 },
  protectStateful: true,
  imageParameter: "/aws/service/debian/release/bookworm/latest/amd64",
} as const;

/** PostgreSQL majors that both PuppetDB 7 (11+) and PuppetDB 8 (14+) support and RDS offers. */
export const SUPPORTED_POSTGRES_MAJORS = ["14", "15", "16"] as const;
/** Upper bound of a pool: beyond this, SRV answers no longer fit a DNS response. */
export const MAX_MASTERS = 250;

/** A configuration value that is not allowed: names the key, the value and what is allowed. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`config ${key}: got ${describe(value)}; ${allowed}`);
    this.name = "ConfigError";
  }
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing (the key is not set)";
  return JSON.stringify(value);
}

const REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;

/** Validates raw configuration and resolves defaults; throws ConfigError on the first bad value. */
export function parseSettings(raw: RawConfig, ctx: RawContext): Settings {
  const reader = new Reader(raw);
  const domain = reader.string("domain", undefined, (v) =>
    isDomain(v)
      ? undefined
      : "expected a DNS domain of lower-case labels, such as puppet.example.internal",
  );
  const sites = parseSites(reader);
  const siteName = reader.string("siteName", ctx.stack, (v) =>
    isDnsLabel(v) ? undefined : "expected a DNS label: a-z, 0-9 and '-', at most 63 characters",
  );
  const site = sites.find((s) => s.name === siteName);
  if (!site) {
    throw new ConfigError(
      "siteName",
      siteName,
      `the site (default: the stack name) must be one of the sites catalogue: ${sites.map((s) => s.name).join(", ")}`,
    );
  }
  if (ctx.awsRegion !== undefined && ctx.awsRegion !== site.region) {
    throw new ConfigError(
      "aws:region",
      ctx.awsRegion,
      `must equal sites.${site.name}.region (${site.region}), the region the catalogue gives this site`,
    );
  }
  const primarySite = reader.string("primarySite", sites[0].name, (v) =>
    sites.some((s) => s.name === v)
      ? undefined
      : `expected one of the sites: ${sites.map((s) => s.name).join(", ")}`,
  );
  const role: SiteRole = siteName === primarySite ? "primary" : "secondary";
  const peerStack = reader.optionalString("peerStack", (v) =>
    /^([\w.-]+\/){0,2}[\w.-]+$/.test(v)
      ? undefined
      : "expected a stack name: <org>/<project>/<stack> or <stack>",
  );
  if (role === "secondary" && peerStack === undefined) {
    throw new ConfigError(
      "peerStack",
      undefined,
      `site ${siteName} is secondary (primarySite is ${primarySite}), so it must name the primary's stack, e.g. organization/${ctx.project}/${primarySite}`,
    );
  }
  const azCount = reader.integer("availabilityZoneCount", DEFAULTS.azCount, 2, MAX_AZS);

  const masters = reader.section("masters", ["count", "instanceType", "srvWeight"]);
  const database = reader.section("database", [
    "instanceClass",
    "engineVersion",
    "allocatedStorageGb",
    "backupRetentionDays",
  ]);
  const controlRepo = reader.section("controlRepo", ["url", "branch", "syncIntervalMinutes"]);
  return {
    project: ctx.project,
    stack: ctx.stack,
    domain,
    site,
    sites,
    primarySite,
    role,
    peerStack: role === "secondary" ? peerStack : undefined,
    azCount,
    masters: {
      count: masters.integer("count", DEFAULTS.masters.count, 1, MAX_MASTERS),
      instanceType: masters.string("instanceType", DEFAULTS.masters.instanceType, instanceType),
      srvWeight: masters.integer("srvWeight", DEFAULTS.masters.srvWeight, 0, 65535),
    },
    caInstanceType: reader.string("caInstanceType", DEFAULTS.caInstanceType, instanceType),
    puppetdbInstanceType: reader.string(
      "puppetdbInstanceType",
      DEFAULTS.puppetdbInstanceType,
      instanceType,
    ),
    database: {
      instanceClass: database.string("instanceClass", DEFAULTS.database.instanceClass, (v) =>
        /^db\.[a-z0-9]+\.[a-z0-9]+$/.test(v)
          ? undefined
          : "expected an RDS instance class such as db.m6g.large",
      ),
      engineVersion: database.string("engineVersion", DEFAULTS.database.engineVersion, (v) =>
        (SUPPORTED_POSTGRES_MAJORS as readonly string[]).includes(v)
          ? undefined
          : `expected a PostgreSQL major version PuppetDB supports: ${SUPPORTED_POSTGRES_MAJORS.join(", ")}`,
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
        7,
        35,
      ),
    },
    controlRepo: {
      url: controlRepo.string("url", undefined, (v) =>
        /^(https:\/\/[^\s/]+\/\S+|ssh:\/\/([^@/\s]+@)?[^:/\s]+(:([1-9]\d{0,3}|[1-5]\d{4}|6[0-4]\d{3}|65[0-4]\d\d|655[0-2]\d|6553[0-5]))?\/\S+|[\w.-]+@[\w.-]+:\S+)$/.test(
          v,
        )
          ? undefined
          : "expected a git URL: https://host/path, ssh://[user@]host[:port]/path or user@host:path",
      ),
      branch: controlRepo.string("branch", DEFAULTS.controlRepo.branch, (v) =>
        /^[A-Za-z0-9_][\w./-]*$/.test(v) && !v.includes("..")
          ? undefined
          : "expected a git branch name",
      ),
      syncIntervalMinutes: controlRepo.integer(
        "syncIntervalMinutes",
        DEFAULTS.controlRepo.syncIntervalMinutes,
        1,
        60,
      ),
    },
    protectStateful: reader.boolean("protectStateful", DEFAULTS.protectStateful),
    amiId: reader.optionalString("amiId", (v) =>
      /^ami-[0-9a-f]{8,17}$/.test(v)
        ? undefined
        : "expected an AMI id such as ami-0123456789abcdef0",
    ),
    imageParameter: reader.string("imageParameter", DEFAULTS.imageParameter, (v) =>
      v.startsWith("/") ? undefined : "expected an SSM parameter path starting with /",
    ),
  };
}

function instanceType(v: string): string | undefined {
  return /^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(v)
    ? undefined
    : "expected an EC2 instance type such as m6i.large";
}

function parseSites(reader: Reader): SiteEntry[] {
  const raw = reader.value("sites");
  if (
    raw === null ||
    typeof raw !== "object" ||
    Array.isArray(raw) ||
    Object.keys(raw).length === 0
  ) {
    throw new ConfigError(
      "sites",
      raw,
      "expected a map of site name to { region, vpcCidr }, with at least one site",
    );
  }
  const sites = Object.entries(raw as Record<string, unknown>).map(([name, value]): SiteEntry => {
    const key = `sites.${name}`;
    if (!isDnsLabel(name)) {
      throw new ConfigError(
        key,
        name,
        "a site name must be a DNS label: a-z, 0-9 and '-', at most 63 characters",
      );
    }
    const entry = new Reader(value, key, ["region", "vpcCidr", "agentCidrs"]);
    return {
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
    };
  });
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

type Check = (value: string) => string | undefined;

/** Reads typed values from one level of raw config, naming every bad key with its full path. */
class Reader {
  private readonly raw: Record<string, unknown>;

  /** `keys`, when given, are the only keys allowed: a misspelt one would silently fall back. */
  constructor(
    raw: unknown,
    private readonly prefix = "",
    keys?: readonly string[],
  ) {
    if (raw !== undefined && (raw === null || typeof raw !== "object" || Array.isArray(raw))) {
      throw new ConfigError(prefix, raw, "expected an object");
    }
    this.raw = (raw ?? {}) as Record<string, unknown>;
    const unknown = keys && Object.keys(this.raw).find((k) => !keys.includes(k));
    if (unknown !== undefined) {
      throw new ConfigError(
        this.key(unknown),
        this.raw[unknown],
        `unknown key; the keys of ${prefix} are: ${keys!.join(", ")}`,
      );
    }
  }

  key(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }

  value(name: string): unknown {
    return this.raw[name];
  }

  section(name: string, keys: readonly string[]): Reader {
    return new Reader(this.raw[name], this.key(name), keys);
  }

  string(name: string, fallback: string | undefined, check: Check): string {
    const value = this.raw[name] ?? fallback;
    if (typeof value !== "string" || value === "") {
      throw new ConfigError(
        this.key(name),
        value,
        fallback === undefined ? "a value is required" : "expected a string",
      );
    }
    const problem = check(value);
    if (problem) throw new ConfigError(this.key(name), value, problem);
    return value;
  }

  optionalString(name: string, check: Check): string | undefined {
    return this.raw[name] === undefined ? undefined : this.string(name, undefined, check);
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.raw[name] ?? fallback;
    const value = typeof raw === "string" && /^-?\d+$/.test(raw) ? Number(raw) : raw;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(this.key(name), raw, `expected a whole number from ${min} to ${max}`);
    }
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.raw[name] ?? fallback;
    if (raw === true || raw === "true") return true;
    if (raw === false || raw === "false") return false;
    throw new ConfigError(this.key(name), raw, "expected true or false");
  }

  list(name: string, item: (value: string, key: string) => string): string[] {
    const raw = this.raw[name] ?? [];
    if (!Array.isArray(raw)) {
      throw new ConfigError(this.key(name), raw, "expected a list");
    }
    return raw.map((v, i) => {
      const key = `${this.key(name)}[${i}]`;
      if (typeof v !== "string") throw new ConfigError(key, v, "expected a string");
      return item(v, key);
    });
  }
}

// The typed settings of one site's stack and their defaults: what the program is given once
// `parse.ts` has validated the raw configuration.

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
  /**
   * Whether this is the failover site, where what is central to the deployment is kept ready for
   * the loss of the primary site (README: losing the primary site): the standby CA, which holds the
   * CA key, copies the active CA's records continuously, serves the CA certificate and the CRL, and
   * signs nothing until it is promoted; and a read replica of the database. At most one site, never
   * the primary. Default: true for the other site of a two-site deployment, false otherwise.
   */
  readonly failover: boolean;
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
  /** PostgreSQL major version, one of SUPPORTED_POSTGRES_MAJORS (postgres.ts). Default `15`. */
  readonly engineVersion: string;
  /** Storage in GiB (20-65536). Default 50. */
  readonly allocatedStorageGb: number;
  /** Days of automated backups (7-35). Default 7. */
  readonly backupRetentionDays: number;
  /**
   * Apply changes RDS holds for the maintenance window (a major upgrade of `engineVersion`, a new
   * `instanceClass`) during `pulumi up` instead; the database restarts then. Default false.
   */
  readonly applyImmediately: boolean;
  /**
   * Which database PuppetDB writes to: the primary site's (`primary`) or, once promoted, the
   * failover site's replica (`failover`). It records a promotion in the configuration (README:
   * losing the primary site): the failover stack's replica names no source any more, which
   * promotes it when it has not been promoted by hand, and turns it Multi-AZ. It changes no host:
   * the failover site's PuppetDB already writes to whichever database takes writes. `failover`
   * needs a failover site. Default `primary`.
   */
  readonly active: ActiveSite;
}

export interface ControlRepoSettings {
  /** Git URL of the control repository every master deploys (https:// or ssh). Required. */
  readonly url: string;
  /** Branch deployed as the `production` environment. Default `production`. */
  readonly branch: string;
  /** Minutes between code syncs on each master (1-60). Default 5. */
  readonly syncIntervalMinutes: number;
  /**
   * SSH URL: name of the Secrets Manager secret holding the deploy key (an OpenSSH private key
   * without passphrase), read by the masters in their own site's region at every sync. Required
   * with an SSH URL.
   */
  readonly sshKeySecret?: string;
  /**
   * SSH URL: the git server's host keys, as known_hosts lines (`ssh-keyscan` output, checked out of
   * band). Masters accept no other key. Required with an SSH URL.
   */
  readonly knownHosts: readonly string[];
  /**
   * HTTPS URL: name of the Secrets Manager secret holding an access token, sent (HTTP Basic, with
   * `tokenUser`) to the repository's server only. Default none: an unauthenticated clone.
   */
  readonly tokenSecret?: string;
  /** User name sent with the token. Default `x-access-token`. */
  readonly tokenUser: string;
}

export interface CertificateSettings {
  /**
   * Minutes between two fetches of the CA's revocation list by every compile master and PuppetDB
   * host, and the agents' `crl_refresh_interval` (1-60): a revoked certificate is refused everywhere
   * within this long. Default 5.
   */
  readonly crlRefreshMinutes: number;
  /**
   * Seconds between two copies of the active CA's records (serial, inventory, signed certificates,
   * CRL) to the standby CA (5-3600): a certificate signed this long before the active CA is lost is
   * known to the standby. Default 60.
   */
  readonly standbySyncSeconds: number;
  /**
   * Which CA signs: the primary site's (`primary`) or, once `ca-promote.rb` has promoted it, the
   * failover site's (`failover`). It records a promotion, or a fail-back, in the configuration
   * (README: losing the primary site): every site's `_x-puppet-ca._tcp` record lists that CA first
   * and the other after it, and agents' `ca_server` names it. It changes no host: a server's first boot
   * asks every CA in turn. `failover` needs a failover site. Default `primary`.
   */
  readonly activeCa: ActiveSite;
}

/** Which site holds a role the failover site can take over: the primary, or the failover site. */
export type ActiveSite = "primary" | "failover";

export interface Settings {
  readonly project: string;
  readonly stack: string;
  /** Private DNS domain of the deployment. Required. */
  readonly domain: string;
  /** This stack's site. */
  readonly site: SiteEntry;
  /** Every site of the deployment, in catalogue order (this one included). */
  readonly sites: readonly SiteEntry[];
  /** The catalogue entry of the site that owns the CA, the database and the zone. */
  readonly primarySite: SiteEntry;
  /** The catalogue entry of the failover site (standby CA, database replica); none when no site is. */
  readonly failoverSite?: SiteEntry;
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
  readonly certificates: CertificateSettings;
  /** Protect the CA key and its secret, the database and the zone from deletion. Default true. */
  readonly protectStateful: boolean;
  /**
   * IAM role ARNs (`*` and `?` allowed, as in a policy's `ArnLike`) of everyone who runs `pulumi` for
   * the primary's stack: CI's role, operators' SSO roles. With the hosts' roles they are the only
   * principals that may read the CA key and the server challenge (Pulumi reads a secret's value back
   * on every refresh and update). Default none: only the role running each update, with a warning,
   * which locks out whoever ran the update before.
   */
  readonly secretAdministrators: readonly string[];
  /**
   * The image every host of this stack boots, pinned: only a change of this setting replaces hosts
   * (never a new image published behind a `latest` parameter). Required.
   */
  readonly image: ImageSetting;
}

/** A Debian 12 image by its name, the same in every region, or one AMI of the stack's region. */
export type ImageSetting =
  | { readonly kind: "debian"; readonly name: string; readonly arch: Arch }
  | { readonly kind: "ami"; readonly id: string };

export type Arch = "amd64" | "arm64";

/** The AWS account Debian publishes its official cloud images from. */
export const DEBIAN_IMAGE_OWNER = "136693071363";

/**
 * Raw configuration values, keyed without the project namespace. Objects may be parsed already or
 * still be the JSON text Pulumi stores them as.
 */
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
    applyImmediately: false,
    active: "primary",
  },
  controlRepo: { branch: "production", syncIntervalMinutes: 5, tokenUser: "x-access-token" },
  certificates: { crlRefreshMinutes: 5, standbySyncSeconds: 60, activeCa: "primary" },
  protectStateful: true,
} as const;

/** Upper bound of a pool: beyond this, SRV answers no longer fit a DNS response. */
export const MAX_MASTERS = 250;

// What a host needs to know at first boot. Everything here is plain data: no Pulumi types, no secret
// values. Secrets are named (Secrets Manager secret names, read at boot with the instance role), never
// carried, so rendered user data can be shown in plans and stored in EC2 without leaking anything.

export type HostRole = "ca" | "compile-master" | "puppetdb";

/** Value of the `pp_auth_role` certificate extension the CA's autosigner expects for each role. */
export const AUTH_ROLES: Readonly<Record<HostRole, string>> = {
  ca: "puppet-ca",
  "compile-master": "puppet-compile-master",
  puppetdb: "puppetdb",
};

/** Where the host reads a secret at boot. */
export interface SecretRef {
  /** Secrets Manager secret name (replicas in other regions share it). */
  readonly name: string;
  /** Region to read it from: the host's own region, where a replica lives. */
  readonly region: string;
}

export interface ControlRepo {
  readonly url: string;
  readonly branch: string;
  readonly syncIntervalMinutes: number;
  /** The secret holding the SSH deploy key (SSH URL) or the access token (HTTPS URL). */
  readonly credentialSecret?: SecretRef;
  /** known_hosts lines of the git server (SSH URL). */
  readonly knownHosts?: readonly string[];
  /** User name sent with the token (HTTPS URL). */
  readonly tokenUser?: string;
}

/** Settings every host shares. */
export interface HostCommon {
  /** The host's certname and DNS name (FQDN). */
  readonly certname: string;
  readonly site: string;
  readonly domain: string;
  /** AWS region of the host. */
  readonly region: string;
  /** Name of the CA host (`ca.<domain>`). */
  readonly caServer: string;
  /** PEM of the CA certificate: public, lets hosts verify the CA instead of trusting on first use. */
  readonly caCertificatePem: string;
  /**
   * Secret holding the server challenge, put into the host's CSR (never into user data). Only
   * Puppet servers' instance roles can read it; agents have a challenge of their own.
   */
  readonly serverChallengeSecret: SecretRef;
  /** JVM heap of the host's Puppet service, in MiB. */
  readonly heapMb: number;
  /**
   * An apt source line (`deb <url> <suite> <component>`) added before packages are installed.
   * Default: none, Debian 12's own `puppetserver`, `puppetdb`, `puppet-agent` and
   * `puppet-terminus-puppetdb` from the image's configured archive.
   */
  readonly packageSource?: string;
  /**
   * EBS volume holding the role's state (the CA's directory, PuppetDB's vardir), mounted at
   * `stateMountPoint(role)` before anything writes there. Set by the host's component for the roles
   * that have state. Default none.
   */
  readonly stateVolumeId?: string;
  /**
   * The site's script store (an S3 bucket in the host's region), which the host fetches its role's
   * scripts from at first boot. Set by the host's component; a host cannot boot without it.
   */
  readonly scriptsBucket?: string;
}

export interface CaHost extends HostCommon {
  readonly role: "ca";
  /** Secret holding the CA private key (PEM, RSA), imported before puppetserver first starts. */
  readonly caKeySecret: SecretRef;
  /** Secret holding the agent challenge, the one agents put into their CSRs. */
  readonly agentChallengeSecret: SecretRef;
  /** Extra names of the CA's own certificate. */
  readonly dnsAltNames: readonly string[];
  /**
   * Whether the host starts as the standby CA: its certificate comes from the active CA
   * (`caServer`), it copies the active CA's records every `syncIntervalSeconds`, and it signs
   * nothing until it is promoted. Default false: the active CA, which imports the CA.
   */
  readonly standby?: boolean;
  /** The deployment's other CAs by certname: each may read this CA's records. Default none. */
  readonly peerCas?: readonly string[];
  /**
   * Seconds between two copies of the active CA's records, on every CA with peers: the standby
   * copies, and a CA fenced by a promoted peer copies from it.
   */
  readonly syncIntervalSeconds?: number;
}

/** A host that serves TLS to Puppet clients and so must keep the CA's revocation list current. */
export interface CrlConsumer {
  /** Minutes between two fetches of the CA's revocation list. */
  readonly crlRefreshMinutes: number;
  /**
   * Every CA of the deployment, the primary's first, then the standby. The first boot asks each in
   * turn for the host's certificate until one signs, the highest epoch first (its CRL number /
   * 2^32: a promotion starts a new epoch), so a host made after a promotion joins with no change to
   * its settings; a standby or a fenced CA refuses and drops the request. The CRL
   * comes from the first that serves one at least as new as the one in use: during the primary's
   * loss the standby's copy, after a promotion the promoted CA's list. Default: `caServer` alone.
   */
  readonly caServers?: readonly string[];
}

export interface CompileMasterHost extends HostCommon, CrlConsumer {
  readonly role: "compile-master";
  /** Every name agents use for this master (its own, its pool's, the generic name). */
  readonly dnsAltNames: readonly string[];
  /** PuppetDB URLs in the order the master tries them: its own site's first. */
  readonly puppetdbUrls: readonly string[];
  readonly controlRepo: ControlRepo;
}

export interface PuppetdbHost extends HostCommon, CrlConsumer {
  readonly role: "puppetdb";
  readonly database: {
    readonly host: string;
    readonly port: number;
    readonly name: string;
    readonly user: string;
    /** Secret holding the database password. */
    readonly passwordSecret: SecretRef;
    /**
     * HTTPS URLs of the PEM bundles of the CAs that sign the databases' certificates (AWS's RDS
     * bundle of each database's region), fetched, checked and joined into one file at first boot:
     * PuppetDB and the scripts' libpq clients connect with `sslmode=verify-full` against it.
     */
    readonly caBundleUrls: readonly string[];
    /**
     * The failover site's read replica of the database, in this host's region: PuppetDB reads from
     * it (`[read-database]`, the primary when it is down), and writes to whichever of the replica and
     * the primary takes writes, so a promoted replica takes them with no change here.
     */
    readonly replica?: { readonly host: string; readonly port: number };
  };
  /** Whether this PuppetDB runs schema migrations: exactly one PuppetDB of the deployment does. */
  readonly migrate: boolean;
  /** Certnames allowed to talk to PuppetDB whatever the SRV records say (the CA). */
  readonly certificateAllowlist: readonly string[];
  /**
   * `_x-puppet._tcp` SRV records of every site. Their priority-0 targets are the sites' compile
   * masters: the host adds them to the allowlist at boot and refreshes them on a timer, so growing a
   * pool, in this site or another, needs no change here.
   */
  readonly allowlistSrvRecords?: readonly string[];
}

export type HostConfig = CaHost | CompileMasterHost | PuppetdbHost;

/** What an agent in a site needs in the `[main]` section of its puppet.conf. */
export interface AgentSite {
  readonly site: string;
  readonly domain: string;
  /** Server names an agent tries in order when SRV lookups fail. */
  readonly serverList: readonly string[];
  readonly caServer: string;
  /** Minutes after which an agent fetches the CA's revocation list again, at its next run. */
  readonly crlRefreshMinutes: number;
}

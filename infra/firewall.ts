// Security-group rules of a site, as plain data: least privilege, derived from the site catalogue so a
// site admits the other sites' hosts before they exist. Pure, so tests sweep every rule.
import { tierCidr } from "./cidr";
import { DNS_PORT, POSTGRES_PORT, PUPPETDB_PORT, PUPPET_PORT } from "./ports";

/**
 * `balancer` is the compile-master pool's load balancer; `resolver` the Route 53 Resolver inbound
 * endpoint that answers the agent networks' DNS queries for the private zone.
 */
export const SECURITY_GROUPS = [
  "puppetserver",
  "puppetdb",
  "database",
  "balancer",
  "resolver",
] as const;
export type SecurityGroupName = (typeof SECURITY_GROUPS)[number];

/** Where traffic comes from (ingress) or goes to (egress). */
export type Peer = { readonly cidr: string } | { readonly group: SecurityGroupName };

export interface Rule {
  readonly group: SecurityGroupName;
  readonly direction: "ingress" | "egress";
  /** Default `tcp`; only DNS is also `udp`. */
  readonly protocol?: "tcp" | "udp";
  readonly port: number;
  readonly peer: Peer;
  readonly description: string;
}

export interface FirewallInput {
  /** The site whose security groups these are. */
  readonly site: string;
  /** Every site, with the agent networks outside the VPCs that belong to it. */
  readonly sites: readonly {
    readonly name: string;
    readonly vpcCidr: string;
    readonly agentCidrs: readonly string[];
  }[];
  /** The site that owns the CA and the database: only it has a database group, which every site's PuppetDB hosts reach. */
  readonly primarySite: string;
  /** The site that runs the standby CA, if one does: every server may reach it as it does the CA. */
  readonly standbyCaSite?: string;
  /** Port masters fetch the control repository from when it is not HTTPS (SSH, usually 22). */
  readonly gitSshPort?: number;
}

const ANYWHERE = "0.0.0.0/0";
const WEB_PORTS: readonly number[] = [80, 443];

export function firewallRules(input: FirewallInput): Rule[] {
  const others = input.sites.filter((s) => s.name !== input.site);
  const primary = input.sites.find((s) => s.name === input.primarySite);
  if (!primary) {
    throw new Error(
      `primarySite ${input.primarySite} is not among the sites: ${input.sites.map((s) => s.name).join(", ")}`,
    );
  }
  const rules: Rule[] = [];
  const add = (
    group: SecurityGroupName,
    direction: Rule["direction"],
    port: number,
    peer: Peer,
    description: string,
    protocol?: "udp",
  ) => rules.push({ group, direction, port, peer, description, ...(protocol && { protocol }) });

  // Puppet servers (CA and compile masters): agents of every site, and the configured agent networks.
  for (const s of input.sites) {
    add(
      "puppetserver",
      "ingress",
      PUPPET_PORT,
      { cidr: s.vpcCidr },
      `Puppet agents and servers in ${s.name}`,
    );
  }
  // Every site's agent networks: they reach the one CA, and fail over to any site.
  for (const s of input.sites) {
    for (const cidr of s.agentCidrs) {
      add(
        "puppetserver",
        "ingress",
        PUPPET_PORT,
        { cidr },
        `Puppet agents of ${s.name} (agentCidrs)`,
      );
    }
  }
  const caTier = tierCidr(primary.vpcCidr, "servers");
  add("puppetserver", "egress", PUPPET_PORT, { cidr: caTier }, `The CA in ${primary.name}`);
  // The standby CA: its revocation list, the active CA's records (from the standby), and the CA
  // it becomes when promoted.
  const standby = input.sites.find((s) => s.name === input.standbyCaSite);
  if (input.standbyCaSite !== undefined && (!standby || standby === primary)) {
    throw new Error(
      `standbyCaSite ${input.standbyCaSite} must be one of the sites other than the primary ${primary.name}`,
    );
  }
  const standbyTier = standby && tierCidr(standby.vpcCidr, "servers");
  add("puppetserver", "egress", PUPPETDB_PORT, { group: "puppetdb" }, `PuppetDB in ${input.site}`);
  for (const s of others) {
    add(
      "puppetserver",
      "egress",
      PUPPETDB_PORT,
      { cidr: tierCidr(s.vpcCidr, "data") },
      `PuppetDB in ${s.name}`,
    );
  }
  // HTTP and HTTPS are open to anywhere already (below): SSH on those ports needs no rule of its own.
  if (input.gitSshPort !== undefined && !WEB_PORTS.includes(input.gitSshPort)) {
    add(
      "puppetserver",
      "egress",
      input.gitSshPort,
      { cidr: ANYWHERE },
      "Control repository over SSH",
    );
  }

  // PuppetDB: only Puppet servers, local by group and remote by their server tier.
  add(
    "puppetdb",
    "ingress",
    PUPPETDB_PORT,
    { group: "puppetserver" },
    `Puppet servers in ${input.site}`,
  );
  for (const s of others) {
    add(
      "puppetdb",
      "ingress",
      PUPPETDB_PORT,
      { cidr: tierCidr(s.vpcCidr, "servers") },
      `Puppet servers in ${s.name}`,
    );
  }
  add(
    "puppetdb",
    "egress",
    PUPPET_PORT,
    { cidr: caTier },
    `The CA in ${primary.name} (certificate)`,
  );
  if (standby && standbyTier) {
    for (const group of ["puppetserver", "puppetdb"] as const) {
      add(group, "egress", PUPPET_PORT, { cidr: standbyTier }, `The standby CA in ${standby.name}`);
    }
  }
  if (input.site === input.primarySite) {
    add("puppetdb", "egress", POSTGRES_PORT, { group: "database" }, "The PuppetDB database");
  } else {
    add(
      "puppetdb",
      "egress",
      POSTGRES_PORT,
      { cidr: tierCidr(primary.vpcCidr, "data") },
      `The PuppetDB database in ${primary.name}`,
    );
  }

  // The database lives in the primary: only PuppetDB hosts, local by group, remote by their data tier.
  if (input.site === input.primarySite) {
    add("database", "ingress", POSTGRES_PORT, { group: "puppetdb" }, `PuppetDB in ${input.site}`);
    for (const s of others) {
      add(
        "database",
        "ingress",
        POSTGRES_PORT,
        { cidr: tierCidr(s.vpcCidr, "data") },
        `PuppetDB in ${s.name}`,
      );
    }
  }

  // The failover site's replica of the database: its own PuppetDB reads it.
  if (standby && input.site === standby.name) {
    add("database", "ingress", POSTGRES_PORT, { group: "puppetdb" }, `PuppetDB in ${input.site}`);
    add(
      "puppetdb",
      "egress",
      POSTGRES_PORT,
      { group: "database" },
      "The database's replica in this site",
    );
  }

  // The pool's load balancer: what reaches the masters reaches it first (it preserves the agent's
  // address, so the masters' own rules still apply), and it forwards and health-checks on 8140.
  for (const s of input.sites) {
    for (const cidr of [s.vpcCidr, ...s.agentCidrs]) {
      add("balancer", "ingress", PUPPET_PORT, { cidr }, `Puppet agents of ${s.name}`);
    }
  }
  add(
    "balancer",
    "egress",
    PUPPET_PORT,
    { group: "puppetserver" },
    `Compile masters in ${input.site}: traffic and health checks`,
  );

  // The Resolver inbound endpoint answers DNS from the agent networks only, over UDP and TCP (large
  // answers); hosts in the VPCs use the VPC's own resolver. Responses need no egress rule.
  for (const s of input.sites) {
    for (const cidr of s.agentCidrs) {
      for (const protocol of [undefined, "udp"] as const) {
        add("resolver", "ingress", DNS_PORT, { cidr }, `DNS from agents of ${s.name}`, protocol);
      }
    }
  }

  // Packages (Debian's mirrors answer on HTTP and HTTPS, apt checks signatures), AWS APIs (SSM,
  // Secrets Manager) and the control repository over HTTPS.
  for (const group of ["puppetserver", "puppetdb"] as const) {
    const [http, https] = WEB_PORTS;
    add(
      group,
      "egress",
      https,
      { cidr: ANYWHERE },
      "HTTPS: packages, AWS APIs, control repository",
    );
    add(group, "egress", http, { cidr: ANYWHERE }, "HTTP: Debian package mirrors");
  }
  return rules;
}

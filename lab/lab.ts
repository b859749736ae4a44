// Brings the two-site lab up from the plans and holds its running parts for the scenarios. Each
// program host runs its own first-boot script from its own rendered user data; the lab only adds
// the adapter (secrets from files, no package installs, servers started by PID, the lab's CA and
// control repository) and starts the servers.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { HostRole, LIB_DIR } from "../infra/hostconfig";
import { CONF_DIR, STATE_MOUNT_POINTS } from "../infra/hostconfig/paths";
import { SPOOL_DRAIN_SECONDS } from "../infra/hostconfig/puppetdb-spool";
import { PUPPETDB_PORT, PUPPET_PORT } from "../infra/ports";
import { AgentRun, prepareAgent, runAgent } from "./agents";
import { prepareHost, withCaCertificate } from "./first-boot";
import { ADAPTER_ENV, ExecHost, RunResult, startInHost } from "./host";
import { Material, SecretNames, makeMaterial } from "./material";
import { Network, createNetwork, startDns } from "./net";
import { startPostgres, startStandby } from "./postgres";
import { STATE_DIR, Started } from "./processes";
import { puppetTls, startPuppetdb, startPuppetserver, waitForStatus } from "./services";
import { LabSite, LabTopology, PlannedHost, Zone, coveringCidr } from "./topology";
import {
  DatabaseTls,
  labBundleUrl,
  makeDatabaseTls,
  plannedSetting,
  startTruststore,
} from "./truststore";

export interface LabOptions {
  readonly wanDelayMs: number;
  /** Seconds between control-repository syncs on each master (EC2: the configured minutes). */
  readonly syncIntervalSeconds: number;
  /**
   * Seconds between CRL fetches on masters and PuppetDB hosts, and the agents'
   * `crl_refresh_interval` (EC2: `certificates.crlRefreshMinutes`).
   */
  readonly crlRefreshSeconds: number;
  /** Seconds between two copies of the active CA's records to the standby (EC2: its setting). */
  readonly caSyncSeconds: number;
  readonly heapMb: number;
  /** Seconds between two attempts of a failed first boot (EC2: 30 s doubling up to 300 s). */
  readonly bootRetrySeconds: number;
}

export interface Node {
  readonly topo: PlannedHost;
  readonly host: ExecHost;
  process?: Started;
  /** What the host's systemd timers run on EC2 (code sync, CRL refresh), as loops. */
  loops: Started[];
}

export class Lab {
  readonly nodes = new Map<string, Node>();
  material!: Material;
  databaseTls!: DatabaseTls;
  network?: Network;
  truststore?: Started;

  constructor(
    public topo: LabTopology,
    readonly options: LabOptions,
    readonly branch: string,
    readonly secretNames: SecretNames,
  ) {
    for (const t of topo.hosts) {
      const mountPoint = STATE_MOUNT_POINTS[(t.role === "standby-ca" ? "ca" : t.role) as HostRole];
      this.nodes.set(t.certname, {
        topo: t,
        host: {
          name: t.ns,
          certname: t.certname,
          root: join(STATE_DIR, "hosts", t.ns),
          netns: t.ns,
          // The EBS volume the program attaches: kept when the host's root is wiped.
          volume:
            mountPoint === undefined
              ? undefined
              : { dir: join(STATE_DIR, "volumes", t.ns), mountPoint },
        },
        loops: [],
      });
    }
  }

  node(certname: string): Node {
    const n = this.nodes.get(certname);
    if (!n) throw new Error(`no lab host ${certname}`);
    return n;
  }

  byRole(role: PlannedHost["role"], site?: string): Node[] {
    return [...this.nodes.values()].filter(
      (n) => n.topo.role === role && (!site || n.topo.site === site),
    );
  }

  /** The agents that run in every scenario (the spares join later, one scenario each). */
  agents(site?: string): Node[] {
    return this.byRole("agent", site).filter((a) => !a.topo.certname.startsWith("spare-"));
  }

  /** The agent whose catalog collects every node's exported resource: the primary's first. */
  collector(): Node {
    return this.agents(this.topo.primarySite)[0];
  }

  site(name: string): LabSite {
    return this.topo.sites.find((s) => s.name === name)!;
  }

  statusUrl(node: Node): string {
    const port = node.topo.role === "puppetdb" ? PUPPETDB_PORT : PUPPET_PORT;
    return `https://${node.topo.certname}:${port}/status/v1/simple`;
  }

  createNetwork(): void {
    this.network = createNetwork(this.topo, { wanDelayMs: this.options.wanDelayMs });
  }

  /**
   * Every site's DNS server answers its planned zone changed by `change` (the planned zone itself
   * with no argument): what a `pulumi up` that changes the records does to Route 53.
   */
  async serveZones(change: (zone: Zone) => Zone = (zone) => zone): Promise<void> {
    const processes = this.network!.processes;
    for (const site of this.topo.sites) {
      const i = processes.findIndex((p) => p.name === `dns ${site.name}`);
      await processes[i].stop(5_000);
      processes[i] = startDns(site, change(this.topo.zones.get(site.name)!));
    }
  }

  /**
   * What `pulumi up` of new plans does to a running deployment whose hosts they leave alone: each
   * site's DNS serves the new records, and agents prepared from now on get the new agent settings.
   * Refused when the plans change a host (its user data, its address), which `pulumi up` would
   * replace.
   */
  async adoptPlans(topo: LabTopology): Promise<void> {
    const before = new Map(this.topo.hosts.map((h) => [h.certname, h]));
    const changed = topo.hosts.filter((h) => {
      const old = before.get(h.certname);
      return old?.userData !== h.userData || old?.address !== h.address;
    });
    if (changed.length > 0 || topo.hosts.length !== before.size) {
      throw new Error(
        `the new plans change hosts, which the lab does not replace: ${changed.map((h) => h.certname).join(", ") || "(the host count)"}`,
      );
    }
    this.topo = topo;
    await this.serveZones();
  }

  makeMaterial(): void {
    const ca = this.byRole("ca")[0];
    this.material = makeMaterial(
      join(STATE_DIR, "material"),
      ca.topo.certname,
      this.secretNames,
      this.branch,
      this.collector().topo.certname,
      this.topo.scripts,
    );
    // The bundles at the paths the PuppetDBs ask for (their databases' Regions): a PuppetDB that
    // asks for another Region's gets a 404 and fails its boot.
    const paths = this.byRole("puppetdb").flatMap((n) =>
      this.plannedBundleUrls(n).map((url) => new URL(url).pathname),
    );
    this.databaseTls = makeDatabaseTls(
      join(STATE_DIR, "material", "database-tls"),
      this.byRole("database")[0].topo.certname,
      [...new Set(paths)],
    );
  }

  private plannedBundleUrls(node: Node): string[] {
    const urls = plannedSetting(node.topo.userData!, "DB_CA_BUNDLE_URLS");
    if (!urls) throw new Error(`${node.topo.certname}: host.env has no DB_CA_BUNDLE_URLS`);
    return urls.split(" ");
  }

  /** The stand-in for AWS's truststore, beside the database (it keeps serving while that is down). */
  startTruststore(): void {
    const db = this.byRole("database")[0];
    this.truststore = startTruststore(db.host, db.topo.address, this.databaseTls);
  }

  async stopDatabase(): Promise<void> {
    const db = this.byRole("database")[0];
    await db.process?.stop(20_000);
    db.process = undefined;
  }

  async startDatabase(): Promise<void> {
    const db = this.byRole("database")[0];
    db.process = await startPostgres(db.host, {
      listen: db.topo.address,
      password: this.material.databasePassword,
      allowCidr: coveringCidr(this.topo.sites.map((s) => s.cidr)),
      tls: this.databaseTls,
      // The lab's one database secret: the replica streams with it too.
      ...(this.replica() && { replicationPassword: this.material.databasePassword }),
    });
  }

  /** The failover site's read replica of the database; none without a failover site. */
  replica(): Node | undefined {
    return this.byRole("database-replica")[0];
  }

  /** The replica, streaming from the database (a base backup of it the first time). */
  async startReplica(): Promise<void> {
    const replica = this.replica();
    if (!replica) return;
    replica.process = await startStandby(replica.host, {
      listen: replica.topo.address,
      primary: { name: this.byRole("database")[0].topo.certname, port: 5432 },
      replicationPassword: this.material.databasePassword,
      tls: this.databaseTls,
    });
  }

  /** The user data a program host boots in the lab: the lab CA's certificate in place of the plan's. */
  userData(node: Node): string {
    return withCaCertificate(node.topo.userData!, this.material.caCertificatePem);
  }

  /**
   * What the lab sets for a host's first boot beside the adapter: its control repository, and
   * retries of a failed first boot at the lab's pace (EC2: BOOT_RETRY_* of host.env).
   */
  bootEnv(): Record<string, string> {
    return {
      CONTROL_REPO_URL: this.material.controlRepoUrl,
      BOOT_RETRY_FIRST_SECONDS: String(this.options.bootRetrySeconds),
      BOOT_RETRY_MAX_SECONDS: String(this.options.bootRetrySeconds),
    };
  }

  /**
   * Runs a program host's first boot from its own user data, with the lab adapter: `boot.sh start`,
   * which with no systemd runs the boot loop in the foreground until the role's script succeeds.
   */
  async prepare(node: Node, env: Record<string, string> = {}): Promise<RunResult> {
    // A PuppetDB fetches its database's CA bundle from the lab's truststore, at the planned path,
    // trusting the truststore's CA where EC2 trusts the system's.
    const truststore: Record<string, string> =
      node.topo.role === "puppetdb"
        ? {
            DB_CA_BUNDLE_URLS: this.plannedBundleUrls(node)
              .map((url) => labBundleUrl(url, this.byRole("database")[0].topo.certname))
              .join(" "),
            CURL_CA_BUNDLE: this.databaseTls.web.ca,
          }
        : {};
    return prepareHost(node.host, {
      userData: this.userData(node),
      secretsDir: this.material.secretsDir,
      scriptsDir: this.material.scriptsDir,
      env: { ...this.bootEnv(), ...truststore, ...env },
      timeoutMs: 15 * 60_000,
    });
  }

  startServer(node: Node): Started {
    const opts = {
      heapMb:
        node.topo.role === "puppetdb" ? Math.min(this.options.heapMb, 384) : this.options.heapMb,
    };
    const started =
      node.topo.role === "puppetdb"
        ? startPuppetdb(node.host, opts)
        : startPuppetserver(node.host, opts);
    node.process = started;
    return started;
  }

  async stopServer(node: Node): Promise<void> {
    await node.process?.stop(20_000);
    node.process = undefined;
  }

  /** Seconds until the node's status endpoint answers, asked from the node itself. */
  waitReady(node: Node, timeoutMs = 10 * 60_000): Promise<number> {
    // PuppetDB asks every client for a certificate, even for its status: the host's own.
    // The CA trusts the certificate its user data carries; the others, what they fetched and pinned.
    const tls =
      node.topo.role === "puppetdb"
        ? puppetTls(node.topo.certname)
        : node.topo.role === "ca"
          ? { cacert: `${CONF_DIR}/ca.pem` }
          : { cacert: puppetTls(node.topo.certname).cacert };
    return waitForStatus(node.host, this.statusUrl(node), timeoutMs, {
      ...tls,
      stop: node.process,
    });
  }

  /**
   * Runs what a host's systemd timers run on EC2, at the lab's intervals: a master's code sync and
   * CRL refresh, a PuppetDB host's CRL refresh.
   */
  startTimers(node: Node): void {
    const every = (
      name: string,
      seconds: number,
      command = `${LIB_DIR}/${name}.sh`,
      env: Record<string, string> = {},
    ) =>
      startInHost(
        node.host,
        name,
        // Every `seconds` from the start of the last run, as systemd's OnUnitActiveSec counts.
        [
          "bash",
          "-c",
          `while sleep $(( ${seconds} - SECONDS % ${seconds} )); do ${command} || true; done`,
        ],
        { env: { ...ADAPTER_ENV, CONTROL_REPO_URL: this.material.controlRepoUrl, ...env } },
      );
    if (node.topo.role === "compile-master") {
      node.loops.push(every("code-sync", this.options.syncIntervalSeconds));
      // The program's period: the drain costs nothing while the spool is empty.
      node.loops.push(every("pdb-spool", SPOOL_DRAIN_SECONDS, `${LIB_DIR}/pdb-spool.rb drain`));
    }
    if (node.topo.role === "compile-master" || node.topo.role === "puppetdb") {
      node.loops.push(every("crl-refresh", this.options.crlRefreshSeconds));
    }
    // Every CA with peers: the standby copies, a CA that a promoted peer fenced copies from it.
    if (node.topo.role === "standby-ca" || node.topo.role === "ca") {
      node.loops.push(
        every("ca-sync", this.options.caSyncSeconds, `${LIB_DIR}/ca-sync.rb`, {
          CA_SYNC_SECONDS: String(this.options.caSyncSeconds),
        }),
      );
    }
    if (node.topo.role === "puppetdb") {
      // Both reload PuppetDB as Debian's unit does (SIGHUP), by the PID file the lab writes.
      const reload = {
        PUPPET_MULTISITE_RESTART_CMD: "pkill -HUP -f -F /run/puppetdb/puppetdb.pid",
      };
      // EC2: every minute.
      node.loops.push(every("discard-replay", 10, undefined, reload));
      // EC2: every 5 minutes and up to 2 more.
      node.loops.push(every("allowlist-refresh", 20, undefined, reload));
    }
  }

  async stopTimers(node: Node): Promise<void> {
    await Promise.all(node.loops.splice(0).map((l) => l.stop(5_000)));
  }

  /** Stops everything of a host and removes its directory: nothing of its state is kept. */
  async wipe(node: Node): Promise<void> {
    await this.stopTimers(node);
    await this.stopServer(node);
    rmSync(node.host.root, { recursive: true, force: true });
  }

  async prepareAgent(
    node: Node,
    challenge: string | undefined = this.material.agentChallenge,
  ): Promise<void> {
    await prepareAgent(node.host, {
      puppetConf: this.site(node.topo.site).agentPuppetConf,
      challenge,
      // The stack's minutes, in the lab's seconds.
      extraMain: { crl_refresh_interval: `${this.options.crlRefreshSeconds}s` },
    });
  }

  /** `puppet agent -t` on an agent (or a daemon's single run), with extra command-line settings. */
  runAgent(
    node: Node,
    args: readonly string[] = [],
    opts: { asDaemon?: boolean } = {},
  ): Promise<AgentRun> {
    return runAgent(node.host, { args, timeoutMs: 5 * 60_000, ...opts });
  }
}

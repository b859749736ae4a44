// The server side of the lab: each host is a directory (its own view of the Puppet packages' fixed
// paths, through lab/host-exec.sh) and optionally a network namespace. A host is prepared by writing
// its rendered user data into its root and running the role's own first-boot script, exactly the
// file EC2 runs, with the lab adapter (ADAPTER_ENV); the lab then starts the servers itself, by PID.
import { spawn, spawnSync } from "child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { dirname, join, resolve } from "path";
import { parse, stringify } from "yaml";
import { decodeUserData } from "../infra/hostconfig";
import { Started, killGroup, start } from "./processes";

/** The lab's adapter: what differs from an EC2 instance, as the host scripts' own variables. */
export const ADAPTER_ENV = {
  /** No apt-get: the lab machine has the packages (scripts/install-lab-deps.sh). */
  PUPPET_MULTISITE_SKIP_INSTALL: "1",
  /** No systemctl: the lab starts puppetserver/puppetdb by PID (startPuppetserver, startPuppetdb). */
  PUPPET_MULTISITE_SKIP_START: "1",
} as const;

export const HOST_EXEC = resolve(__dirname, "host-exec.sh");

/** Directories host-exec.sh binds over the machine's: user data may only write below them. */
const HOST_DIRS = [
  "/etc/puppet",
  "/etc/puppetdb",
  "/etc/default",
  "/etc/puppet-multisite",
  "/usr/local/lib/puppet-multisite",
  "/var/lib/puppet",
  "/var/cache/puppet",
  "/var/lib/puppetserver",
  "/var/lib/puppetdb",
  "/var/lib/puppet-multisite",
  "/var/log/puppet-multisite",
];

export interface LabHost {
  /** Short name, used for log files. */
  readonly name: string;
  readonly certname: string;
  /** The host's directory (absolute or relative to the working directory). */
  readonly root: string;
  /** Network namespace the host's commands run in; none: the caller's namespace. */
  readonly netns?: string;
}

export interface RunResult {
  readonly ok: boolean;
  readonly code: number | null;
  readonly seconds: number;
  readonly output: string;
}

/** Where the host sees `path`: `<root>/fs<path>` on the machine. */
export function hostPath(host: LabHost, path: string): string {
  return join(resolve(host.root), "fs", path);
}

function logDir(host: LabHost): string {
  const dir = join(resolve(host.root), "log");
  mkdirSync(dir, { recursive: true });
  return dir;
}

function hostExecArgs(host: LabHost, user: string | undefined, argv: readonly string[]): string[] {
  return [
    ...(host.netns ? ["--netns", host.netns] : []),
    ...(user ? ["--user", user] : []),
    resolve(host.root),
    "--",
    ...argv,
  ];
}

/** Runs a command inside the host and waits for it; output is also appended to `<root>/log/<logName>.log`. */
export async function runInHost(
  host: LabHost,
  argv: readonly string[],
  opts: {
    env?: Record<string, string>;
    user?: string;
    logName?: string;
    timeoutMs?: number;
    input?: string;
  } = {},
): Promise<RunResult> {
  const started = Date.now();
  const child = spawn(HOST_EXEC, hostExecArgs(host, opts.user, argv), {
    env: { ...process.env, ...opts.env },
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
  const chunks: Buffer[] = [];
  child.stdout.on("data", (d: Buffer) => chunks.push(d));
  child.stderr.on("data", (d: Buffer) => chunks.push(d));
  child.stdin.end(opts.input ?? "");
  const timer =
    opts.timeoutMs === undefined
      ? undefined
      : setTimeout(() => killGroup(child.pid, "SIGKILL"), opts.timeoutMs);
  const code = await new Promise<number | null>((done) => child.on("close", (c) => done(c)));
  if (timer) clearTimeout(timer);
  const output = Buffer.concat(chunks).toString("utf8");
  if (opts.logName) {
    writeFileSync(join(logDir(host), `${opts.logName}.log`), output, { flag: "a" });
  }
  return { ok: code === 0, code, seconds: (Date.now() - started) / 1000, output };
}

/** Starts a long-running command inside the host, in its own process group, output to `<root>/log/<name>.log`. */
export function startInHost(
  host: LabHost,
  name: string,
  argv: readonly string[],
  opts: {
    env?: Record<string, string>;
    user?: string;
    cwd?: string;
    stopSignal?: NodeJS.Signals;
  } = {},
): Started {
  return start(
    `${name} ${host.name}`,
    HOST_EXEC,
    hostExecArgs(host, opts.user, argv),
    join(logDir(host), `${name}.log`),
    { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stopSignal: opts.stopSignal },
  );
}

// ---------------------------------------------------------------------------------------------
// User data and host preparation

/** Writes user data's files into the host's root, where the host sees them at their EC2 paths. */
export function writeUserDataFiles(host: LabHost, userData: string): readonly string[][] {
  const { files, runcmd } = decodeUserData(userData);
  for (const f of files) {
    if (!HOST_DIRS.some((d) => f.path.startsWith(`${d}/`))) {
      throw new Error(
        `${host.name}: user data writes ${f.path}, outside the directories a lab host owns (${HOST_DIRS.join(", ")}): add its directory to lab/host-exec.sh`,
      );
    }
    const dest = hostPath(host, f.path);
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, f.content);
    chmodSync(dest, parseInt(f.permissions, 8));
  }
  return runcmd;
}

/** Creates the host's root from the packages' pristine files (once) without running anything else. */
export async function seedHost(host: LabHost): Promise<void> {
  const r = await runInHost(host, ["true"]);
  if (!r.ok) throw new Error(`${host.name}: host-exec failed: ${r.output}`);
}

/**
 * Decodes the host's user data into its root and runs its entry command (the role's first-boot
 * script) inside the host, with the adapter's variables, the secrets directory and `env`. Output
 * goes to `<root>/log/prepare.log`.
 */
export async function prepareHost(
  host: LabHost,
  opts: { userData: string; secretsDir: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<RunResult> {
  await seedHost(host);
  const runcmd = writeUserDataFiles(host, opts.userData);
  const env = {
    ...ADAPTER_ENV,
    PUPPET_MULTISITE_SECRETS_DIR: resolve(opts.secretsDir),
    ...opts.env,
  };
  const started = Date.now();
  let output = "";
  for (const cmd of runcmd) {
    const r = await runInHost(host, cmd, { env, logName: "prepare", timeoutMs: opts.timeoutMs });
    output += r.output;
    if (!r.ok) return { ...r, output, seconds: (Date.now() - started) / 1000 };
  }
  return { ok: true, code: 0, output, seconds: (Date.now() - started) / 1000 };
}

// ---------------------------------------------------------------------------------------------
// Servers

export interface JvmOptions {
  /** -Xmx in MiB. Default 512 (puppetserver), 256 (PuppetDB). */
  readonly heapMb?: number;
  /** -Xms in MiB. Default half of heapMb. */
  readonly initialHeapMb?: number;
}

function jvmFlags(opts: JvmOptions, defaultHeap: number): string[] {
  const heap = opts.heapMb ?? defaultHeap;
  return [
    `-Xms${opts.initialHeapMb ?? Math.floor(heap / 2)}m`,
    `-Xmx${heap}m`,
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.security.egd=/dev/urandom",
  ];
}

/** The host's PID file of a server the lab started (like the init scripts' PIDFILE). */
function writePidFile(host: LabHost, path: string, pid: number): void {
  const dest = hostPath(host, path);
  mkdirSync(dirname(dest), { recursive: true });
  writeFileSync(dest, `${pid}\n`);
}

/**
 * puppetserver of a CA or compile master, as the `puppet` user, with the host's own conf.d and
 * services.d (the files its first-boot script installed). Log: `<root>/log/puppetserver.log`.
 */
export function startPuppetserver(host: LabHost, opts: JvmOptions = {}): Started {
  const server = startInHost(
    host,
    "puppetserver",
    [
      "java",
      ...jvmFlags(opts, 512),
      "-Djruby.lib=/usr/share/jruby/lib",
      "-Djruby.logger.class=com.puppetlabs.jruby_utils.jruby.Slf4jLogger",
      "-Dlogappender=STDOUT",
      "-jar",
      "/usr/share/puppetserver/puppetserver.jar",
      "--config",
      "/etc/puppet/puppetserver/conf.d",
      "--bootstrap-config",
      "/etc/puppet/puppetserver/services.d",
    ],
    { user: "puppet", cwd: "/usr/share/puppetserver" },
  );
  writePidFile(host, "/run/puppetserver/puppetserver.pid", server.pid);
  return server;
}

/** PuppetDB as the `puppetdb` user, as Debian's init script runs it. Log: `<root>/log/puppetdb.log`. */
export function startPuppetdb(host: LabHost, opts: JvmOptions = {}): Started {
  const server = startInHost(
    host,
    "puppetdb",
    [
      "java",
      ...jvmFlags(opts, 256),
      "-cp",
      "/usr/share/puppetdb/puppetdb.jar",
      "-XX:OnOutOfMemoryError=kill -9 %p",
      "clojure.main",
      "-m",
      "puppetlabs.puppetdb.core",
      "services",
      "--config",
      "/etc/puppetdb/conf.d",
      "--bootstrap-config",
      "/etc/puppetdb/bootstrap.cfg",
      "--restart-file",
      "/run/puppetdb/restart",
    ],
    { user: "puppetdb", cwd: "/" },
  );
  writePidFile(host, "/run/puppetdb/puppetdb.pid", server.pid);
  return server;
}

const PG_BIN = "/usr/lib/postgresql/15/bin";

export interface PostgresOptions {
  /** Address to listen on (the database host's lab address). */
  readonly listen: string;
  readonly port?: number;
  readonly database?: string;
  readonly user?: string;
  readonly password: string;
  /** Networks allowed to connect (TLS + password). Default: everyone (the lab is closed). */
  readonly allowCidr?: string;
}

/**
 * PostgreSQL 15 in `<root>/pgdata` (initdb on first use), TLS on with a self-signed certificate (so
 * the hosts' `sslmode=require` works as against RDS), the database and its owner created with the
 * password. Runs as `postgres`; socket in `<root>/pgsock`. Log: `<root>/log/postgres.log`.
 */
export async function startPostgres(host: LabHost, opts: PostgresOptions): Promise<Started> {
  const root = resolve(host.root);
  const data = join(root, "pgdata");
  const sock = join(root, "pgsock");
  const port = opts.port ?? 5432;
  const database = opts.database ?? "puppetdb";
  const user = opts.user ?? "puppetdb";
  mkdirSync(sock, { recursive: true });
  spawnSync("chown", ["postgres:postgres", sock]);
  if (!existsSync(join(data, "PG_VERSION"))) {
    mkdirSync(data, { recursive: true });
    spawnSync("chown", ["postgres:postgres", data]);
    const init = await runInHost(
      host,
      [
        `${PG_BIN}/initdb`,
        "-D",
        data,
        "-U",
        "postgres",
        "--auth-local=peer",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
      ],
      { user: "postgres", logName: "initdb" },
    );
    if (!init.ok) throw new Error(`${host.name}: initdb failed: ${init.output}`);
    const cert = spawnSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "30",
        // A CN holds at most 64 characters (RDS endpoint names are longer): the name goes in the SAN.
        "-subj",
        "/CN=postgres",
        "-addext",
        `subjectAltName=DNS:${host.certname}`,
        "-keyout",
        join(data, "server.key"),
        "-out",
        join(data, "server.crt"),
      ],
      { encoding: "utf8" },
    );
    if (cert.status !== 0) throw new Error(`${host.name}: openssl failed: ${cert.stderr}`);
    spawnSync("chown", ["postgres:postgres", join(data, "server.key"), join(data, "server.crt")]);
    chmodSync(join(data, "server.key"), 0o600);
    writeFileSync(
      join(data, "postgresql.auto.conf"),
      [
        `listen_addresses = '${opts.listen}'`,
        `port = ${port}`,
        `unix_socket_directories = '${sock}'`,
        "ssl = on",
        "shared_buffers = 32MB",
        "max_connections = 200",
        "fsync = off",
        "synchronous_commit = off",
        "full_page_writes = off",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(data, "pg_hba.conf"),
      `local all all peer\nhostssl all all ${opts.allowCidr ?? "0.0.0.0/0"} scram-sha-256\n`,
    );
  }
  // SIGINT: PostgreSQL's fast shutdown (SIGTERM would wait for every client to disconnect).
  const server = startInHost(host, "postgres", [`${PG_BIN}/postgres`, "-D", data], {
    user: "postgres",
    cwd: "/",
    stopSignal: "SIGINT",
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await runInHost(
      host,
      [`${PG_BIN}/pg_isready`, "-q", "-h", sock, "-p", String(port)],
      {
        user: "postgres",
      },
    );
    if (ready.ok) break;
    if (!server.alive() || Date.now() > deadline) {
      await server.stop();
      throw new Error(`${host.name}: PostgreSQL did not start: see ${server.log}`);
    }
    await sleep(300);
  }
  // The password reaches psql through the environment (\getenv), never a command line.
  const sql = [
    "\\set ON_ERROR_STOP on",
    "\\getenv pw LAB_DB_PASSWORD",
    `SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${user}') AS missing \\gset`,
    "\\if :missing",
    `CREATE ROLE "${user}" LOGIN;`,
    "\\endif",
    `ALTER ROLE "${user}" PASSWORD :'pw';`,
    `SELECT NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '${database}') AS nodb \\gset`,
    "\\if :nodb",
    `CREATE DATABASE "${database}" OWNER "${user}";`,
    "\\endif",
    "",
  ].join("\n");
  const setup = await runInHost(
    host,
    [`${PG_BIN}/psql`, "-h", sock, "-p", String(port), "-U", "postgres", "-d", "postgres", "-qAt"],
    {
      user: "postgres",
      input: sql,
      env: { LAB_DB_PASSWORD: opts.password },
      logName: "postgres-setup",
    },
  );
  if (!setup.ok) {
    await server.stop();
    throw new Error(`${host.name}: creating ${user}/${database} failed: ${setup.output}`);
  }
  return server;
}

/** The host's TLS identity (paths as the host sees them), for curl. */
export function puppetTls(certname: string): { cacert: string; cert: string; key: string } {
  const ssl = "/var/lib/puppet/ssl";
  return {
    cacert: `${ssl}/certs/ca.pem`,
    cert: `${ssl}/certs/${certname}.pem`,
    key: `${ssl}/private_keys/${certname}.pem`,
  };
}

/**
 * Polls `url` from inside `from` (its network and names) until it answers 200; resolves with the
 * seconds waited. `cacert` is a path inside `from` (default: the staged CA certificate).
 */
export async function waitForStatus(
  from: LabHost,
  url: string,
  timeoutMs: number,
  opts: { cacert?: string; cert?: string; key?: string; stop?: Started } = {},
): Promise<number> {
  const started = Date.now();
  const cacert = opts.cacert ?? "/etc/puppet-multisite/ca.pem";
  // PuppetDB's HTTPS port wants a client certificate even for its status (puppetTls of `from`).
  const client = opts.cert && opts.key ? ["--cert", opts.cert, "--key", opts.key] : [];
  for (;;) {
    const r = await runInHost(from, [
      "curl",
      "-fsS",
      "--max-time",
      "5",
      "--cacert",
      cacert,
      ...client,
      "-o",
      "/dev/null",
      url,
    ]);
    if (r.ok) return (Date.now() - started) / 1000;
    if (opts.stop && !opts.stop.alive()) {
      throw new Error(`${url}: the server exited before answering (see ${opts.stop.log})`);
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(`${url} did not answer within ${timeoutMs / 1000}s: ${r.output.trim()}`);
    }
    await sleep(1000);
  }
}

/** Resident memory of a process and its descendants, in MiB (from /proc). */
export function residentMb(pid: number): number {
  const r = spawnSync("ps", ["-e", "-o", "pid=,ppid=,rss="], { encoding: "utf8" });
  const rows = r.stdout
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/).map(Number));
  const tree = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [p, pp] of rows) {
      if (tree.has(pp) && !tree.has(p)) {
        tree.add(p);
        grew = true;
      }
    }
  }
  return rows.filter(([p]) => tree.has(p)).reduce((sum, [, , rss]) => sum + rss, 0) / 1024;
}

// ---------------------------------------------------------------------------------------------
// Agents

export interface AgentOptions {
  /** `[main]` settings of the agent's site: renderAgentConfig's output. */
  readonly puppetConf: string;
  /** The autosign challenge the agent puts in its CSR; none: a CSR without one (refused). */
  readonly challenge?: string;
  /** Extra `[main]` settings appended (lab-only, e.g. `server_list` without SRV). */
  readonly extraMain?: Record<string, string>;
}

/** puppet.conf (certname + the site's agent settings) and csr_attributes.yaml of an agent. */
export async function prepareAgent(host: LabHost, opts: AgentOptions): Promise<void> {
  await seedHost(host);
  const extra = Object.entries({ certname: host.certname, ...opts.extraMain })
    .map(([k, v]) => `${k} = ${v}`)
    .join("\n");
  // Our settings go into [main] after the site's: the last value of a setting wins in Puppet.
  const conf = `${opts.puppetConf.trimEnd()}\n${extra}\n`;
  writeFileSync(hostPath(host, "/etc/puppet/puppet.conf"), conf);
  const attrs = hostPath(host, "/etc/puppet/csr_attributes.yaml");
  if (opts.challenge === undefined) {
    if (existsSync(attrs)) writeFileSync(attrs, "{}\n");
  } else {
    writeFileSync(
      attrs,
      stringify({ custom_attributes: { "1.2.840.113549.1.9.7": opts.challenge } }),
      {
        mode: 0o600,
      },
    );
  }
}

export interface AgentRun extends RunResult {
  /**
   * `host:port` of the server the run used for its catalog (the report's `server_used`): the SRV
   * target (a master's own name) with SRV records, the `server_list` entry otherwise. PuppetDB's
   * report `producer` names the master's certname behind a pool name.
   */
  readonly master?: string;
  /** The catalog's config_version (the deployed control repository commit). */
  readonly configVersion?: string;
  /** Resources changed and failed, from last_run_summary.yaml. */
  readonly changed?: number;
  readonly failed?: number;
}

/** `puppet agent -t` inside the host. ok: exit 0 or 2 (--detailed-exitcodes: changes applied). */
export async function runAgent(
  host: LabHost,
  opts: { args?: readonly string[]; timeoutMs?: number } = {},
): Promise<AgentRun> {
  const report = hostPath(host, "/var/cache/puppet/state/last_run_report.yaml");
  const before = existsSync(report) ? readFileSync(report, "utf8") : "";
  const r = await runInHost(
    host,
    ["puppet", "agent", "--test", "--detailed-exitcodes", "--color=false", ...(opts.args ?? [])],
    { logName: "agent", timeoutMs: opts.timeoutMs ?? 300_000 },
  );
  const ok = r.code === 0 || r.code === 2;
  const text = existsSync(report) ? readFileSync(report, "utf8") : "";
  const fresh = text !== before ? text : "";
  const field = (name: string) => new RegExp(`^\\s*${name}: "?([^"\\n]+)"?$`, "m").exec(fresh)?.[1];
  let changed: number | undefined;
  let failed: number | undefined;
  const summaryPath = hostPath(host, "/var/cache/puppet/public/last_run_summary.yaml");
  if (existsSync(summaryPath)) {
    const summary = parse(readFileSync(summaryPath, "utf8")) as {
      resources?: { changed?: number; failed?: number };
    };
    changed = summary.resources?.changed;
    failed = summary.resources?.failed;
  }
  return {
    ...r,
    ok,
    master: field("server_used"),
    configVersion: field("configuration_version"),
    changed,
    failed,
  };
}

/**
 * An HTTPS request to PuppetDB from inside `from`, with `from`'s Puppet certificate (PuppetDB lets
 * in only the certnames on its allowlist). Returns the HTTP status and the body.
 */
export async function puppetdbRequest(
  from: LabHost,
  url: string,
  opts: { method?: "GET" | "POST"; json?: unknown } = {},
): Promise<{ status: number; body: string }> {
  const tls = puppetTls(from.certname);
  const data =
    opts.json === undefined
      ? []
      : ["-H", "Content-Type: application/json", "--data", JSON.stringify(opts.json)];
  const r = await runInHost(from, [
    "curl",
    "-sS",
    "--max-time",
    "20",
    "-w",
    "\n%{http_code}",
    "-X",
    opts.method ?? "GET",
    "--cacert",
    tls.cacert,
    "--cert",
    tls.cert,
    "--key",
    tls.key,
    ...data,
    url,
  ]);
  const cut = r.output.lastIndexOf("\n");
  const status = Number(r.output.slice(cut + 1).trim());
  if (!r.ok || !Number.isInteger(status))
    throw new Error(`${url} from ${from.name}: ${r.output.trim()}`);
  return { status, body: r.output.slice(0, cut) };
}

/** A PuppetDB query (see puppetdbRequest); returns the parsed JSON. */
export async function queryPuppetdb(
  from: LabHost,
  baseUrl: string,
  endpoint: string,
  query?: string,
): Promise<unknown> {
  const url = new URL(`${baseUrl.replace(/\/$/, "")}/pdb/query/v4/${endpoint}`);
  if (query) url.searchParams.set("query", query);
  const r = await puppetdbRequest(from, url.toString());
  if (r.status !== 200)
    throw new Error(
      `PuppetDB query ${url.toString()} from ${from.name}: HTTP ${r.status} ${r.body.trim()}`,
    );
  return JSON.parse(r.body) as unknown;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

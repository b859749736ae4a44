// RDS stands in as a PostgreSQL host under the endpoint name RDS would have (lab/topology.ts), with
// TLS and password authentication, so that PuppetDB connects to it as it does to RDS.
import { spawnSync } from "child_process";
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  rmSync,
  writeFileSync,
} from "fs";
import { join, resolve } from "path";
import { ExecHost, runInHost, startInHost } from "./host";
import { Started } from "./processes";
import { sleep } from "./sleep";
import { DatabaseTls, databaseCertificate } from "./truststore";

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
  /** The lab's RDS CAs: the server's certificate comes from their signing CA. */
  readonly tls: DatabaseTls;
  /**
   * Password of the `replicator` role a standby streams with (startStandby), allowed from
   * `allowCidr` over TLS. Default none: no replication.
   */
  readonly replicationPassword?: string;
}

/** The standby's role on its primary (REPLICATION, LOGIN, nothing else). */
const REPLICATOR = "replicator";

/**
 * PostgreSQL 15 in `<root>/pgdata` (initdb on first use), TLS on with a certificate for the host's
 * name (the RDS endpoint's) from the lab's RDS CA, new at every start, so the hosts verify it as
 * they verify RDS (`verify-full` against the bundle), the database and its owner created with the
 * password. Runs as `postgres`; socket in `<root>/pgsock`. Log: `<root>/log/postgres.log`.
 */
export async function startPostgres(host: ExecHost, opts: PostgresOptions): Promise<Started> {
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
  }
  // Every start: a replication line where there was none before (the `all` line does not match
  // replication connections).
  const allow = opts.allowCidr ?? "0.0.0.0/0";
  writeFileSync(
    join(data, "pg_hba.conf"),
    `local all all peer\nhostssl all all ${allow} scram-sha-256\n` +
      (opts.replicationPassword === undefined
        ? ""
        : `hostssl replication ${REPLICATOR} ${allow} scram-sha-256\n`),
  );
  const server = await serve(host, data, sock, port, opts.tls);
  // The passwords reach psql through the environment (\getenv), never a command line.
  const replicator =
    opts.replicationPassword === undefined
      ? []
      : [
          "\\getenv rpw LAB_REPLICATION_PASSWORD",
          `SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${REPLICATOR}') AS norepl \\gset`,
          "\\if :norepl",
          `CREATE ROLE "${REPLICATOR}" LOGIN REPLICATION;`,
          "\\endif",
          `ALTER ROLE "${REPLICATOR}" PASSWORD :'rpw';`,
        ];
  const sql = [
    "\\set ON_ERROR_STOP on",
    ...replicator,
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
      env: {
        LAB_DB_PASSWORD: opts.password,
        ...(opts.replicationPassword !== undefined && {
          LAB_REPLICATION_PASSWORD: opts.replicationPassword,
        }),
      },
      logName: "postgres-setup",
    },
  );
  if (!setup.ok) {
    await server.stop();
    throw new Error(`${host.name}: creating ${user}/${database} failed: ${setup.output}`);
  }
  return server;
}

/**
 * The host's certificate (new at every start, for its name), then PostgreSQL on `data`, waited for
 * until it accepts connections on its socket.
 */
async function serve(
  host: ExecHost,
  data: string,
  sock: string,
  port: number,
  tls: DatabaseTls,
): Promise<Started> {
  databaseCertificate(tls, host.certname, join(data, "server.key"), join(data, "server.crt"));
  spawnSync("chown", ["postgres:postgres", join(data, "server.key"), join(data, "server.crt")]);
  chmodSync(join(data, "server.key"), 0o600);
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
      { user: "postgres" },
    );
    if (ready.ok) return server;
    if (!server.alive() || Date.now() > deadline) {
      await server.stop();
      throw new Error(`${host.name}: PostgreSQL did not start: see ${server.log}`);
    }
    await sleep(300);
  }
}

export interface StandbyOptions {
  /** Address to listen on (the replica host's lab address). */
  readonly listen: string;
  readonly port?: number;
  /** The primary, by the name its certificate carries, as RDS streams to a replica. */
  readonly primary: { readonly name: string; readonly port: number };
  /** The `replicator` role's password (startPostgres's replicationPassword). */
  readonly replicationPassword: string;
  readonly tls: DatabaseTls;
}

/**
 * A streaming hot standby of the primary, RDS's read replica stood in: on first use a base backup
 * of the primary (`pg_basebackup -R`: standby.signal and the primary's conninfo, TLS verified
 * against the lab's RDS CA), with the primary's listen address, socket and port overridden (the
 * last line of postgresql.auto.conf wins); then, like startPostgres, a certificate for its own name
 * at every start. Once promoted (promoteStandby) it stays a primary across restarts.
 */
export async function startStandby(host: ExecHost, opts: StandbyOptions): Promise<Started> {
  const root = resolve(host.root);
  const data = join(root, "pgdata");
  const sock = join(root, "pgsock");
  const port = opts.port ?? 5432;
  mkdirSync(sock, { recursive: true });
  spawnSync("chown", ["postgres:postgres", sock]);
  if (!existsSync(join(data, "PG_VERSION"))) {
    mkdirSync(data, { recursive: true, mode: 0o700 });
    const ca = join(root, "primary-ca.pem");
    copyFileSync(opts.tls.signer.cert, ca);
    spawnSync("chown", ["postgres:postgres", data, ca]);
    const conninfo = `host=${opts.primary.name} port=${opts.primary.port} user=${REPLICATOR} sslmode=verify-full sslrootcert=${ca}`;
    const backup = await runInHost(
      host,
      [`${PG_BIN}/pg_basebackup`, "-d", conninfo, "-D", data, "-R", "-X", "stream", "-c", "fast"],
      {
        user: "postgres",
        env: { PGPASSWORD: opts.replicationPassword },
        logName: "pg_basebackup",
        timeoutMs: 300_000,
      },
    );
    if (!backup.ok) {
      rmSync(data, { recursive: true, force: true });
      throw new Error(
        `${host.name}: pg_basebackup from ${opts.primary.name} failed: ${backup.output}`,
      );
    }
    appendFileSync(
      join(data, "postgresql.auto.conf"),
      [
        `listen_addresses = '${opts.listen}'`,
        `port = ${port}`,
        `unix_socket_directories = '${sock}'`,
        "",
      ].join("\n"),
    );
  }
  return serve(host, data, sock, port, opts.tls);
}

/** One SQL statement as `postgres` over the host's socket: its rows, unaligned, trimmed. */
export async function queryAsPostgres(host: ExecHost, sql: string, port = 5432): Promise<string> {
  const sock = join(resolve(host.root), "pgsock");
  const r = await runInHost(
    host,
    [
      `${PG_BIN}/psql`,
      "-h",
      sock,
      "-p",
      String(port),
      "-U",
      "postgres",
      "-d",
      "puppetdb",
      "-qAtX",
      "-v",
      "ON_ERROR_STOP=1",
      "-c",
      sql,
    ],
    { user: "postgres", timeoutMs: 90_000 },
  );
  if (!r.ok) throw new Error(`${host.name}: ${sql}: ${r.output.trim()}`);
  return r.output.trim();
}

/**
 * Promotes a standby, as `aws rds promote-read-replica` does a replica: `pg_promote()`, which waits
 * (up to 60 s) until the standby takes writes.
 */
export async function promoteStandby(host: ExecHost, port = 5432): Promise<void> {
  const done = await queryAsPostgres(host, "SELECT pg_promote()", port);
  if (done !== "t") throw new Error(`${host.name}: pg_promote() did not finish: ${done}`);
}

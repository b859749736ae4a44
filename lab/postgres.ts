// RDS stands in as a PostgreSQL host under the endpoint name RDS would have (lab/topology.ts), with
// TLS and password authentication, so that PuppetDB connects to it as it does to RDS.
import { spawnSync } from "child_process";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "fs";
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
}

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
    writeFileSync(
      join(data, "pg_hba.conf"),
      `local all all peer\nhostssl all all ${opts.allowCidr ?? "0.0.0.0/0"} scram-sha-256\n`,
    );
  }
  databaseCertificate(opts.tls, host.certname, join(data, "server.key"), join(data, "server.crt"));
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

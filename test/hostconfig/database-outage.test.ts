// What the PuppetDB host does about a database outage, run for real in temporary directories:
// allowlist-refresh.sh defers its restart while pg_isready fails (a PuppetDB restarted without its
// database accepts no command), and discard-replay.sh posts the commands PuppetDB discarded during
// the outage back to a fake local PuppetDB (an HTTP server of this test), oldest first, connectivity
// failures only, at most three times per command. pg_isready is a stub that logs its arguments.
import { spawn } from "child_process";
import { createHash } from "crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "fs";
import { IncomingMessage, ServerResponse, createServer } from "http";
import { AddressInfo } from "net";
import { tmpdir } from "os";
import { join } from "path";
import { gzipSync } from "zlib";
import { describe, expect } from "vitest";
import { SCRIPTS_DIR } from "../../infra/hostconfig";
import { itWithTools, run } from "./helpers";

const work = mkdtempSync(join(tmpdir(), "pm-outage-"));
const DB = { host: "db.example.internal", port: 5432, name: "puppetdb" };
const SETTINGS = `CERTNAME='puppetdb.example.internal'\nDB_HOST='${DB.host}'\nDB_PORT='${DB.port}'\nDB_NAME='${DB.name}'\n`;
const CA = "ca.puppet.example.internal";
/** A failover site's PuppetDB: it writes to whichever of its replica and the primary takes writes. */
const REPLICA_SETTINGS = `${SETTINGS}DB_REPLICA_HOST='replica.example.internal'\nDB_REPLICA_PORT='5432'\n`;

/**
 * A PuppetDB host's directories, and a pg_isready stub that appends its arguments to `checks` and
 * fails while the file `db-down` exists.
 */
function host(settings = SETTINGS) {
  const dir = mkdtempSync(join(work, "host-"));
  const conf = join(dir, "conf");
  mkdirSync(join(conf, "puppetdb"), { recursive: true });
  writeFileSync(join(conf, "host.env"), settings);
  writeFileSync(join(conf, "puppetdb", "certificate-allowlist"), `${CA}\n`);
  const dbCheck = join(dir, "pg_isready");
  writeFileSync(
    dbCheck,
    `#!/bin/bash\necho "$*" >>"${dir}/checks"\n[[ ! -e "${dir}/db-down" ]]\n`,
    { mode: 0o755 },
  );
  // PuppetDB's restart (or reload): the stub logs its arguments to `restarts`.
  const restartStub = join(dir, "restart");
  writeFileSync(restartStub, `#!/bin/bash\necho "$*" >>"${dir}/restarts"\n`, { mode: 0o755 });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    PUPPET_MULTISITE_RESTART_CMD: restartStub,
    PUPPET_MULTISITE_CONF_DIR: conf,
    PUPPET_MULTISITE_STATE_DIR: join(dir, "state"),
    PUPPET_MULTISITE_DB_CHECK_CMD: dbCheck,
  };
  const lines = (file: string) =>
    existsSync(join(dir, file)) ? readFileSync(join(dir, file), "utf8").trimEnd().split("\n") : [];
  const dbDown = (down: boolean) =>
    down ? writeFileSync(join(dir, "db-down"), "") : rmSync(join(dir, "db-down"), { force: true });
  return { dir, env, lines, dbDown };
}

/** The script runs while this process serves the fake PuppetDB: spawned, not spawnSync. */
function runAsync(cmd: string, env: NodeJS.ProcessEnv) {
  return new Promise<{ status: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn("bash", [cmd], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stderr }));
  });
}

describe("allowlist-refresh.sh while the database is away", () => {
  function refreshHost() {
    const h = host();
    const refresh = () =>
      run("bash", [join(SCRIPTS_DIR, "allowlist-refresh.sh")], {
        env: { ...h.env, PUPPETDB_DIR: join(h.dir, "puppetdb") },
      });
    const pending = () => existsSync(join(h.dir, "state", "allowlist-restart-pending"));
    return { ...h, refresh, pending };
  }

  itWithTools(
    ["bash", "flock"],
    "defers the restart while pg_isready fails, keeping the change pending",
    () => {
      const h = refreshHost();
      h.dbDown(true);
      const r = h.refresh();
      expect(r.status, r.stderr).toBe(0);
      // The allowlist is written: only the restart waits.
      expect(readFileSync(join(h.dir, "puppetdb", "certificate-allowlist"), "utf8")).toBe(
        `${CA}\n`,
      );
      expect(r.stderr).toMatch(
        /WARNING: puppetdb restart deferred: database db\.example\.internal:5432 is unreachable; the next run tries again$/m,
      );
      expect(h.lines("checks")).toEqual(["-h db.example.internal -p 5432 -d puppetdb -t 5"]);
      expect(h.lines("restarts")).toEqual([]);
      expect(h.pending()).toBe(true);

      // Still away at the next run: still deferred.
      expect(h.refresh().stderr).toContain("puppetdb restart deferred");
      expect(h.lines("restarts")).toEqual([]);
      expect(h.pending()).toBe(true);
    },
  );

  itWithTools(
    ["bash", "flock", "curl"],
    "with a replica, defers while PuppetDB's status says no database takes its writes",
    async () => {
      let writeUp = false;
      const pdb = await fakePuppetdb({ writeDbUp: () => writeUp });
      try {
        const h = host(REPLICA_SETTINGS);
        const refresh = () =>
          runAsync(join(SCRIPTS_DIR, "allowlist-refresh.sh"), {
            ...h.env,
            PUPPETDB_DIR: join(h.dir, "puppetdb"),
            PUPPET_MULTISITE_PUPPETDB_URL: pdb.url,
          });
        const deferred = await refresh();
        expect(deferred.stderr).toMatch(
          /WARNING: puppetdb restart deferred: neither replica\.example\.internal:5432 nor db\.example\.internal:5432 takes writes \(PuppetDB's status\); the next run tries again$/m,
        );
        expect(h.lines("restarts")).toEqual([]);
        writeUp = true;
        const restarted = await refresh();
        expect(restarted.stderr).toContain("restarted puppetdb");
        expect(h.lines("restarts")).toEqual(["puppetdb"]);
        // The standby would have answered pg_isready: it is never asked.
        expect(h.lines("checks")).toEqual([]);
      } finally {
        await pdb.close();
      }
    },
  );

  itWithTools(["bash", "flock"], "restarts once the database answers, then no more", () => {
    const h = refreshHost();
    h.dbDown(true);
    h.refresh();
    h.dbDown(false);
    const r = h.refresh();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("allowlist unchanged");
    expect(r.stderr).toContain("restarted puppetdb");
    expect(r.stderr).not.toContain("deferred");
    expect(h.lines("restarts")).toEqual(["puppetdb"]);
    expect(h.pending()).toBe(false);
    // Nothing pending: no check, no restart.
    h.refresh();
    expect(h.lines("checks")).toHaveLength(2);
    expect(h.lines("restarts")).toEqual(["puppetdb"]);
  });
});

interface Post {
  query: Record<string, string>;
  contentType?: string;
  contentEncoding?: string;
  body: Buffer;
}

/** A local PuppetDB: its status (code and queue depth) and its command endpoint, which records posts. */
async function fakePuppetdb(
  opts: {
    statusCode?: number;
    /** Whether its write database answers: its status says so, 503 when it does not. */
    writeDbUp?: () => boolean;
    postCode?: (p: Post) => number;
    awaitingRetry?: () => number;
  } = {},
) {
  const posts: Post[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const json = (code: number, body: unknown) => {
        res.writeHead(code, { "Content-Type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (req.method === "GET" && url.pathname === "/status/v1/services/puppetdb-status") {
        const writeUp = opts.writeDbUp?.() ?? true;
        const code = opts.statusCode ?? (writeUp ? 200 : 503);
        json(code, {
          state: code === 200 ? "running" : "error",
          status: {
            "maintenance_mode?": false,
            queue_depth: 7,
            "read_db_up?": true,
            "write_db_up?": writeUp && code === 200,
          },
        });
      } else if (
        url.pathname === "/metrics/v2/read/puppetlabs.puppetdb.mq:name=global.awaiting-retry"
      ) {
        json(200, { value: { Count: opts.awaitingRetry?.() ?? 0 }, status: 200 });
      } else if (req.method === "POST" && url.pathname === "/pdb/cmd/v1") {
        const post: Post = {
          query: Object.fromEntries(url.searchParams),
          contentType: req.headers["content-type"],
          contentEncoding: req.headers["content-encoding"],
          body: Buffer.concat(chunks),
        };
        posts.push(post);
        json(opts.postCode?.(post) ?? 200, { uuid: "00000000-0000-0000-0000-000000000000" });
      } else {
        json(404, {});
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return { url, posts, close };
}

// The newest attempt comes first in an _err.txt (dlo.clj's write-failure-metadata).
const HIKARI =
  "java.sql.SQLTransientConnectionException: PDBWritePool - Connection is not available, request timed out after 3000ms.\n\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)\n";
const REFUSED =
  "org.postgresql.util.PSQLException: Connection to db.example.internal:5432 refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections.\n\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:319)\n";
const BAD_DATA =
  'org.postgresql.util.PSQLException: ERROR: value too long for type character varying(1024)\n  Where: SQL statement "insert into resource_events"\n';
const errText = (...attempts: string[]) =>
  attempts
    .map((trace, i) => `Attempt ${attempts.length - i} @ 2024-05-01T10:0${i}:00.000Z\n${trace}`)
    .join("\n");

describe("discard-replay.sh", () => {
  /** A host whose PuppetDB discarded commands: `discard(name, body, err?)` adds one. */
  function replayHost(url: string, settings = SETTINGS) {
    const h = host(settings);
    const discardDir = join(h.dir, "stockpile", "discard");
    mkdirSync(discardDir, { recursive: true });
    const discard = (name: string, body: string | Buffer, err?: string) => {
      writeFileSync(join(discardDir, name), body);
      if (err !== undefined) {
        const errName = name.endsWith(".json") ? name.slice(0, -5) : name;
        writeFileSync(join(discardDir, `${errName}_err.txt`), err);
      }
    };
    const replay = () =>
      runAsync(join(SCRIPTS_DIR, "discard-replay.sh"), {
        ...h.env,
        PUPPET_MULTISITE_DISCARD_DIR: discardDir,
        PUPPET_MULTISITE_PUPPETDB_URL: url,
        PUPPET_MULTISITE_METRICS_URL: url,
      });
    const ls = (sub: string) =>
      existsSync(join(h.dir, "stockpile", sub))
        ? readdirSync(join(h.dir, "stockpile", sub)).sort()
        : [];
    const queue = () =>
      JSON.parse(readFileSync(join(h.dir, "state", "puppetdb-queue.json"), "utf8")) as Record<
        string,
        unknown
      >;
    const count = (body: string | Buffer) => {
      const file = join(h.dir, "state", "discard-replays", sha256(body));
      return existsSync(file) ? readFileSync(file, "utf8").trim() : undefined;
    };
    return { ...h, discard, replay, ls, queue, count };
  }

  const sha256 = (body: string | Buffer) => createHash("sha256").update(body).digest("hex");

  const TOOLS = ["bash", "curl", "flock", "sha256sum"];

  itWithTools(
    TOOLS,
    "posts connectivity failures oldest received first, moves them to replayed/, leaves the rest",
    async () => {
      const pdb = await fakePuppetdb();
      try {
        const h = replayHost(pdb.url);
        const catalog = gzipSync(Buffer.from('{"certname":"node-b.example"}'));
        const facts = '{"certname":"node-a.example","values":{}}';
        const capped = '{"certname":"node-d.example","report":1}';
        // Ids and received times disagree: the received time decides the order.
        h.discard("5-1714557600300_facts_5_node-a.example.json", facts, errText(HIKARI, BAD_DATA));
        h.discard("9-1714557600100+25_catalog_9_node-b.example.json.gz", catalog, errText(REFUSED));
        // The newest attempt failed on its data: an older connection failure does not count.
        h.discard(
          "7-1714557600200-40_report_8_node-c.example.json",
          '{"certname":"node-c.example"}',
          errText(BAD_DATA, HIKARI),
        );
        h.discard("11-1714557600050_report_8_node-d.example.json", capped, errText(HIKARI));
        mkdirSync(join(h.dir, "state", "discard-replays"), { recursive: true });
        writeFileSync(join(h.dir, "state", "discard-replays", sha256(capped)), "3\n");
        h.discard(`12-1714557600010_unknown_0_${"a".repeat(40)}.json`, "not json", errText(HIKARI));
        // A certname PuppetDB had to mangle (an underscore): not the real one, never posted.
        h.discard(
          `13-1714557600400_facts_5_node-f.example_${"b".repeat(40)}.json`,
          '{"certname":"node_f.example"}',
          errText(HIKARI),
        );
        // Being discarded right now: its _err.txt is not there yet.
        h.discard("14-1714557600500_facts_5_node-g.example.json", "{}");

        const r = await h.replay();
        expect(r.status, r.stderr).toBe(0);
        expect(
          pdb.posts.map((p) => ({ ...p.query, encoding: p.contentEncoding, type: p.contentType })),
        ).toEqual([
          {
            command: "replace_catalog",
            version: "9",
            certname: "node-b.example",
            "producer-timestamp": "2024-05-01T10:00:00.125Z",
            encoding: "gzip",
            type: "application/json",
          },
          {
            command: "replace_facts",
            version: "5",
            certname: "node-a.example",
            encoding: undefined,
            type: "application/json",
          },
        ]);
        // The bodies as PuppetDB stored them, byte for byte (the catalog still gzipped).
        expect(pdb.posts.map((p) => p.body)).toEqual([catalog, Buffer.from(facts)]);
        expect(h.ls("replayed")).toEqual([
          "5-1714557600300_facts_5_node-a.example.json",
          "5-1714557600300_facts_5_node-a.example_err.txt",
          "9-1714557600100+25_catalog_9_node-b.example.json.gz",
          "9-1714557600100+25_catalog_9_node-b.example.json.gz_err.txt",
        ]);
        expect(h.ls("discard")).toEqual(
          [
            "11-1714557600050_report_8_node-d.example.json",
            "11-1714557600050_report_8_node-d.example_err.txt",
            `12-1714557600010_unknown_0_${"a".repeat(40)}.json`,
            `12-1714557600010_unknown_0_${"a".repeat(40)}_err.txt`,
            `13-1714557600400_facts_5_node-f.example_${"b".repeat(40)}.json`,
            `13-1714557600400_facts_5_node-f.example_${"b".repeat(40)}_err.txt`,
            "14-1714557600500_facts_5_node-g.example.json",
            "7-1714557600200-40_report_8_node-c.example.json",
            "7-1714557600200-40_report_8_node-c.example_err.txt",
          ].sort(),
        );
        expect(h.count(catalog)).toBe("1");
        expect(h.count(facts)).toBe("1");
        const { time, ...queue } = h.queue();
        expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        expect(queue).toEqual({
          ready: true,
          queue_depth: 7,
          awaiting_retry: 0,
          reloaded: false,
          discards_pending: 5,
          replayed: 2,
          skipped: 3,
          capped: 1,
        });
        // One summary line, the same as the file.
        const summary = r.stderr.split("\n").filter((l) => l.includes('"queue_depth"'));
        expect(summary).toHaveLength(1);
        expect(JSON.parse(summary[0].replace(/^.*?\] /, ""))).toEqual(h.queue());
        expect(r.stderr).toContain(
          "replayed 9-1714557600100+25_catalog_9_node-b.example.json.gz (1/3)",
        );
      } finally {
        await pdb.close();
      }
    },
  );

  itWithTools(TOOLS, "replays one command at most three times, then leaves it", async () => {
    const pdb = await fakePuppetdb();
    try {
      const h = replayHost(pdb.url);
      const body = '{"certname":"node-a.example","values":{"os":"debian"}}';
      // PuppetDB discards the replayed command again each time, under a new id and received time.
      for (let i = 1; i <= 4; i++) {
        const name = `${20 + i}-171455760${i}000_facts_5_node-a.example.json`;
        h.discard(name, body, errText(HIKARI));
        const r = await h.replay();
        expect(r.status, r.stderr).toBe(0);
        expect(pdb.posts).toHaveLength(Math.min(i, 3));
        expect(h.count(body)).toBe(String(Math.min(i, 3)));
        expect(h.ls("discard")).toEqual(i <= 3 ? [] : [name, name.replace(".json", "_err.txt")]);
      }
      expect(h.queue()).toMatchObject({ replayed: 0, capped: 1, discards_pending: 1 });
    } finally {
      await pdb.close();
    }
  });

  itWithTools(TOOLS, "posts nothing while the database is unreachable, and says so", async () => {
    const pdb = await fakePuppetdb();
    try {
      const h = replayHost(pdb.url);
      h.discard("1-1714557600000_facts_5_node-a.example.json", "{}", errText(HIKARI));
      h.dbDown(true);
      const r = await h.replay();
      expect(r.status, r.stderr).toBe(0);
      expect(h.lines("checks")).toEqual(["-h db.example.internal -p 5432 -d puppetdb -t 5"]);
      expect(r.stderr).toMatch(
        /WARNING: database db\.example\.internal:5432 is unreachable: nothing replayed: \{/,
      );
      expect(pdb.posts).toEqual([]);
      expect(h.ls("discard")).toHaveLength(2);
      expect(h.queue()).toMatchObject({
        ready: false,
        queue_depth: null,
        discards_pending: 1,
        replayed: 0,
      });
    } finally {
      await pdb.close();
    }
  });

  itWithTools(
    TOOLS,
    "posts nothing while PuppetDB's status is not 200 (starting, or its database away)",
    async () => {
      const pdb = await fakePuppetdb({ statusCode: 503 });
      try {
        const h = replayHost(pdb.url);
        h.discard("1-1714557600000_facts_5_node-a.example.json", "{}", errText(HIKARI));
        const r = await h.replay();
        expect(r.status, r.stderr).toBe(0);
        expect(r.stderr).toMatch(
          /WARNING: PuppetDB is not answering \(.*503.*\): nothing replayed/,
        );
        expect(pdb.posts).toEqual([]);
        expect(h.queue()).toMatchObject({ ready: false, queue_depth: null, replayed: 0 });
      } finally {
        await pdb.close();
      }
    },
  );

  itWithTools(
    TOOLS,
    "stops at a failed post (oldest first); a refused one counts as a replay and the run goes on",
    async () => {
      // node-a is refused (400), node-b fails (503), node-c must wait for the next run.
      const codes: Record<string, number> = { "node-a.example": 400, "node-b.example": 503 };
      const pdb = await fakePuppetdb({ postCode: (p) => codes[p.query.certname] ?? 200 });
      try {
        const h = replayHost(pdb.url);
        const bodies = ["a", "b", "c"].map((n) => `{"certname":"node-${n}.example"}`);
        ["a", "b", "c"].forEach((n, i) =>
          h.discard(
            `${i + 1}-171455760${i}000_facts_5_node-${n}.example.json`,
            bodies[i],
            errText(HIKARI),
          ),
        );
        const r = await h.replay();
        expect(r.status, r.stderr).toBe(0);
        expect(pdb.posts.map((p) => p.query.certname)).toEqual([
          "node-a.example",
          "node-b.example",
        ]);
        expect(r.stderr).toContain(
          "WARNING: PuppetDB refused 1-1714557600000_facts_5_node-a.example.json (HTTP 400)",
        );
        expect(r.stderr).toContain(
          "WARNING: replaying 2-1714557601000_facts_5_node-b.example.json failed (HTTP 503)",
        );
        expect(bodies.map((b) => h.count(b))).toEqual(["1", undefined, undefined]);
        expect(h.ls("discard")).toHaveLength(6);
        expect(h.queue()).toMatchObject({ ready: false, replayed: 0, discards_pending: 3 });

        // PuppetDB accepts again: b and c go, a is refused once more.
        delete codes["node-b.example"];
        expect((await h.replay()).status).toBe(0);
        expect(pdb.posts.map((p) => p.query.certname).slice(2)).toEqual([
          "node-a.example",
          "node-b.example",
          "node-c.example",
        ]);
        expect(bodies.map((b) => h.count(b))).toEqual(["2", "1", "1"]);
        expect(h.queue()).toMatchObject({ ready: true, replayed: 2, discards_pending: 1 });
      } finally {
        await pdb.close();
      }
    },
  );

  itWithTools(
    TOOLS,
    "reloads PuppetDB once after an outage it saw, when commands wait for their hourly retry",
    async () => {
      let awaiting = 0;
      const pdb = await fakePuppetdb({ awaitingRetry: () => awaiting });
      try {
        const h = replayHost(pdb.url);
        // Nothing waits and no outage was seen: no reload.
        awaiting = 2;
        await h.replay();
        expect(h.lines("restarts")).toEqual([]);
        h.dbDown(true);
        await h.replay();
        expect(h.queue()).toMatchObject({ ready: false, awaiting_retry: null, reloaded: false });
        h.dbDown(false);
        awaiting = 0;
        await h.replay();
        expect(h.lines("restarts")).toEqual([]);
        // Commands failed during the outage and wait about an hour: reloaded, once.
        awaiting = 3;
        const r = await h.replay();
        expect(r.stderr).toContain(
          "reloaded PuppetDB: 3 commands that failed while the database was away",
        );
        expect(h.queue()).toMatchObject({ ready: true, awaiting_retry: 3, reloaded: true });
        await h.replay();
        expect(h.lines("restarts")).toEqual(["puppetdb"]);
        // The next outage gets its own reload.
        h.dbDown(true);
        await h.replay();
        h.dbDown(false);
        await h.replay();
        expect(h.lines("restarts")).toEqual(["puppetdb", "puppetdb"]);
      } finally {
        await pdb.close();
      }
    },
  );

  itWithTools(
    TOOLS,
    "with a replica: the outage is PuppetDB's own write database, ended by the replica's promotion",
    async () => {
      let writeUp = false;
      const pdb = await fakePuppetdb({ writeDbUp: () => writeUp, awaitingRetry: () => 3 });
      try {
        const h = replayHost(pdb.url, REPLICA_SETTINGS);
        h.discard("1-1714557600000_facts_5_node-a.example.json", "{}", errText(HIKARI));
        // The primary lost: the standby answers pg_isready, PuppetDB's status tells the truth.
        const lost = await h.replay();
        expect(lost.status, lost.stderr).toBe(0);
        expect(lost.stderr).toContain(
          "WARNING: neither replica.example.internal:5432 nor db.example.internal:5432 takes writes (PuppetDB's status): nothing replayed",
        );
        expect(h.lines("checks")).toEqual([]);
        expect(pdb.posts).toEqual([]);
        expect(h.lines("restarts")).toEqual([]);
        // The replica promoted: PuppetDB writes to it, and what waited for the primary is retried.
        writeUp = true;
        const promoted = await h.replay();
        expect(promoted.stderr).toContain(
          "reloaded PuppetDB: 3 commands that failed while the database was away",
        );
        expect(h.lines("restarts")).toEqual(["puppetdb"]);
        expect(pdb.posts.map((p) => p.query.command)).toEqual(["replace_facts"]);
        expect(h.lines("checks")).toEqual([]);
      } finally {
        await pdb.close();
      }
    },
  );
});

// allowlist-refresh.sh run for real against a DNS server on loopback (dnsmasq) serving two sites'
// `_x-puppet._tcp` SRV records: priority-0 masters join PuppetDB's allowlist, priority-1 pool names
// never do, a record that stops answering keeps its last masters, and an unchanged list is neither
// rewritten nor followed by a restart. The PuppetDB restart is a stub that logs its calls.
import { ChildProcess, spawn } from "child_process";
import { createSocket } from "dgram";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "fs";
import { tmpdir } from "os";
import { dirname, join } from "path";
import { afterAll, describe, expect } from "vitest";
import { CONF_DIR, PuppetdbHost, SCRIPTS_DIR, hostFiles } from "../../infra/hostconfig";
import { CA, DOMAIN, puppetdbHost } from "./fixtures";
import { hasTool, itWithTools, run } from "./helpers";

const work = mkdtempSync(join(tmpdir(), "pm-allowlist-"));
const srv = (site: string) => `_x-puppet._tcp.${site}.${DOMAIN}`;
const master = (site: string, index: number) => `master-${index}.${site}.${DOMAIN}`;
const masters = (site: string, indexes: readonly number[]) => indexes.map((i) => master(site, i));
const pool = (site: string) => `pool.${site}.${DOMAIN}`;

/** dnsmasq lives in /usr/sbin, which a non-root PATH may lack. */
const DNSMASQ =
  !hasTool("dnsmasq") && existsSync("/usr/sbin/dnsmasq") ? "/usr/sbin/dnsmasq" : "dnsmasq";
const TOOLS = ["bash", "ruby", "flock", DNSMASQ];

// Site A's PuppetDB as the stack renders it: only the CA is static; every master, site A's too, comes
// from the SRV records. site-c is listed but never served: a site whose record never answered.
const host: PuppetdbHost = {
  ...puppetdbHost("site-a"),
  certificateAllowlist: [CA],
  allowlistSrvRecords: [srv("site-a"), srv("site-b"), srv("site-c")],
};

// The host's staged configuration, rendered by the same code as its user data.
const confDir = join(work, "conf");
for (const file of hostFiles(host)) {
  if (!file.path.startsWith(`${CONF_DIR}/`)) continue;
  const dest = join(confDir, file.path.slice(CONF_DIR.length + 1));
  mkdirSync(dirname(dest), { recursive: true });
  writeFileSync(dest, file.content);
}
const allowlistFile = join(work, "puppetdb", "certificate-allowlist");
const restartLog = join(work, "restarts.log");
const restartStub = join(work, "restart-puppetdb");
const restartFails = join(work, "restart-fails");
// Logs each call; fails while the restart-fails file exists.
writeFileSync(restartStub, `#!/bin/sh\necho "$1" >>"${restartLog}"\n[ ! -e "${restartFails}" ]\n`);
chmodSync(restartStub, 0o755);

type Target = readonly [record: string, target: string, priority: number];

/** SRV records of a site as dns-records.ts builds them: own masters at 0, other pools at 1. */
function site(name: string, masters: readonly number[], others: readonly string[]): Target[] {
  return [
    ...masters.map((i): Target => [srv(name), master(name, i), 0]),
    ...others.map((o): Target => [srv(name), pool(o), 1]),
  ];
}

const started = new Set<ChildProcess>();
let dns: { child: ChildProcess; port: number } | undefined;

async function freeUdpPort(): Promise<number> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", resolve);
  });
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    process.kill(child.pid, "SIGTERM");
    await exited;
  }
  started.delete(child);
}

/** (Re)starts dnsmasq with exactly these records, on a fresh high port of 127.0.0.1. */
async function serve(targets: readonly Target[]): Promise<void> {
  if (dns) await stop(dns.child);
  dns = undefined;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3 && !dns; attempt++) {
    const port = await freeUdpPort();
    const child = spawn(
      DNSMASQ,
      [
        "--no-daemon",
        "--conf-file=/dev/null",
        `--port=${port}`,
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--no-resolv",
        "--no-hosts",
        "--log-facility=-",
        ...targets.map(
          ([record, target, priority]) => `--srv-host=${record},${target},8140,${priority},10`,
        ),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    started.add(child);
    try {
      await new Promise<void>((resolve, reject) => {
        let output = "";
        const timer = setTimeout(
          () => reject(new Error(`dnsmasq not up in 10 s: ${output}`)),
          10_000,
        );
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          if (/started, version/.test(output)) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stdout?.on("data", onData);
        child.stderr?.on("data", onData);
        child.once("exit", (code) => {
          clearTimeout(timer);
          reject(new Error(`dnsmasq exited (${code}): ${output}`));
        });
      });
      dns = { child, port };
    } catch (e) {
      lastError = e;
      await stop(child);
    }
  }
  if (!dns) throw lastError;
}

afterAll(async () => {
  for (const child of [...started]) await stop(child);
});

function refresh(...args: string[]) {
  if (!dns) throw new Error("no DNS server running");
  return run("bash", [join(SCRIPTS_DIR, "allowlist-refresh.sh"), ...args], {
    env: {
      PATH: process.env.PATH,
      PUPPET_MULTISITE_CONF_DIR: confDir,
      PUPPET_MULTISITE_STATE_DIR: join(work, "state"),
      PUPPETDB_DIR: join(work, "puppetdb"),
      PUPPET_MULTISITE_DNS_SERVER: `127.0.0.1:${dns.port}`,
      PUPPET_MULTISITE_RESTART_CMD: restartStub,
      // The database answers: database-outage.test.ts covers the restart it defers.
      PUPPET_MULTISITE_DB_CHECK_CMD: "true",
    },
  });
}

const allowlist = () => readFileSync(allowlistFile, "utf8").trimEnd().split("\n");
const restarts = () =>
  existsSync(restartLog) ? readFileSync(restartLog, "utf8").trimEnd().split("\n") : [];
const sorted = (names: string[]) => [...names].sort();

// The steps build on each other (the state dir keeps the last good answers): they run in order.
describe("allowlist-refresh.sh against a real DNS server", () => {
  itWithTools(
    TOOLS,
    "writes the static names and every site's priority-0 masters, never a pool name",
    async () => {
      await serve([
        ...site("site-a", [1, 2], ["site-b"]),
        ...site("site-b", [1, 2, 3], ["site-a"]),
      ]);
      const r = refresh();
      expect(r.status, r.stderr).toBe(0);
      expect(allowlist()).toEqual(
        sorted([CA, ...masters("site-a", [1, 2]), ...masters("site-b", [1, 2, 3])]),
      );
      expect(readFileSync(allowlistFile, "utf8")).not.toMatch(/pool\./);
      expect(r.stderr).toContain(`${srv("site-c")}: lookup failed (no answer): it never answered`);
      expect(restarts()).toEqual(["puppetdb"]);
    },
  );

  itWithTools(TOOLS, "keeps a record's last masters while it does not answer", async () => {
    // site-b's record is gone; site-a grew a master.
    await serve(site("site-a", [1, 2, 3], ["site-b"]));
    const r = refresh();
    expect(r.status, r.stderr).toBe(0);
    expect(allowlist()).toEqual(
      sorted([CA, ...masters("site-a", [1, 2, 3]), ...masters("site-b", [1, 2, 3])]),
    );
    expect(r.stderr).toContain(
      `WARNING: ${srv("site-b")}: lookup failed (no answer): keeping its last masters ${master("site-b", 1)} ${master("site-b", 2)} ${master("site-b", 3)}`,
    );
    expect(r.stderr).toMatch(/wrote \S+: \+master-3\.site-a\.\S+ \(2 of 3 lookups failed\)$/m);
    expect(restarts()).toEqual(["puppetdb", "puppetdb"]);
  });

  itWithTools(TOOLS, "leaves an unchanged allowlist alone and does not restart", async () => {
    const before = statSync(allowlistFile);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const r = refresh();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/allowlist unchanged \(7 names; 2 of 3 lookups failed\)/);
    const after = statSync(allowlistFile);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(after.ino).toBe(before.ino);
    expect(restarts()).toHaveLength(2);
  });

  itWithTools(TOOLS, "drops masters a site no longer lists once it answers again", async () => {
    await serve([...site("site-a", [1, 2, 3], ["site-b"]), ...site("site-b", [1], ["site-a"])]);
    const r = refresh();
    expect(r.status, r.stderr).toBe(0);
    expect(allowlist()).toEqual(
      sorted([CA, ...masters("site-a", [1, 2, 3]), ...masters("site-b", [1])]),
    );
    expect(r.stderr).toMatch(/: -master-2\.site-b\.\S+ -master-3\.site-b\.\S+ \(/);
    expect(restarts()).toHaveLength(3);
  });

  itWithTools(
    TOOLS,
    "--no-restart (first boot) updates the file and leaves PuppetDB alone",
    async () => {
      await serve([
        ...site("site-a", [1, 2, 3], ["site-b"]),
        ...site("site-b", [1, 2], ["site-a"]),
      ]);
      const r = refresh("--no-restart");
      expect(r.status, r.stderr).toBe(0);
      expect(allowlist()).toEqual(
        sorted([CA, ...masters("site-a", [1, 2, 3]), ...masters("site-b", [1, 2])]),
      );
      expect(restarts()).toHaveLength(3);
      // The next timer run finds the file current: still no restart.
      expect(refresh().status).toBe(0);
      expect(restarts()).toHaveLength(3);
    },
  );

  itWithTools(TOOLS, "retries a failed restart on the next run, then stops", async () => {
    await serve([...site("site-a", [1, 2, 3], ["site-b"]), ...site("site-b", [1], ["site-a"])]);
    writeFileSync(restartFails, "");
    const failed = refresh();
    expect(failed.status, failed.stderr).toBe(0);
    expect(failed.stderr).toMatch(/: -master-2\.site-b\.\S+ \(/);
    expect(failed.stderr).toContain("ERROR: restarting puppetdb failed: the next run tries again");
    expect(restarts()).toHaveLength(4);
    rmSync(restartFails);
    const retried = refresh();
    expect(retried.stderr).toContain("allowlist unchanged");
    expect(retried.stderr).toContain("restarted puppetdb");
    expect(restarts()).toHaveLength(5);
    refresh();
    expect(restarts()).toHaveLength(5);
  });
});

// The standby CA's copy of the active CA's records (scripts/ca-sync.rb) run for real with Ruby. A
// fake active CA (fake-ca.ts) answers as puppetserver 7's CA API does.
import { spawn } from "child_process";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "fs";
import { join } from "path";
import { describe, expect } from "vitest";
import { SCRIPTS_DIR } from "../../infra/hostconfig";
import {
  PREFIX,
  ScriptRun,
  Standby,
  TOOLS,
  files,
  inventoryLine,
  listed,
  read,
  runScript,
  useFakeCa,
} from "./fake-ca";
import { STANDBY_CA } from "./fixtures";
import { itWithTools } from "./helpers";

const ca = useFakeCa("pm-ca-sync-");
const { active } = ca;

/** Runs ca-sync.rb as its timer does. */
const sync = (s: Standby, env: Record<string, string> = {}): Promise<ScriptRun> =>
  runScript(join(SCRIPTS_DIR, "ca-sync.rb"), s, { env });

async function synced(s: Standby): Promise<void> {
  const r = await sync(s);
  expect(r.stderr).toMatch(/copied from localhost/);
  expect(r.status).toBe(0);
  active.requests.length = 0;
}

const fetchedCertificates = () =>
  active.requests.filter((r) => r.path.includes("/certificate/")).map((r) => r.path);

describe("ca-sync.rb", () => {
  itWithTools(
    TOOLS,
    "first copy: every signed and revoked certificate as served, an inventory line each, the serial past every serial seen (the CRL's too), the CRL and its state; pending requests ignored",
    async () => {
      const { localhost, standbyCert, agent1, agent2 } = ca.base;
      const s = ca.standby();
      const r = await sync(s);
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(
        /\[ca-sync\] copied from localhost: 4 certificates \(4 fetched, 0 removed\), next serial 002B, CRL number 1 \(2 revoked\)$/m,
      );
      expect(r.stderr).not.toMatch(/skipping|agent-3/);
      const certs = [localhost, standbyCert, agent1, agent2];
      expect(readdirSync(join(s.cadir, "signed")).sort()).toEqual(
        certs.map((c) => `${c.name}.pem`).sort(),
      );
      for (const c of certs) expect(read(s, `signed/${c.name}.pem`)).toBe(c.pem);
      expect(read(s, "inventory.txt")).toBe(certs.map((c) => inventoryLine(c.pem)).join(""));
      expect(read(s, "inventory.txt")).toMatch(
        /^0x000A \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dUTC \S+UTC \/CN=agent-1\.example\.com$/m,
      );
      expect(read(s, "serial")).toBe("002B");
      expect(read(s, "ca_crl.pem")).toBe(ca.base.crl);
      expect(readFileSync(join(s.ssldir, "crl.pem"), "utf8")).toBe(ca.base.crl);
      expect(JSON.parse(read(s, "puppet-multisite-sync.json"))).toEqual({
        source: "localhost",
        synced_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as string,
        certificates: { localhost: 2, [STANDBY_CA]: 3, [agent1.name]: 10, [agent2.name]: 11 },
        next_serial: 43,
        crl_number: 1,
        revoked: 2,
        signed_only_here: [],
        revoked_only_here: [],
      });
      expect(active.requests).toEqual(
        [
          // The CRL first: everything is checked before anything is written.
          `${PREFIX}certificate_revocation_list/ca`,
          `${PREFIX}certificate_statuses/any`,
          ...certs.map((c) => `${PREFIX}certificate/${c.name}`),
        ].map((path) => ({ path: `GET ${path}`, client: STANDBY_CA })),
      );
    },
  );

  itWithTools(
    TOOLS,
    "a second run fetches no certificate again and keeps the inventory; a newly signed certificate is fetched and appended",
    async () => {
      const s = ca.standby();
      await synced(s);
      const inventory = read(s, "inventory.txt");
      const again = await sync(s);
      expect(again.status).toBe(0);
      expect(again.stderr).toMatch(/4 certificates \(0 fetched, 0 removed\), next serial 002B/);
      expect(fetchedCertificates()).toEqual([]);
      expect(read(s, "inventory.txt")).toBe(inventory);

      active.requests.length = 0;
      const fresh = ca.certificate("agent-4.example.com", 44);
      active.statuses.push(listed(fresh));
      const after = await sync(s);
      expect(after.status).toBe(0);
      expect(after.stderr).toMatch(/5 certificates \(1 fetched, 0 removed\), next serial 002D/);
      expect(fetchedCertificates()).toEqual([`GET ${PREFIX}certificate/agent-4.example.com`]);
      expect(read(s, "signed/agent-4.example.com.pem")).toBe(fresh.pem);
      expect(read(s, "inventory.txt")).toBe(inventory + inventoryLine(fresh.pem));
      expect(read(s, "serial")).toBe("002D");
    },
  );

  itWithTools(
    TOOLS,
    "a copy that stopped before saving its state fetches again but adds no second inventory line",
    async () => {
      const s = ca.standby();
      await synced(s);
      const inventory = read(s, "inventory.txt");
      rmSync(join(s.cadir, "puppet-multisite-sync.json"));
      const r = await sync(s);
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(/4 certificates \(4 fetched, 0 removed\)/);
      expect(read(s, "inventory.txt")).toBe(inventory);
    },
  );

  itWithTools(
    TOOLS,
    "a certificate cleaned on the active CA leaves signed/, and its inventory line stays",
    async () => {
      const { localhost, standbyCert, agent1, agent2 } = ca.base;
      const s = ca.standby();
      await synced(s);
      const inventory = read(s, "inventory.txt");
      // `puppetserver ca clean` revokes, then deletes the file: the status goes, the CRL grows.
      active.statuses = active.statuses.filter((c) => c.name !== agent1.name);
      active.crl = ca.crl(2, [10, 11, 42]);
      const r = await sync(s);
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(
        /3 certificates \(0 fetched, 1 removed\).*CRL number 2 \(3 revoked\)/,
      );
      expect(existsSync(join(s.cadir, "signed", `${agent1.name}.pem`))).toBe(false);
      expect(readdirSync(join(s.cadir, "signed")).sort()).toEqual(
        [localhost, standbyCert, agent2].map((c) => `${c.name}.pem`).sort(),
      );
      expect(read(s, "inventory.txt")).toBe(inventory);
      expect(read(s, "inventory.txt")).toContain(inventoryLine(agent1.pem));
      expect(read(s, "ca_crl.pem")).toBe(active.crl);
      expect(readFileSync(join(s.ssldir, "crl.pem"), "utf8")).toBe(active.crl);
    },
  );

  type Refusal = [what: string, change: () => void, reason: RegExp];
  const REFUSED: Refusal[] = [
    [
      "a certificate the CA did not sign",
      () => active.statuses.push(listed(ca.certificate("rogue.example.com", 13, [], ca.otherCa))),
      /the certificate of rogue\.example\.com does not verify against the CA certificate/,
    ],
    [
      "a certificate whose serial is not its status's",
      () =>
        active.statuses.push({ ...listed(ca.certificate("agent-5.example.com", 14)), serial: 15 }),
      /the certificate of agent-5\.example\.com has serial 14, its status says 15/,
    ],
    [
      "a CRL the CA did not sign",
      () => (active.crl = ca.crl(2, [11, 42], ca.otherCa)),
      /the CRL does not verify against the CA certificate/,
    ],
    [
      "a CRL with a lower CRL number than the installed one",
      () => (active.crl = ca.crl(0, [11, 42])),
      /the active CA's CRL \(number 0\) is older than ours \(1\): is the other CA the one promoted\?/,
    ],
  ];
  for (const [what, change, reason] of REFUSED) {
    itWithTools(
      TOOLS,
      `refuses ${what}, says why and leaves a synced standby's files as they were`,
      async () => {
        const s = ca.standby();
        await synced(s);
        const before = files(s);
        change();
        const r = await sync(s);
        expect(r.stderr).toMatch(
          new RegExp(`\\[ca-sync\\] could not copy from localhost: RuntimeError: ${reason.source}`),
        );
        expect(r.status).toBe(1);
        expect(files(s)).toEqual(before);
      },
    );
  }

  itWithTools(
    TOOLS,
    "a first copy whose CRL the CA did not sign writes nothing: no certificate, inventory line, serial, CRL or state",
    async () => {
      const s = ca.standby();
      const before = files(s);
      active.crl = ca.crl(2, [11, 42], ca.otherCa);
      const r = await sync(s);
      expect(r.stderr).toMatch(
        /could not copy from localhost: RuntimeError: the CRL does not verify/,
      );
      expect(r.status).toBe(1);
      expect(readdirSync(join(s.cadir, "signed"))).toEqual([]);
      expect(read(s, "inventory.txt")).toBe("");
      const absent = ["serial", "ca_crl.pem", "puppet-multisite-sync.json"];
      expect(absent.filter((f) => existsSync(join(s.cadir, f)))).toEqual([]);
      expect(existsSync(join(s.ssldir, "crl.pem"))).toBe(false);
      expect(files(s)).toEqual(before);
    },
  );

  itWithTools(
    TOOLS,
    "skips a status whose certname is not a certname (../), saying so, and never makes it a path or a request",
    async () => {
      const { localhost, standbyCert, agent1, agent2 } = ca.base;
      const s = ca.standby();
      const escapes = ["../../escaped", "x/../../escaped"];
      active.statuses.push(...escapes.map((name) => ({ ...listed(agent1), name })));
      const r = await sync(s);
      expect(r.status).toBe(0);
      for (const name of escapes) {
        expect(r.stderr).toContain(`skipping a status with certname "${name}" and serial 10`);
      }
      expect(active.requests.map((q) => q.path).filter((p) => p.includes("escaped"))).toEqual([]);
      const root = join(s.cadir, "..", "..");
      const written = readdirSync(root, { recursive: true, encoding: "utf8" });
      expect(written.filter((f) => f.includes("escaped"))).toEqual([]);
      expect(readdirSync(join(s.cadir, "signed")).sort()).toEqual(
        [localhost, standbyCert, agent1, agent2].map((c) => `${c.name}.pem`).sort(),
      );
    },
  );

  itWithTools(
    TOOLS,
    "without the standby marker it is the active CA: exits 0, says so and sends no request",
    async () => {
      const s = ca.standby();
      rmSync(join(s.cadir, "puppet-multisite-standby"));
      const before = files(s);
      const r = await sync(s);
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(
        /no standby marker in .*\/ca: this CA is the active one, nothing to copy/,
      );
      expect(active.requests).toEqual([]);
      expect(files(s)).toEqual(before);
    },
  );

  itWithTools(TOOLS, "never moves the serial file backwards", async () => {
    const s = ca.standby();
    writeFileSync(join(s.cadir, "serial"), "0100");
    const r = await sync(s);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/next serial 0100/);
    expect(read(s, "serial")).toBe("0100");
    expect(JSON.parse(read(s, "puppet-multisite-sync.json"))).toMatchObject({ next_serial: 256 });
  });

  itWithTools(
    TOOLS,
    "an active CA that does not answer (nothing listens on its port): exit 2, as ca-promote.rb reads it, and nothing written",
    async () => {
      const s = ca.standby({ CA_PORT: "1" });
      const before = files(s);
      const r = await sync(s);
      expect(r.stderr).toMatch(
        /\[ca-sync\] the active CA localhost did not answer: Errno::ECONNREFUSED/,
      );
      expect(r.status).toBe(2);
      expect(files(s)).toEqual(before);
    },
  );

  itWithTools(
    [...TOOLS, "flock"],
    "another copy holding the lock: exit 3 at once; with --wait it copies once the lock is free",
    async () => {
      const s = ca.standby();
      const holder = spawn("flock", [
        join(s.cadir, ".puppet-multisite-sync.lock"),
        "sh",
        "-c",
        "echo locked; sleep 2",
      ]);
      await new Promise<void>((locked) => holder.stdout.once("data", () => locked()));
      const busy = await sync(s);
      expect(busy.stderr).toMatch(/\[ca-sync\] another copy is running/);
      expect(busy.status).toBe(3);
      expect(active.requests).toEqual([]);
      const waited = await runScript(join(SCRIPTS_DIR, "ca-sync.rb"), s, { args: ["--wait"] });
      expect(holder.exitCode).toBe(0);
      expect(waited.stderr).toMatch(/copied from localhost/);
      expect(waited.status).toBe(0);
    },
  );

  itWithTools(
    TOOLS,
    "a CA fenced by its autosigner copies from the CA its fence record names, not the configured one, keeps what only it knows and lists it",
    async () => {
      // The configured CA_SERVER would fail TLS (the fake CA's certificate names localhost only).
      const s = ca.standby({ CA_SERVER: "127.0.0.1" });
      const reason = "fenced: localhost is the active CA of epoch 1, this CA's is 0";
      writeFileSync(join(s.cadir, "puppet-multisite-standby"), `${reason}\n`);
      writeFileSync(
        join(s.cadir, "puppet-multisite-fence.json"),
        `${JSON.stringify({ active: "localhost", epoch: 1, own_epoch: 0 })}\n`,
      );
      // While it was active: CRL number 7 revoking 0x63 besides the others', and a certificate
      // signed in a partition that the new active CA never saw.
      writeFileSync(join(s.cadir, "ca_crl.pem"), ca.crl(7, [11, 42, 99]));
      const partition = ca.certificate("partition-1.example.com", 98);
      writeFileSync(join(s.cadir, "signed", "partition-1.example.com.pem"), partition.pem);
      active.crl = ca.crl(2 ** 32, [11, 42]);
      const r = await sync(s);
      expect(r.stderr).toMatch(/\[ca-sync\] copied from localhost: 4 certificates/);
      expect(r.stderr).toContain(
        "[ca-sync] unknown to localhost: certificates signed here partition-1.example.com; serials revoked here 0063",
      );
      expect(r.status).toBe(0);
      expect(read(s, "ca_crl.pem")).toBe(active.crl);
      expect(read(s, "signed/partition-1.example.com.pem")).toBe(partition.pem);
      expect(read(s, "puppet-multisite-standby")).toBe(`${reason}\n`);
      expect(JSON.parse(read(s, "puppet-multisite-sync.json"))).toMatchObject({
        source: "localhost",
        signed_only_here: ["partition-1.example.com"],
        revoked_only_here: ["0063"],
      });
    },
  );

  itWithTools(TOOLS, "takes a setting from the environment over host.env", async () => {
    const s = ca.standby({ CA_PORT: "1" });
    const r = await sync(s, { CA_PORT: String(ca.port) });
    expect(r.stderr).toMatch(/copied from localhost/);
    expect(r.status).toBe(0);
  });
});

// The standby CA's promotion (scripts/ca-promote.rb) run for real with Ruby, beside ca-sync.rb as
// user data installs both (0755: the promotion runs the copy for a last time), against the fake
// active CA of fake-ca.ts, or a port nothing listens on when the active CA is lost.
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "fs";
import { AddressInfo, createServer } from "net";
import { join } from "path";
import { beforeAll, describe, expect } from "vitest";
import { SCRIPTS_DIR } from "../../infra/hostconfig";
import { makeCsr, openssl, revokedSerials } from "../../lab/x509";
import { PREFIX, ScriptRun, Standby, TOOLS, files, read, runScript, useFakeCa } from "./fake-ca";
import { STANDBY_CA } from "./fixtures";
import { itWithTools, run } from "./helpers";

const ca = useFakeCa("pm-ca-promote-");
const { active } = ca;

const MARKER = "puppet-multisite-standby";
const EPOCH_FILE = "puppet-multisite-epoch.json";
/** The CRL numbers of epochs 1 and 2: epoch * 2^32. */
const CRL_EPOCH_1 = 2 ** 32;
const CRL_EPOCH_2 = 2 ** 33;
const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** LIB_DIR of the test: ca-sync.rb and ca-promote.rb as user data installs them. */
const lib = join(ca.dir, "lib");
/** The active CA lost: host.env's CA_PORT overridden by a port nothing listens on. */
const lost: Record<string, string> = {};
let pendingRequests: string[] = [];

/** A port nothing listens on: one the system gave out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

beforeAll(async () => {
  mkdirSync(lib);
  for (const name of ["ca-sync.rb", "ca-promote.rb"]) {
    copyFileSync(join(SCRIPTS_DIR, name), join(lib, name));
    chmodSync(join(lib, name), 0o755);
  }
  lost.CA_PORT = String(await closedPort());
  pendingRequests = ["agent-5.example.com", "agent-6.example.com"].map((n) => makeCsr(n));
});

const promote = (s: Standby, opts: { args?: string[]; env?: Record<string, string> } = {}) =>
  runScript(join(lib, "ca-promote.rb"), s, opts);

/** The CA key in the CA directory, as ca.sh installs it on a standby. */
function installKey(s: Standby): void {
  writeFileSync(join(s.cadir, "ca_key.pem"), readFileSync(ca.testCa.key));
}

/**
 * A standby between two copies: the CA key installed, the active CA's records copied (its serial
 * 002B, its CRL number 1 revoking 0B and 2A), infra_crl.pem made from that CRL as ca.sh makes it,
 * two pending requests.
 */
async function copiedStandby(): Promise<Standby> {
  const s = ca.standby();
  installKey(s);
  const r = await runScript(join(lib, "ca-sync.rb"), s);
  expect(r.stderr).toMatch(/copied from localhost/);
  expect(r.status).toBe(0);
  writeFileSync(join(s.cadir, "infra_crl.pem"), read(s, "ca_crl.pem"));
  mkdirSync(join(s.cadir, "requests"));
  pendingRequests.forEach((pem, i) => {
    writeFileSync(join(s.cadir, "requests", `agent-${5 + i}.example.com.pem`), pem);
  });
  active.requests.length = 0;
  return s;
}

/** What a script logged under its tag, without the timestamp; a duration as `N s`. */
function logged(r: ScriptRun, tag: string): string[] {
  return r.stderr.split("\n").flatMap((line) => {
    const m = /^\S+ \[([a-z-]+)\] (.*)$/.exec(line);
    return m?.[1] === tag ? [m[2].replace(/ in \d+\.\d s\./, " in N s.")] : [];
  });
}

/** A CRL as openssl reads it, and whether it verifies against the test CA's certificate. */
function crlView(pem: string) {
  const out = openssl(["crl", "-noout", "-crlnumber", "-lastupdate", "-dateopt", "iso_8601"], pem);
  const field = (name: string) => new RegExp(`^${name}=(.*)$`, "m").exec(out)?.[1] ?? "";
  // openssl crl -CAfile exits 0 on a signature that does not verify too: its message tells.
  const verify = run("openssl", ["crl", "-noout", "-CAfile", ca.testCa.cert], { input: pem });
  return {
    number: Number(field("crlNumber")),
    lastUpdate: Date.parse(field("lastUpdate").replace(" ", "T")),
    revoked: revokedSerials(pem),
    verify: `exit ${verify.status}: ${verify.stderr.trim()}`,
  };
}

/** The files of `after` that are new, changed or gone since `before`, sorted. */
function changed(before: Record<string, string>, after: Record<string, string>): string[] {
  const paths = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...paths].filter((p) => before[p] !== after[p]).sort();
}

/** What a promotion writes, deletes and removes (the marker): every other file stays. */
const PROMOTION_CHANGES = [
  "ca-dir/ca/ca_crl.pem",
  "ca-dir/ca/infra_crl.pem",
  `ca-dir/ca/${EPOCH_FILE}`,
  `ca-dir/ca/${MARKER}`,
  "ca-dir/ca/requests/agent-5.example.com.pem",
  "ca-dir/ca/requests/agent-6.example.com.pem",
  "ca-dir/ca/serial",
  "ssl/crl.pem",
];

const syncedAt = (s: Standby) =>
  (JSON.parse(read(s, "puppet-multisite-sync.json")) as { synced_at: string }).synced_at;

describe("ca-promote.rb", () => {
  itWithTools(
    TOOLS,
    "the active CA lost: epoch 1, serial 1000000, the CRL signed again by the CA with every revocation and number 2^32 in all three places, requests dropped, the epoch recorded, the marker removed, and the log says what is unknown",
    async () => {
      const s = await copiedStandby();
      const oldCrl = read(s, "ca_crl.pem");
      const lastCopy = syncedAt(s);
      const before = files(s);
      const started = Date.now();
      const r = await promote(s, { env: lost });
      expect(logged(r, "ca-sync")).toEqual([
        expect.stringMatching(
          /^the active CA localhost did not answer: Errno::ECONNREFUSED/,
        ) as string,
      ]);
      expect(logged(r, "ca-promote")).toEqual([
        "the active CA localhost did not answer a last copy",
        `${STANDBY_CA} is the active CA: epoch 1, serials from 1000000, CRL number 4294967296 with 2 revocations, in N s. Certificates localhost signed after its last copy here (${lastCopy}) are unknown to this CA`,
      ]);
      expect(r.status).toBe(0);
      expect(read(s, "serial")).toBe("1000000");

      const crl = read(s, "ca_crl.pem");
      const view = crlView(crl);
      expect(view.verify).toBe("exit 0: verify OK");
      expect(revokedSerials(oldCrl)).toEqual(["B", "2A"]);
      expect(view.revoked).toEqual(revokedSerials(oldCrl));
      expect(view.number).toBe(CRL_EPOCH_1);
      // A CRL's dates are in whole seconds.
      expect(view.lastUpdate).toBeGreaterThanOrEqual(started - 1000);
      expect(view.lastUpdate).toBeLessThanOrEqual(Date.now());
      expect(read(s, "infra_crl.pem")).toBe(crl);
      expect(readFileSync(join(s.ssldir, "crl.pem"), "utf8")).toBe(crl);

      expect(readdirSync(join(s.cadir, "requests"))).toEqual([]);
      expect(JSON.parse(read(s, EPOCH_FILE))).toEqual({
        epoch: 1,
        certname: STANDBY_CA,
        promoted_at: expect.stringMatching(ISO_MS) as string,
        first_serial: "1000000",
        crl_number: CRL_EPOCH_1,
        last_copy_of: "localhost",
        last_copy_at: lastCopy,
        revocations: 2,
      });
      expect(existsSync(join(s.cadir, MARKER))).toBe(false);
      expect(changed(before, files(s))).toEqual(PROMOTION_CHANGES);
    },
  );

  itWithTools(
    TOOLS,
    "a CA promoted once before (epoch 1 recorded, serial 1000005) is promoted to epoch 2: serial 2000000, CRL number 2^33",
    async () => {
      const s = await copiedStandby();
      expect((await promote(s, { env: lost })).status).toBe(0);
      // It signed five certificates in epoch 1, and became a standby again.
      writeFileSync(join(s.cadir, "serial"), "1000005");
      writeFileSync(join(s.cadir, MARKER), "");
      const r = await promote(s, { env: lost });
      expect(logged(r, "ca-promote")[1]).toMatch(
        /is the active CA: epoch 2, serials from 2000000, CRL number 8589934592 with 2 revocations/,
      );
      expect(r.status).toBe(0);
      expect(read(s, "serial")).toBe("2000000");
      const view = crlView(read(s, "ca_crl.pem"));
      expect(view).toMatchObject({ number: CRL_EPOCH_2, verify: "exit 0: verify OK" });
      expect(view.revoked).toEqual(["B", "2A"]);
      expect(JSON.parse(read(s, EPOCH_FILE))).toMatchObject({
        epoch: 2,
        first_serial: "2000000",
        crl_number: CRL_EPOCH_2,
      });
      expect(existsSync(join(s.cadir, MARKER))).toBe(false);
    },
  );

  itWithTools(
    TOOLS,
    "a fenced CA (its fence record beside the marker) promoted: both removed, so it signs again",
    async () => {
      const s = await copiedStandby();
      writeFileSync(join(s.cadir, MARKER), "fenced: localhost is the active CA of epoch 1\n");
      writeFileSync(join(s.cadir, "puppet-multisite-fence.json"), '{"active":"localhost"}\n');
      const r = await promote(s, { env: lost });
      expect(r.status).toBe(0);
      expect(existsSync(join(s.cadir, MARKER))).toBe(false);
      expect(existsSync(join(s.cadir, "puppet-multisite-fence.json"))).toBe(false);
    },
  );

  interface EpochCase {
    readonly what: string;
    /** Files of the CA directory written over a copied standby's (made once the test CA is). */
    readonly given: () => Record<string, string>;
    readonly epoch: number;
    readonly serial: string;
    readonly crlNumber: number;
  }
  const EPOCHS: EpochCase[] = [
    {
      what: "serials copied from a CA in epoch 1 (1000005, no epoch recorded here)",
      given: () => ({ serial: "1000005" }),
      epoch: 2,
      serial: "2000000",
      crlNumber: CRL_EPOCH_2,
    },
    {
      what: "a CRL numbered in epoch 1 (2^32 + 1, copied from a CA promoted elsewhere), the serials below it",
      given: () => ({ "ca_crl.pem": ca.crl(2 ** 32 + 1, [11, 42]) }),
      epoch: 2,
      serial: "2000000",
      crlNumber: CRL_EPOCH_2,
    },
    {
      what: "the recorded epoch 3, the serials below it (002B)",
      given: () => ({ [EPOCH_FILE]: `${JSON.stringify({ epoch: 3 })}\n` }),
      epoch: 4,
      serial: "4000000",
      crlNumber: 2 ** 34,
    },
    {
      what: "serials in epoch 126 (7E000001): 127 is the last epoch (Puppet Server reads a signed 32-bit serial)",
      given: () => ({ serial: "7E000001" }),
      epoch: 127,
      serial: "7F000000",
      crlNumber: 127 * 2 ** 32,
    },
  ];
  for (const { what, given, epoch, serial, crlNumber } of EPOCHS) {
    itWithTools(
      TOOLS,
      `${what}: promoted to epoch ${epoch}, serial ${serial}, CRL number ${crlNumber}`,
      async () => {
        const s = await copiedStandby();
        for (const [file, content] of Object.entries(given())) {
          writeFileSync(join(s.cadir, file), content);
        }
        const r = await promote(s, { env: lost });
        expect(r.status).toBe(0);
        expect(read(s, "serial")).toBe(serial);
        expect(crlView(read(s, "ca_crl.pem")).number).toBe(crlNumber);
        expect(JSON.parse(read(s, EPOCH_FILE))).toMatchObject({ epoch, first_serial: serial });
      },
    );
  }

  itWithTools(
    TOOLS,
    "the active CA answers the last copy: refuses (it is alive, --force for a planned switch) and changes nothing but the copy's state",
    async () => {
      const s = await copiedStandby();
      const before = files(s);
      const r = await promote(s);
      expect(logged(r, "ca-sync")).toEqual([
        expect.stringMatching(
          /^copied from localhost: 4 certificates \(0 fetched, 0 removed\)/,
        ) as string,
      ]);
      expect(logged(r, "ca-promote")).toEqual([
        "ERROR: the active CA localhost answered a last copy: it is alive, and promoting now would make two CAs sign. Stop it first, or run again with --force for a planned switch",
      ]);
      expect(r.status).toBe(1);
      expect(active.requests.map((q) => q.path)).toContain(
        `GET ${PREFIX}certificate_revocation_list/ca`,
      );
      expect(changed(before, files(s))).toEqual(["ca-dir/ca/puppet-multisite-sync.json"]);
      expect(existsSync(join(s.cadir, MARKER))).toBe(true);
      expect(read(s, "serial")).toBe("002B");
      expect(read(s, "ca_crl.pem")).toBe(ca.base.crl);
    },
  );

  itWithTools(
    TOOLS,
    "--force with the active CA answering: the last copy first (a standby that had none), then the promotion from it",
    async () => {
      const s = ca.standby();
      installKey(s);
      const r = await promote(s, { args: ["--force"] });
      expect(logged(r, "ca-sync")).toEqual([
        expect.stringMatching(
          /^copied from localhost: 4 certificates \(4 fetched, 0 removed\)/,
        ) as string,
      ]);
      expect(logged(r, "ca-promote")).toEqual([
        "--force: promoting though localhost answered; it must stop signing",
        `${STANDBY_CA} is the active CA: epoch 1, serials from 1000000, CRL number 4294967296 with 2 revocations, in N s. Certificates localhost signed after its last copy here (${syncedAt(s)}) are unknown to this CA`,
      ]);
      expect(r.status).toBe(0);
      expect(readdirSync(join(s.cadir, "signed"))).toHaveLength(4);
      expect(read(s, "serial")).toBe("1000000");
      const view = crlView(read(s, "ca_crl.pem"));
      expect(view).toMatchObject({ number: CRL_EPOCH_1, verify: "exit 0: verify OK" });
      expect(view.revoked).toEqual(["B", "2A"]);
      expect(JSON.parse(read(s, EPOCH_FILE))).toMatchObject({
        epoch: 1,
        last_copy_of: "localhost",
      });
      expect(existsSync(join(s.cadir, MARKER))).toBe(false);
    },
  );

  itWithTools(
    TOOLS,
    "the active CA answers but the last copy fails (its CRL not the CA's): refuses, as it is alive; --force promotes from the copy it had",
    async () => {
      const s = await copiedStandby();
      active.crl = ca.crl(2, [11, 42], ca.otherCa);
      const before = files(s);
      const r = await promote(s);
      expect(logged(r, "ca-sync")).toEqual([
        "could not copy from localhost: RuntimeError: the CRL does not verify against the CA certificate",
      ]);
      expect(logged(r, "ca-promote")).toEqual([
        "ERROR: the active CA localhost answered, though the last copy failed (see above): it is alive, and promoting now would make two CAs sign. Stop it first, or run again with --force for a planned switch",
      ]);
      expect(r.status).toBe(1);
      expect(files(s)).toEqual(before);

      const forced = await promote(s, { args: ["--force"] });
      expect(logged(forced, "ca-promote")[0]).toBe(
        "--force: promoting though localhost answered; it must stop signing",
      );
      expect(forced.status).toBe(0);
      expect(read(s, "serial")).toBe("1000000");
      expect(crlView(read(s, "ca_crl.pem")).revoked).toEqual(["B", "2A"]);
    },
  );

  itWithTools(
    TOOLS,
    "no ca-sync.rb beside it: refuses (nothing showed the active CA is gone) and changes no file",
    async () => {
      const s = await copiedStandby();
      const alone = join(ca.dir, "lib-without-sync");
      mkdirSync(alone, { recursive: true });
      copyFileSync(join(lib, "ca-promote.rb"), join(alone, "ca-promote.rb"));
      const before = files(s);
      const r = await runScript(join(alone, "ca-promote.rb"), s, { env: lost });
      expect(logged(r, "ca-promote")).toEqual([
        expect.stringMatching(
          /^ERROR: cannot make a last copy: no \S+\/lib-without-sync\/ca-sync\.rb$/,
        ) as string,
      ]);
      expect(r.status).toBe(1);
      expect(files(s)).toEqual(before);
    },
  );

  interface Refusal {
    readonly what: string;
    readonly change: (s: Standby) => void;
    readonly args?: string[];
    /** Refused before the last copy, with the active CA up: it must not be asked anything. */
    readonly beforeCopy: boolean;
    readonly reason: RegExp;
  }
  const REFUSED: Refusal[] = [
    {
      what: "a CA without the standby marker",
      change: (s) => rmSync(join(s.cadir, MARKER)),
      beforeCopy: true,
      reason:
        /^ERROR: ca\.site-b\.\S+ is not a standby CA \(no \S+\/ca-dir\/ca\/puppet-multisite-standby\): it signs already$/,
    },
    {
      what: "an unknown argument",
      change: () => undefined,
      args: ["--forse"],
      beforeCopy: true,
      reason: /^ERROR: usage: ca-promote\.rb \[--force \| --step-down\]; unknown argument --forse$/,
    },
    {
      what: "--force with --step-down",
      change: () => undefined,
      args: ["--force", "--step-down"],
      beforeCopy: true,
      reason: /^ERROR: usage: ca-promote\.rb \[--force \| --step-down\]; not both$/,
    },
    {
      what: "--step-down on a CA that signs nothing already",
      change: () => undefined,
      args: ["--step-down"],
      beforeCopy: true,
      reason:
        /^ERROR: ca\.site-b\.\S+ signs nothing already \(\S+puppet-multisite-standby\): it is the standby$/,
    },
    {
      what: "a CRL that does not verify against the CA certificate",
      change: (s) => writeFileSync(join(s.cadir, "ca_crl.pem"), ca.crl(2, [11, 42], ca.otherCa)),
      beforeCopy: false,
      reason: /^ERROR: \S+\/ca-dir\/ca\/ca_crl\.pem does not verify against the CA certificate$/,
    },
    {
      what: "a CA key that is not the CA certificate's",
      change: (s) => writeFileSync(join(s.cadir, "ca_key.pem"), readFileSync(ca.otherCa.key)),
      beforeCopy: false,
      reason: /^ERROR: \S+\/ca-dir\/ca\/ca_key\.pem is not the key of ca_crt\.pem$/,
    },
    {
      what: "an epoch past 127 (serial 7F000001)",
      change: (s) => writeFileSync(join(s.cadir, "serial"), "7F000001"),
      beforeCopy: false,
      reason: /^ERROR: epoch 128 would pass 127: Puppet Server's serials are 32-bit$/,
    },
  ];
  for (const { what, change, args, beforeCopy, reason } of REFUSED) {
    itWithTools(
      TOOLS,
      `refuses ${what}: exit 1, says why, asks the active CA nothing and changes no file`,
      async () => {
        const s = await copiedStandby();
        change(s);
        const before = files(s);
        const r = await promote(s, { args, env: beforeCopy ? {} : lost });
        expect(logged(r, "ca-promote")).toEqual([
          ...(beforeCopy ? [] : ["the active CA localhost did not answer a last copy"]),
          expect.stringMatching(reason) as string,
        ]);
        expect(r.status).toBe(1);
        expect(active.requests).toEqual([]);
        expect(files(s)).toEqual(before);
      },
    );
  }

  itWithTools(
    TOOLS,
    "--step-down: the marker and a fence record naming the peer, so it signs nothing and copies from it",
    async () => {
      const s = ca.standby({ CA_PEERS: "ca.example.com" });
      rmSync(join(s.cadir, MARKER));
      const before = files(s);
      const r = await promote(s, { args: ["--step-down"] });
      expect(r.status, r.stderr).toBe(0);
      const reason =
        "stepped down for ca.example.com: it signs nothing until ca-promote.rb makes it the active CA again";
      expect(logged(r, "ca-promote")).toEqual([
        `${STANDBY_CA} ${reason}. Now run ca-promote.rb --force on ca.example.com`,
      ]);
      expect(changed(before, files(s))).toEqual([
        "ca-dir/ca/puppet-multisite-fence.json",
        `ca-dir/ca/${MARKER}`,
      ]);
      expect(read(s, MARKER)).toBe(`${reason}\n`);
      const fence = JSON.parse(read(s, "puppet-multisite-fence.json")) as Record<string, string>;
      expect(fence.active).toBe("ca.example.com");
      expect(fence.stepped_down_at).toMatch(ISO_MS);
      expect(active.requests).toEqual([]);
    },
  );

  itWithTools(TOOLS, "--step-down refuses without exactly one peer", async () => {
    for (const peers of ["", "ca.example.com ca.site-c.example.com"]) {
      const s = ca.standby({ CA_PEERS: peers });
      rmSync(join(s.cadir, MARKER));
      const before = files(s);
      const r = await promote(s, { args: ["--step-down"] });
      expect(r.status).toBe(1);
      expect(logged(r, "ca-promote")).toEqual([
        `ERROR: ${STANDBY_CA} has ${peers.split(" ").filter((p) => p).length} peer CAs (CA_PEERS): --step-down hands over to one`,
      ]);
      expect(files(s)).toEqual(before);
    }
  });
});

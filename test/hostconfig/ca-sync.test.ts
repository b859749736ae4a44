// The standby CA's copy of the active CA's records (scripts/ca-sync.rb) run for real with Ruby. A
// local HTTPS server with client certificates answers as puppetserver 7's CA API does: the
// certificate statuses, each certificate and the CRL, all made by openssl with a test CA.
import { spawn } from "child_process";
import { X509Certificate } from "crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "fs";
import { IncomingMessage, ServerResponse } from "http";
import { Server, createServer } from "https";
import { AddressInfo } from "net";
import { TLSSocket } from "tls";
import { tmpdir } from "os";
import { join } from "path";
import { afterAll, beforeAll, beforeEach, describe, expect } from "vitest";
import { SCRIPTS_DIR } from "../../infra/hostconfig";
import { makeCa, newKeyRequest, openssl, signCsr } from "../../lab/x509";
import { STANDBY_CA } from "./fixtures";
import { itWithTools } from "./helpers";

const TOOLS = ["ruby", "openssl"];
const dir = mkdtempSync(join(tmpdir(), "pm-ca-sync-"));

interface Ca {
  key: string;
  cert: string;
}
const testCa: Ca = { key: join(dir, "ca.key"), cert: join(dir, "ca.pem") };
const otherCa: Ca = { key: join(dir, "other-ca.key"), cert: join(dir, "other-ca.pem") };

interface Issued {
  name: string;
  serial: number;
  pem: string;
}

/** A certificate for `cn` with `serial`, signed by `ca` (the test CA); its key in `<cn>.key`. */
function certificate(cn: string, serial: number, ext: string[] = [], ca = testCa): Issued {
  const csr = openssl([...newKeyRequest(join(dir, `${cn}.key`)), "-subj", `/CN=${cn}`]);
  return { name: cn, serial, pem: signCsr({ csr, caCert: ca.cert, caKey: ca.key, serial, ext }) };
}

/** A CRL of `ca` with CRL number `number`, revoking `serials`, made as ca.sh makes the first one. */
function crl(number: number, serials: readonly number[], ca = testCa): string {
  const work = mkdtempSync(join(dir, "crl-"));
  const evenHex = (n: number) => n.toString(16).toUpperCase().padStart(4, "0");
  try {
    writeFileSync(
      join(work, "index.txt"),
      serials
        .map((s) => `R\t301231000000Z\t240101000000Z\t${evenHex(s)}\tunknown\t/CN=revoked-${s}\n`)
        .join(""),
    );
    writeFileSync(join(work, "crlnumber"), `${evenHex(number)}\n`);
    writeFileSync(
      join(work, "openssl.cnf"),
      [
        "[ca]",
        "default_ca = puppet_ca",
        "[puppet_ca]",
        `database = ${join(work, "index.txt")}`,
        `crlnumber = ${join(work, "crlnumber")}`,
        "default_md = sha256",
        "default_crl_days = 3650",
        "crl_extensions = crl_ext",
        "[crl_ext]",
        "authorityKeyIdentifier = keyid:always",
        "",
      ].join("\n"),
    );
    const config = join(work, "openssl.cnf");
    return openssl([
      "ca",
      "-batch",
      "-gencrl",
      "-config",
      config,
      "-keyfile",
      ca.key,
      "-cert",
      ca.cert,
    ]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** openssl's view of a certificate as Puppet Server's inventory line. */
function inventoryLine(pem: string): string {
  const view = ["-serial", "-startdate", "-enddate", "-subject", "-dateopt", "iso_8601"];
  const out = openssl(["x509", "-noout", ...view, "-nameopt", "compat"], pem);
  const field = (name: string) => new RegExp(`^${name}=(.*)$`, "m").exec(out)?.[1] ?? "";
  const date = (iso: string) => iso.replace(" ", "T").replace(/Z$/, "UTC");
  const serial = field("serial").padStart(4, "0");
  return `0x${serial} ${date(field("notBefore"))} ${date(field("notAfter"))} ${field("subject")}\n`;
}

/** A status the active CA lists: a pending request, or a certificate (its served PEM and serial). */
interface Listed {
  name: string;
  state: "requested" | "signed" | "revoked";
  pem?: string;
  serial?: number;
}

const listed = (c: Issued, state: "signed" | "revoked" = "signed"): Listed => ({ ...c, state });

/** One status as puppetserver 7 writes it: serial and dates for certificates only. */
function statusJson(s: Listed): Record<string, unknown> {
  const x = s.pem ? new X509Certificate(s.pem) : undefined;
  // A request's fingerprint is its CSR's; nothing here reads it.
  const fingerprint = x?.fingerprint256 ?? "0A:1B";
  const status = {
    name: s.name,
    state: s.state,
    dns_alt_names: [],
    subject_alt_names: [],
    authorization_extensions: {},
    fingerprint,
    fingerprints: { SHA1: x?.fingerprint, SHA256: fingerprint, default: fingerprint },
  };
  if (!s.pem) return status;
  const [, notBefore, notAfter] = inventoryLine(s.pem).split(" ");
  return { ...status, not_after: notAfter, not_before: notBefore, serial_number: s.serial };
}

interface Request {
  path: string;
  client?: string;
}

/** The active CA: what it lists and serves, and each request it was sent. */
const active = { statuses: [] as Listed[], crl: "", requests: [] as Request[] };
let server: Server;
let port: number;

const PREFIX = "/puppet-ca/v1/";
function answer(url: string): [number, string] {
  if (url === `${PREFIX}certificate_statuses/any`) {
    return [200, JSON.stringify(active.statuses.map(statusJson))];
  }
  if (url === `${PREFIX}certificate_revocation_list/ca`) return [200, active.crl];
  const name = url.startsWith(`${PREFIX}certificate/`)
    ? decodeURIComponent(url.slice(`${PREFIX}certificate/`.length))
    : undefined;
  const found = active.statuses.find((s) => s.name === name && s.pem);
  return found?.pem ? [200, found.pem] : [404, `Could not find certificate ${name}`];
}

// The active CA's records: its own host, the standby, an agent, a revoked agent, a pending request,
// and a certificate cleaned there whose serial (42) only its CRL still holds.
let localhost: Issued;
let standbyCert: Issued;
let agent1: Issued;
let agent2: Issued;
let baseStatuses: Listed[];
let baseCrl: string;

beforeAll(async () => {
  makeCa({ key: testCa.key, cert: testCa.cert, cn: "Test Puppet CA" });
  makeCa({ key: otherCa.key, cert: otherCa.cert, cn: "Another CA" });
  localhost = certificate("localhost", 2, [
    "subjectAltName = DNS:localhost",
    "extendedKeyUsage = serverAuth,clientAuth",
  ]);
  standbyCert = certificate(STANDBY_CA, 3, [
    `subjectAltName = DNS:${STANDBY_CA}`,
    "extendedKeyUsage = serverAuth,clientAuth",
    "1.3.6.1.4.1.34380.1.3.39 = ASN1:UTF8String:true",
  ]);
  agent1 = certificate("agent-1.example.com", 10);
  agent2 = certificate("agent-2.example.com", 11);
  baseStatuses = [
    { name: "agent-3.example.com", state: "requested" },
    listed(localhost),
    listed(standbyCert),
    listed(agent1),
    listed(agent2, "revoked"),
  ];
  baseCrl = crl(1, [11, 42]);
  server = createServer(
    {
      key: readFileSync(join(dir, "localhost.key")),
      cert: localhost.pem,
      ca: readFileSync(testCa.cert),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req: IncomingMessage, res: ServerResponse) => {
      const cn = (req.socket as TLSSocket).getPeerCertificate().subject?.CN;
      active.requests.push({
        path: `${req.method} ${req.url}`,
        client: Array.isArray(cn) ? cn.join(",") : cn,
      });
      const [status, body] = answer(req.url ?? "");
      res.writeHead(status, { "Content-Type": "text/plain" });
      res.end(body);
    },
  );
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((done) => server.close(() => done()));
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  active.statuses = [...baseStatuses];
  active.crl = baseCrl;
  active.requests.length = 0;
});

/** A standby CA host as ca.sh leaves it before the first copy: its own certificate, the CA's. */
interface Standby {
  conf: string;
  ssldir: string;
  cadir: string;
}

function standby(hostEnv: Record<string, string> = {}): Standby {
  const root = mkdtempSync(join(dir, "standby-"));
  const s = { conf: join(root, "conf"), ssldir: join(root, "ssl"), cadir: join(root, "ca-dir/ca") };
  for (const d of [s.conf, join(s.ssldir, "certs"), join(s.ssldir, "private_keys")]) {
    mkdirSync(d, { recursive: true });
  }
  mkdirSync(join(s.cadir, "signed"), { recursive: true });
  writeFileSync(join(s.ssldir, "certs", `${STANDBY_CA}.pem`), standbyCert.pem);
  writeFileSync(
    join(s.ssldir, "private_keys", `${STANDBY_CA}.pem`),
    readFileSync(join(dir, `${STANDBY_CA}.key`)),
  );
  writeFileSync(join(s.ssldir, "certs", "ca.pem"), readFileSync(testCa.cert));
  writeFileSync(join(s.cadir, "ca_crt.pem"), readFileSync(testCa.cert));
  writeFileSync(join(s.cadir, "puppet-multisite-standby"), "");
  writeFileSync(join(s.cadir, "inventory.txt"), "");
  const settings = {
    CERTNAME: STANDBY_CA,
    CA_SERVER: "localhost",
    CA_PORT: String(port),
    PUPPET_SSLDIR: s.ssldir,
    PUPPETSERVER_DIR: join(root, "ca-dir"),
    ...hostEnv,
  };
  writeFileSync(
    join(s.conf, "host.env"),
    Object.entries(settings)
      .map(([k, v]) => `${k}='${v}'\n`)
      .join(""),
  );
  return s;
}

/** Runs ca-sync.rb as its timer does; asynchronous, so the test's CA server can answer. */
function sync(
  s: Standby,
  env: Record<string, string> = {},
): Promise<{ status: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn("ruby", [join(SCRIPTS_DIR, "ca-sync.rb")], {
      env: { PATH: process.env.PATH, PUPPET_MULTISITE_CONF_DIR: s.conf, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (status) => done({ status, stderr }));
  });
}

async function synced(s: Standby): Promise<void> {
  const r = await sync(s);
  expect(r.stderr).toMatch(/copied from localhost/);
  expect(r.status).toBe(0);
  active.requests.length = 0;
}

const read = (s: Standby, file: string) => readFileSync(join(s.cadir, file), "utf8");

/** Every file below the standby's CA and SSL directories with its content (the lock aside). */
function files(s: Standby): Record<string, string> {
  const all: Record<string, string> = {};
  for (const root of [s.cadir, s.ssldir]) {
    for (const f of readdirSync(root, { recursive: true, encoding: "utf8" })) {
      const path = join(root, f);
      if (statSync(path).isFile() && !f.endsWith(".lock")) all[path] = readFileSync(path, "utf8");
    }
  }
  return all;
}

const fetchedCertificates = () =>
  active.requests.filter((r) => r.path.includes("/certificate/")).map((r) => r.path);

describe("ca-sync.rb", () => {
  itWithTools(
    TOOLS,
    "first copy: every signed and revoked certificate as served, an inventory line each, the serial past every serial seen (the CRL's too), the CRL and its state; pending requests ignored",
    async () => {
      const s = standby();
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
      expect(read(s, "ca_crl.pem")).toBe(baseCrl);
      expect(readFileSync(join(s.ssldir, "crl.pem"), "utf8")).toBe(baseCrl);
      expect(JSON.parse(read(s, "puppet-multisite-sync.json"))).toEqual({
        source: "localhost",
        synced_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as string,
        certificates: { localhost: 2, [STANDBY_CA]: 3, [agent1.name]: 10, [agent2.name]: 11 },
        next_serial: 43,
        crl_number: 1,
        revoked: 2,
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
      const s = standby();
      await synced(s);
      const inventory = read(s, "inventory.txt");
      const again = await sync(s);
      expect(again.status).toBe(0);
      expect(again.stderr).toMatch(/4 certificates \(0 fetched, 0 removed\), next serial 002B/);
      expect(fetchedCertificates()).toEqual([]);
      expect(read(s, "inventory.txt")).toBe(inventory);

      active.requests.length = 0;
      const fresh = certificate("agent-4.example.com", 44);
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
      const s = standby();
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
      const s = standby();
      await synced(s);
      const inventory = read(s, "inventory.txt");
      // `puppetserver ca clean` revokes, then deletes the file: the status goes, the CRL grows.
      active.statuses = active.statuses.filter((c) => c.name !== agent1.name);
      active.crl = crl(2, [10, 11, 42]);
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
      () => active.statuses.push(listed(certificate("rogue.example.com", 13, [], otherCa))),
      /the certificate of rogue\.example\.com does not verify against the CA certificate/,
    ],
    [
      "a certificate whose serial is not its status's",
      () => active.statuses.push({ ...listed(certificate("agent-5.example.com", 14)), serial: 15 }),
      /the certificate of agent-5\.example\.com has serial 14, its status says 15/,
    ],
    [
      "a CRL the CA did not sign",
      () => (active.crl = crl(2, [11, 42], otherCa)),
      /the CRL does not verify against the CA certificate/,
    ],
    [
      "a CRL with a lower CRL number than the installed one",
      () => (active.crl = crl(0, [11, 42])),
      /the active CA's CRL \(number 0\) is older than ours \(1\): is the other CA the one promoted\?/,
    ],
  ];
  for (const [what, change, reason] of REFUSED) {
    itWithTools(
      TOOLS,
      `refuses ${what}, says why and leaves a synced standby's files as they were`,
      async () => {
        const s = standby();
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
    "skips a status whose certname is not a certname (../), saying so, and never makes it a path or a request",
    async () => {
      const s = standby();
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
      const s = standby();
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
    const s = standby();
    writeFileSync(join(s.cadir, "serial"), "0100");
    const r = await sync(s);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/next serial 0100/);
    expect(read(s, "serial")).toBe("0100");
    expect(JSON.parse(read(s, "puppet-multisite-sync.json"))).toMatchObject({ next_serial: 256 });
  });

  itWithTools(TOOLS, "takes a setting from the environment over host.env", async () => {
    const s = standby({ CA_PORT: "1" });
    const r = await sync(s, { CA_PORT: String(port) });
    expect(r.stderr).toMatch(/copied from localhost/);
    expect(r.status).toBe(0);
  });
});

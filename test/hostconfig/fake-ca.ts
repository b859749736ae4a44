// The active CA a standby copies from, for the standby's Ruby scripts (ca-sync.rb, ca-promote.rb)
// run for real: a local HTTPS server with client certificates answers as puppetserver 7's CA API
// does (the certificate statuses, each certificate and the CRL, all made by openssl with a test CA),
// and a standby CA host's directories as ca.sh leaves them before the first copy.
import { spawn } from "child_process";
import { X509Certificate } from "crypto";
import {
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
import { join, relative } from "path";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { makeCa, makeCrl, newKeyRequest, openssl, signCsr } from "../../lab/x509";
import { STANDBY_CA } from "./fixtures";

/** What the scripts and the fake CA need installed. */
export const TOOLS = ["ruby", "openssl"];

/** The path prefix of Puppet Server's CA API. */
export const PREFIX = "/puppet-ca/v1/";
/** The second CA's name: curl resolves every `*.localhost` name to loopback itself. */
export const PEER_CA = "peer-ca.localhost";

export interface Ca {
  readonly key: string;
  readonly cert: string;
}

export interface Issued {
  readonly name: string;
  readonly serial: number;
  readonly pem: string;
}

/** A status the active CA lists: a pending request, or a certificate (its served PEM and serial). */
export interface Listed {
  readonly name: string;
  readonly state: "requested" | "signed" | "revoked";
  readonly pem?: string;
  readonly serial?: number;
}

export const listed = (c: Issued, state: "signed" | "revoked" = "signed"): Listed => ({
  ...c,
  state,
});

/** A request the active CA was sent, and the CN of the client certificate it came with. */
export interface Request {
  readonly path: string;
  readonly client?: string;
}

/**
 * The active CA's records before each test: its own host (serial 2), the standby (3), an agent (10),
 * a revoked agent (11), a pending request, and a certificate cleaned there whose serial (42) only
 * its CRL (number 1) still holds.
 */
export interface BaseRecords {
  readonly localhost: Issued;
  readonly standbyCert: Issued;
  readonly agent1: Issued;
  readonly agent2: Issued;
  readonly statuses: readonly Listed[];
  readonly crl: string;
}

/** A standby CA host's directories below `root`. */
export interface Standby {
  readonly root: string;
  /** PUPPET_MULTISITE_CONF_DIR: host.env. */
  readonly conf: string;
  readonly ssldir: string;
  readonly cadir: string;
}

export interface ScriptRun {
  readonly status: number | null;
  readonly stderr: string;
  readonly stdout: string;
}

/** openssl's view of a certificate as Puppet Server's inventory line. */
export function inventoryLine(pem: string): string {
  const view = ["-serial", "-startdate", "-enddate", "-subject", "-dateopt", "iso_8601"];
  const out = openssl(["x509", "-noout", ...view, "-nameopt", "compat"], pem);
  const field = (name: string) => new RegExp(`^${name}=(.*)$`, "m").exec(out)?.[1] ?? "";
  const date = (iso: string) => iso.replace(" ", "T").replace(/Z$/, "UTC");
  const serial = field("serial").padStart(4, "0");
  return `0x${serial} ${date(field("notBefore"))} ${date(field("notAfter"))} ${field("subject")}\n`;
}

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

/** The test CA, the active CA's server and the standby hosts of one test file, all below `dir`. */
export class FakeCa {
  readonly dir: string;
  readonly testCa: Ca;
  /** A CA the standby does not trust, for what must be refused. */
  readonly otherCa: Ca;
  /** What the active CA lists and serves, and each request it was sent; reset before each test. */
  readonly active = { statuses: [] as Listed[], crl: "", requests: [] as Request[] };
  /**
   * The CRL a second CA serves, at `PEER_CA` (a name curl resolves to loopback, in the server's
   * certificate too): a standby's copy, or a promoted CA's. Reset to the active CA's.
   */
  peerCrl = "";
  private records?: BaseRecords;
  private server?: Server;

  constructor(prefix: string) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.testCa = { key: join(this.dir, "ca.key"), cert: join(this.dir, "ca.pem") };
    this.otherCa = { key: join(this.dir, "other-ca.key"), cert: join(this.dir, "other-ca.pem") };
  }

  get base(): BaseRecords {
    if (!this.records) throw new Error("the fake CA has not started: call useFakeCa() in the file");
    return this.records;
  }

  /** The port the active CA listens on, at 127.0.0.1 ("localhost" in its certificate). */
  get port(): number {
    if (!this.server) throw new Error("the fake CA has not started: call useFakeCa() in the file");
    return (this.server.address() as AddressInfo).port;
  }

  async start(): Promise<void> {
    makeCa({ key: this.testCa.key, cert: this.testCa.cert, cn: "Test Puppet CA" });
    makeCa({ key: this.otherCa.key, cert: this.otherCa.cert, cn: "Another CA" });
    const localhost = this.certificate("localhost", 2, [
      `subjectAltName = DNS:localhost, DNS:${PEER_CA}`,
      "extendedKeyUsage = serverAuth,clientAuth",
    ]);
    const standbyCert = this.certificate(STANDBY_CA, 3, [
      `subjectAltName = DNS:${STANDBY_CA}`,
      "extendedKeyUsage = serverAuth,clientAuth",
      "1.3.6.1.4.1.34380.1.3.39 = ASN1:UTF8String:true",
    ]);
    const agent1 = this.certificate("agent-1.example.com", 10);
    const agent2 = this.certificate("agent-2.example.com", 11);
    this.records = {
      localhost,
      standbyCert,
      agent1,
      agent2,
      statuses: [
        { name: "agent-3.example.com", state: "requested" },
        listed(localhost),
        listed(standbyCert),
        listed(agent1),
        listed(agent2, "revoked"),
      ],
      crl: this.crl(1, [11, 42]),
    };
    const server = createServer(
      {
        key: readFileSync(join(this.dir, "localhost.key")),
        cert: localhost.pem,
        ca: readFileSync(this.testCa.cert),
        // As Puppet Server: a client certificate is asked for, and only the CRL is served without.
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req: IncomingMessage, res: ServerResponse) => {
        const socket = req.socket as TLSSocket;
        const cn = socket.authorized ? socket.getPeerCertificate().subject?.CN : undefined;
        this.active.requests.push({
          path: `${req.method} ${req.url}`,
          client: Array.isArray(cn) ? cn.join(",") : cn,
        });
        const open = req.url === `${PREFIX}certificate_revocation_list/ca`;
        const peer = req.headers.host?.split(":")[0] === PEER_CA;
        const [status, body] =
          open && peer
            ? [200, this.peerCrl]
            : socket.authorized || open
              ? this.answer(req.url ?? "")
              : [403, "Forbidden request"];
        res.writeHead(status, { "Content-Type": "text/plain" });
        res.end(body);
      },
    );
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server) await new Promise<void>((done) => server.close(() => done()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Before each test: the base records, no request yet. */
  reset(): void {
    this.active.statuses = [...this.base.statuses];
    this.active.crl = this.base.crl;
    this.peerCrl = this.base.crl;
    this.active.requests.length = 0;
  }

  private answer(url: string): [number, string] {
    if (url === `${PREFIX}certificate_statuses/any`) {
      return [200, JSON.stringify(this.active.statuses.map(statusJson))];
    }
    if (url === `${PREFIX}certificate_revocation_list/ca`) return [200, this.active.crl];
    const name = url.startsWith(`${PREFIX}certificate/`)
      ? decodeURIComponent(url.slice(`${PREFIX}certificate/`.length))
      : undefined;
    const found = this.active.statuses.find((s) => s.name === name && s.pem);
    return found?.pem ? [200, found.pem] : [404, `Could not find certificate ${name}`];
  }

  /** A certificate for `cn` with `serial`, signed by `ca` (the test CA); its key in `<cn>.key`. */
  certificate(cn: string, serial: number, ext: string[] = [], ca = this.testCa): Issued {
    const csr = openssl([...newKeyRequest(join(this.dir, `${cn}.key`)), "-subj", `/CN=${cn}`]);
    return { name: cn, serial, pem: signCsr({ csr, caCert: ca.cert, caKey: ca.key, serial, ext }) };
  }

  /** A CRL of `ca` with CRL number `number`, revoking `serials`, made as ca.sh makes the first one. */
  crl(number: number, serials: readonly number[], ca = this.testCa): string {
    return makeCrl({ caKey: ca.key, caCert: ca.cert, number, serials });
  }

  /**
   * A standby CA host as ca.sh leaves it before the first copy: its own certificate, the CA's, the
   * standby marker and an empty inventory; host.env points at the active CA, `hostEnv` over it.
   */
  standby(hostEnv: Record<string, string> = {}): Standby {
    const root = mkdtempSync(join(this.dir, "standby-"));
    const s = {
      root,
      conf: join(root, "conf"),
      ssldir: join(root, "ssl"),
      cadir: join(root, "ca-dir/ca"),
    };
    for (const d of [s.conf, join(s.ssldir, "certs"), join(s.ssldir, "private_keys")]) {
      mkdirSync(d, { recursive: true });
    }
    mkdirSync(join(s.cadir, "signed"), { recursive: true });
    writeFileSync(join(s.ssldir, "certs", `${STANDBY_CA}.pem`), this.base.standbyCert.pem);
    writeFileSync(
      join(s.ssldir, "private_keys", `${STANDBY_CA}.pem`),
      readFileSync(join(this.dir, `${STANDBY_CA}.key`)),
    );
    writeFileSync(join(s.ssldir, "certs", "ca.pem"), readFileSync(this.testCa.cert));
    writeFileSync(join(s.cadir, "ca_crt.pem"), readFileSync(this.testCa.cert));
    writeFileSync(join(s.cadir, "puppet-multisite-standby"), "");
    writeFileSync(join(s.cadir, "inventory.txt"), "");
    const settings = {
      CERTNAME: STANDBY_CA,
      CA_SERVER: "localhost",
      CA_PORT: String(this.port),
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
}

/** The fake CA of a test file: started before its tests, reset before each, removed after. */
export function useFakeCa(prefix: string): FakeCa {
  const ca = new FakeCa(prefix);
  beforeAll(() => ca.start());
  afterAll(() => ca.stop());
  beforeEach(() => ca.reset());
  return ca;
}

/**
 * Runs a script of a host (`script`, a path; Ruby unless `interpreter` says otherwise) with its host.env, an environment of PATH and
 * `env` only; asynchronous, so the fake CA in this process can answer.
 */
export function runScript(
  script: string,
  s: Standby,
  opts: {
    readonly args?: readonly string[];
    readonly env?: Record<string, string>;
    /** What runs the script. Default ruby. */
    readonly interpreter?: string;
  } = {},
): Promise<ScriptRun> {
  return new Promise((done) => {
    const child = spawn(opts.interpreter ?? "ruby", [script, ...(opts.args ?? [])], {
      env: { PATH: process.env.PATH, PUPPET_MULTISITE_CONF_DIR: s.conf, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (status) => done({ status, stderr, stdout }));
  });
}

/** A file of the standby's CA directory. */
export const read = (s: Standby, file: string) => readFileSync(join(s.cadir, file), "utf8");

/**
 * Every file below the standby's CA and SSL directories with its content, by its path below the
 * standby's root (`ca-dir/ca/serial`, `ssl/crl.pem`); the lock aside, which holds nothing.
 */
export function files(s: Standby): Record<string, string> {
  const all: Record<string, string> = {};
  for (const dir of [s.cadir, s.ssldir]) {
    for (const f of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
      const full = join(dir, f);
      if (statSync(full).isFile() && !f.endsWith(".lock")) {
        all[relative(s.root, full)] = readFileSync(full, "utf8");
      }
    }
  }
  return all;
}

// The CA pin: the fingerprint rendered into host.env is the one openssl computes, and lib.sh's
// fetch_ca_certificate installs the CA's certificate only when it carries that fingerprint. The
// script runs for real against an HTTPS server on loopback; a .curlrc (CURL_HOME) sends its
// connection to port 8140 there.
import { ChildProcess, spawn } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { afterAll, describe, expect, it } from "vitest";
import { SCRIPTS_DIR } from "../../infra/hostconfig";
import { caFingerprint } from "../../infra/hostconfig/ca-pin";
import { caCertificatePem } from "./fixtures";
import { itWithTools, run } from "./helpers";

const work = mkdtempSync(join(tmpdir(), "pm-ca-pin-"));

/** A self-signed certificate and its key, made by openssl in `dir`. */
function selfSigned(dir: string, cn: string): { cert: string; key: string } {
  const cert = join(dir, `${cn}.pem`);
  const key = join(dir, `${cn}.key`);
  const r = run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/CN=${cn}`,
    "-keyout",
    key,
    "-out",
    cert,
  ]);
  if (r.status !== 0) throw new Error(r.stderr);
  return { cert, key };
}

describe("caFingerprint", () => {
  itWithTools(["openssl"], "is what openssl x509 -fingerprint -sha256 prints", () => {
    const dir = mkdtempSync(join(work, "fp-"));
    writeFileSync(join(dir, "ca.pem"), caCertificatePem);
    const r = run("openssl", [
      "x509",
      "-in",
      join(dir, "ca.pem"),
      "-noout",
      "-fingerprint",
      "-sha256",
    ]);
    expect(r.stdout.trim()).toBe(`sha256 Fingerprint=${caFingerprint(caCertificatePem)}`);
  });

  it("refuses anything but one certificate", () => {
    expect(() => caFingerprint("not a certificate")).toThrow(/got 0 certificate blocks/);
    expect(() => caFingerprint(caCertificatePem + caCertificatePem)).toThrow(
      /must be one PEM certificate, got 2/,
    );
  });
});

describe("fetch_ca_certificate (lib.sh)", () => {
  const servers: ChildProcess[] = [];
  afterAll(() => servers.forEach((s) => s.kill()));

  /** Serves `body` at the CA certificate's path over HTTPS on loopback; resolves with the port. */
  async function serveCa(body: string): Promise<number> {
    const dir = mkdtempSync(join(work, "srv-"));
    const root = join(dir, "root");
    mkdirSync(join(root, "puppet-ca/v1/certificate"), { recursive: true });
    writeFileSync(join(root, "puppet-ca/v1/certificate/ca"), body);
    const tls = selfSigned(dir, "ca-server");
    const port = 20000 + Math.floor(Math.random() * 20000);
    const truststore = resolve(__dirname, "../../lab/truststore.py");
    servers.push(
      spawn("python3", [truststore, "127.0.0.1", String(port), root, tls.cert, tls.key], {
        stdio: "ignore",
      }),
    );
    for (let i = 0; i < 50; i++) {
      if (run("curl", ["-sk", "-o", "/dev/null", `https://127.0.0.1:${port}/`]).status === 0) break;
      await new Promise((done) => setTimeout(done, 100));
    }
    return port;
  }

  /** Runs fetch_ca_certificate as request_certificate does, against the server on `port`. */
  function fetch(port: number, fingerprint: string, servers?: string) {
    const dir = mkdtempSync(join(work, "host-"));
    writeFileSync(
      join(dir, ".curlrc"),
      // lost.test: a CA that does not answer (nothing listens on port 1).
      `connect-to = ca.test:8140:127.0.0.1:${port}\nconnect-to = lost.test:8140:127.0.0.1:1\n`,
    );
    const dest = join(dir, "ca.pem");
    const r = run(
      "bash",
      ["-c", `source "${SCRIPTS_DIR}/lib.sh" && fetch_ca_certificate "$1"`, "fetch", dest],
      {
        env: {
          PATH: process.env.PATH,
          CURL_HOME: dir,
          CA_SERVER: "ca.test",
          ...(servers !== undefined && { CA_SERVERS: servers }),
          CA_FINGERPRINT: fingerprint,
          PUPPET_MULTISITE_CONF_DIR: dir,
        },
      },
    );
    return { ...r, dest };
  }

  const TOOLS = ["bash", "curl", "openssl", "python3"];

  itWithTools(TOOLS, "installs the certificate with the pinned fingerprint", async () => {
    const port = await serveCa(caCertificatePem);
    const r = fetch(port, caFingerprint(caCertificatePem));
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(r.dest, "utf8")).toBe(caCertificatePem);
  });

  itWithTools(TOOLS, "refuses another CA's certificate, saying both fingerprints", async () => {
    const other = readFileSync(selfSigned(mkdtempSync(join(work, "o-")), "impostor").cert, "utf8");
    const port = await serveCa(other);
    const r = fetch(port, caFingerprint(caCertificatePem));
    expect(r.status).not.toBe(0);
    expect(existsSync(r.dest)).toBe(false);
    expect(r.stderr).toContain(`fingerprint ${caFingerprint(other)}`);
    expect(r.stderr).toContain(`expected CA_FINGERPRINT ${caFingerprint(caCertificatePem)}`);
  });

  itWithTools(TOOLS, "refuses a bundle even when its first certificate is the CA", async () => {
    const other = readFileSync(selfSigned(mkdtempSync(join(work, "b-")), "extra").cert, "utf8");
    const port = await serveCa(caCertificatePem + other);
    const r = fetch(port, caFingerprint(caCertificatePem));
    expect(r.status).not.toBe(0);
    expect(existsSync(r.dest)).toBe(false);
  });

  itWithTools(TOOLS, "takes the certificate from the next CA when one is lost", async () => {
    const port = await serveCa(caCertificatePem);
    const r = fetch(port, caFingerprint(caCertificatePem), "lost.test ca.test");
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(r.dest, "utf8")).toBe(caCertificatePem);
  });

  itWithTools(TOOLS, "fails (for the caller to retry) while nothing answers", () => {
    const r = fetch(1, caFingerprint(caCertificatePem));
    expect(r.status).not.toBe(0);
    expect(existsSync(r.dest)).toBe(false);
  });
});

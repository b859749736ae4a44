// db-ca-bundle.sh run for real: bundles of certificates made here (Ruby's OpenSSL, for any validity
// dates), fetched through file: URLs and through an HTTPS server on loopback (the lab's truststore),
// checked, and installed only when every check passes.
import { spawn } from "child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { afterAll, describe, expect } from "vitest";
import { SCRIPTS_DIR } from "../../infra/hostconfig";
import { renderEnvFile } from "../../infra/hostconfig/envfile";
import { itWithTools, run } from "./helpers";

const work = mkdtempSync(join(tmpdir(), "pm-db-ca-"));
const TOOLS = ["bash", "curl", "ruby", "openssl"];

interface CertSpec {
  readonly cn: string;
  /** basicConstraints CA:TRUE; false: CA:FALSE; undefined: no basicConstraints at all. */
  readonly ca?: boolean;
  /** Validity, in days from now. Default: from yesterday to in a year. */
  readonly from?: number;
  readonly to?: number;
  /** DNS alt name. */
  readonly dns?: string;
  /** Index of the spec that signs this one (default: self-signed). */
  readonly issuer?: number;
}

/** PEM certificates (and keys, `<n>.key` in `dir`) for `specs`, made by Ruby's OpenSSL. */
function certificates(dir: string, specs: readonly CertSpec[]): string[] {
  const r = run(
    "ruby",
    [
      "-ropenssl",
      "-rjson",
      "-e",
      `
      dir = ARGV[0]
      made = []
      JSON.parse($stdin.read).each_with_index do |s, i|
        key = OpenSSL::PKey::EC.generate("prime256v1")
        c = OpenSSL::X509::Certificate.new
        c.version = 2
        c.serial = i + 1
        c.subject = OpenSSL::X509::Name.parse("/CN=#{s["cn"]}")
        c.public_key = key
        c.not_before = Time.now + (s["from"] || -1) * 86400
        c.not_after = Time.now + (s["to"] || 365) * 86400
        issuer = s["issuer"] ? made[s["issuer"]] : [c, key]
        c.issuer = issuer[0].subject
        ef = OpenSSL::X509::ExtensionFactory.new(issuer[0], c)
        c.add_extension(ef.create_extension("basicConstraints", s["ca"] ? "CA:TRUE" : "CA:FALSE", true)) unless s["ca"].nil?
        c.add_extension(ef.create_extension("subjectAltName", "DNS:#{s["dns"]}")) if s["dns"]
        c.sign(issuer[1], OpenSSL::Digest.new("SHA256"))
        made << [c, key]
        File.write(File.join(dir, "#{i}.key"), key.to_pem)
        puts c.to_pem
      end`,
      dir,
    ],
    { input: JSON.stringify(specs) },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.split(/(?<=-----END CERTIFICATE-----\n)/).filter((x) => x.trim());
}

/**
 * Runs db-ca-bundle.sh with `urls` (DB_CA_BUNDLE_URLS: space-separated), its bundle path in a fresh
 * directory (optionally holding `old`).
 */
function fetchBundle(urls: string, opts: { old?: string; env?: NodeJS.ProcessEnv } = {}) {
  const dir = mkdtempSync(join(work, "host-"));
  const bundle = join(dir, "database-ca.pem");
  if (opts.old !== undefined) writeFileSync(bundle, opts.old);
  writeFileSync(
    join(dir, "host.env"),
    renderEnvFile({ DB_CA_BUNDLE_URLS: urls, PGSSLROOTCERT: bundle }),
  );
  const r = run("bash", [join(SCRIPTS_DIR, "db-ca-bundle.sh")], {
    env: {
      PATH: process.env.PATH,
      PUPPET_MULTISITE_CONF_DIR: dir,
      PUPPET_MULTISITE_STATE_DIR: join(dir, "state"),
      ...opts.env,
    },
  });
  return { ...r, bundle };
}

/** A file: URL of `content`. */
function served(content: string): string {
  const path = join(mkdtempSync(join(work, "src-")), "bundle.pem");
  writeFileSync(path, content);
  return `file://${path}`;
}

describe("db-ca-bundle.sh", () => {
  itWithTools(
    TOOLS,
    "installs a bundle of CA certificates, one of them valid now, readable by everyone",
    () => {
      const [expired, valid] = certificates(mkdtempSync(join(work, "c-")), [
        { cn: "Old Root", ca: true, from: -800, to: -400 },
        { cn: "Root RSA2048", ca: true },
      ]);
      const r = fetchBundle(served(expired + valid));
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(r.bundle, "utf8")).toBe(expired + valid);
      expect(statSync(r.bundle).mode & 0o777).toBe(0o644);
      expect(r.stderr).toMatch(/2 CA certificates, 1 valid now, until \d{4}-\d\d-\d\d/);
    },
  );

  itWithTools(
    TOOLS,
    "joins the bundles of two regions in order, a bundle without a final newline included",
    () => {
      const [east, west] = certificates(mkdtempSync(join(work, "c-")), [
        { cn: "East Root", ca: true },
        { cn: "West Root", ca: true },
      ]);
      const r = fetchBundle(`${served(east.trimEnd())} ${served(west)}`);
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(r.bundle, "utf8")).toBe(east + west);
      expect(
        r.stderr.match(/database CA bundle from file:.*: 1 CA certificates, 1 valid now/g),
      ).toHaveLength(2);
    },
  );

  itWithTools(TOOLS, "refuses the whole when one region's bundle fails, naming it", () => {
    const dir = mkdtempSync(join(work, "c-"));
    const [east] = certificates(dir, [{ cn: "East Root", ca: true }]);
    const bad = served("<html>503</html>\n");
    const r = fetchBundle(`${served(east)} ${bad}`, { old: "previous\n" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(
      `the database's CA bundle from ${bad} is refused: not PEM certificates only`,
    );
    expect(readFileSync(r.bundle, "utf8")).toBe("previous\n");
  });

  itWithTools(TOOLS, "refuses a setting that names no bundle", () => {
    const r = fetchBundle(" ", { old: "previous\n" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/DB_CA_BUNDLE_URLS/);
    expect(readFileSync(r.bundle, "utf8")).toBe("previous\n");
  });

  const refusals: ReadonlyArray<[string, (dir: string) => string, RegExp]> = [
    [
      "a certificate that is no CA's",
      (d) =>
        certificates(d, [
          { cn: "Root", ca: true },
          { cn: "leaf", ca: false },
        ]).join(""),
      /CN=leaf is not a CA certificate/,
    ],
    [
      "a certificate without basicConstraints",
      (d) => certificates(d, [{ cn: "bare" }]).join(""),
      /CN=bare is not a CA certificate/,
    ],
    [
      "CA certificates none of which is valid now",
      (d) =>
        certificates(d, [
          { cn: "expired", ca: true, from: -30, to: -1 },
          { cn: "future", ca: true, from: 1, to: 30 },
        ]).join(""),
      /none of its 2 certificates is valid now/,
    ],
    [
      "an HTML page",
      () => "<html><body>Service Unavailable</body></html>\n",
      /not PEM certificates only/,
    ],
    [
      "a certificate followed by a private key",
      (d) =>
        certificates(d, [{ cn: "Root", ca: true }])[0] + readFileSync(join(d, "0.key"), "utf8"),
      /not PEM certificates only/,
    ],
    ["an empty file", () => "", /not PEM certificates only/],
    [
      "a certificate block that is not DER",
      () => "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n",
      /a certificate does not parse/,
    ],
  ];
  for (const [what, content, reason] of refusals) {
    itWithTools(TOOLS, `refuses ${what}, keeping the bundle it had`, () => {
      const r = fetchBundle(served(content(mkdtempSync(join(work, "c-")))), { old: "previous\n" });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/ERROR: the database's CA bundle from file:.* is refused: /);
      expect(r.stderr).toMatch(reason);
      expect(readFileSync(r.bundle, "utf8")).toBe("previous\n");
    });
  }

  itWithTools(TOOLS, "refuses a download over 1 MiB", () => {
    const [ca] = certificates(mkdtempSync(join(work, "c-")), [{ cn: "Root", ca: true }]);
    const r = fetchBundle(served(ca.repeat(Math.ceil((1 << 20) / ca.length) + 1)));
    expect(r.status).not.toBe(0);
    // curl stops an HTTP(S) download past the limit; the check stops what curl passes (file:).
    expect(r.stderr).toMatch(/is refused: over 1 MiB|cannot download the database's CA bundle/);
  });

  itWithTools(TOOLS, "never fetches over plain HTTP", () => {
    const r = fetchBundle("http://127.0.0.1:9/us-east-1/us-east-1-bundle.pem");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Protocol "http" not supported/);
    expect(r.stderr).toMatch(/cannot download the database's CA bundle from http:/);
  });

  describe("over HTTPS, from the lab's truststore on loopback", () => {
    const servers: Array<{ kill: () => void }> = [];
    afterAll(() => servers.forEach((s) => s.kill()));

    itWithTools(
      [...TOOLS, "python3"],
      "installs the bundle when the server verifies, and refuses a server it cannot verify",
      async () => {
        const dir = mkdtempSync(join(work, "https-"));
        const [webCa, web, dbCa] = certificates(dir, [
          { cn: "web CA", ca: true },
          { cn: "web", ca: false, dns: "localhost", issuer: 0 },
          { cn: "Root RSA2048", ca: true },
        ]);
        writeFileSync(join(dir, "web-ca.pem"), webCa);
        writeFileSync(join(dir, "web.pem"), web);
        const root = mkdtempSync(join(work, "root-"));
        const path = "us-east-1/us-east-1-bundle.pem";
        run("mkdir", ["-p", join(root, "us-east-1")]);
        writeFileSync(join(root, path), dbCa);
        const port = 20000 + Math.floor(Math.random() * 20000);
        const server = spawn(
          "python3",
          [
            resolve(__dirname, "../../lab/truststore.py"),
            "127.0.0.1",
            String(port),
            root,
            join(dir, "web.pem"),
            join(dir, "1.key"),
          ],
          { stdio: "ignore" },
        );
        servers.push(server);
        const url = `https://localhost:${port}/${path}`;
        for (let i = 0; i < 50; i++) {
          if (
            run("curl", ["-s", "-o", "/dev/null", "--cacert", join(dir, "web-ca.pem"), url])
              .status === 0
          )
            break;
          await new Promise((done) => setTimeout(done, 100));
        }
        const trusted = fetchBundle(url, { env: { CURL_CA_BUNDLE: join(dir, "web-ca.pem") } });
        expect(trusted.status, trusted.stderr).toBe(0);
        expect(readFileSync(trusted.bundle, "utf8")).toBe(dbCa);

        // The system's CAs do not know the lab's web CA.
        const untrusted = fetchBundle(url);
        expect(untrusted.status).not.toBe(0);
        expect(untrusted.stderr).toMatch(/SSL certificate problem/);

        // Another Region's bundle is not there: 404, and the boot stops.
        const elsewhere = fetchBundle(url.replace(/us-east-1/g, "eu-west-1"), {
          env: { CURL_CA_BUNDLE: join(dir, "web-ca.pem") },
        });
        expect(elsewhere.status).not.toBe(0);
        expect(elsewhere.stderr).toMatch(/404/);
      },
    );
  });
});

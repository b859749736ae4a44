// The CA's autosigner (scripts/autosign.rb) run for real with Ruby, on CSRs made by openssl and the
// policy the CA host renders, one rule at a time. A local HTTPS server with client certificates
// stands in for the CA's certificate_status endpoint, where a replaced server's old certificate is
// revoked.
import { spawn } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { IncomingMessage, ServerResponse } from "http";
import { Server, createServer } from "https";
import { AddressInfo } from "net";
import { TLSSocket } from "tls";
import { tmpdir } from "os";
import { join } from "path";
import { afterAll, beforeAll, beforeEach, describe, expect } from "vitest";
import { SCRIPTS_DIR } from "../../infra/hostconfig";
import { autosignPolicy } from "../../infra/hostconfig/autosign-policy";
import {
  CsrOptions,
  makeCa,
  makeCrl,
  makeCsr as csr,
  newKeyRequest,
  openssl,
  signCsr,
} from "../../lab/x509";
import { CA, DOMAIN, FAKE_CHALLENGE, STANDBY_CA, caHost } from "./fixtures";
import { itWithTools } from "./helpers";

const AGENT_CHALLENGE = "agent-challenge-2c9d4e";
const SERVER_CHALLENGE = FAKE_CHALLENGE;
const dir = mkdtempSync(join(tmpdir(), "pm-autosign-"));
const signedDir = join(dir, "signed");
const requestsDir = join(dir, "requests");
const logFile = join(dir, "autosign.log");
const standbyMarker = join(dir, "standby");

/** A certificate for `cn` signed by the test CA, with `serial`; its PEM (the key in `<cn>.key`). */
function certificate(cn: string, serial: number, ext: string[] = []): string {
  const csr = openssl([...newKeyRequest(join(dir, `${cn}.key`)), "-subj", `/CN=${cn}`]);
  return signCsr({ csr, caCert: join(dir, "ca.pem"), caKey: join(dir, "ca.key"), serial, ext });
}

interface Revocation {
  path: string;
  body: string;
  client?: string;
}

/**
 * The CA's certificate_status endpoint: records each request; `answer` is the status it gives. The
 * same server is the peer CA fencing reads, at localhost: it serves `peerCrl` to anyone, as Puppet
 * Server serves its CRL.
 */
const revocations: Revocation[] = [];
let answer = 204;
let peerCrl = "";
const CRL_PATH = "/puppet-ca/v1/certificate_revocation_list/ca";
const crl = (number: number) =>
  makeCrl({ caKey: join(dir, "ca.key"), caCert: join(dir, "ca.pem"), number, serials: [] });
let server: Server;

beforeAll(async () => {
  makeCa({ key: join(dir, "ca.key"), cert: join(dir, "ca.pem"), cn: "Test Puppet CA" });
  makeCa({ key: join(dir, "other.key"), cert: join(dir, "other.pem"), cn: "Another CA" });
  // The CA host's certificate: the server's and the autosigner's client identity.
  writeFileSync(
    join(dir, "host.pem"),
    certificate(CA, 1, [
      `subjectAltName = DNS:${CA},DNS:localhost`,
      "extendedKeyUsage = serverAuth,clientAuth",
    ]),
  );
  server = createServer(
    {
      key: readFileSync(join(dir, `${CA}.key`)),
      cert: readFileSync(join(dir, "host.pem")),
      ca: readFileSync(join(dir, "ca.pem")),
      requestCert: true,
      rejectUnauthorized: false,
    },
    (req: IncomingMessage, res: ServerResponse) => {
      if (req.url === CRL_PATH) {
        res.writeHead(200, { "Content-Type": "text/plain" });
        res.end(peerCrl);
        return;
      }
      if (!(req.socket as TLSSocket).authorized) {
        res.writeHead(403).end("Forbidden request");
        return;
      }
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        const cn = peer.subject?.CN;
        revocations.push({
          path: `${req.method} ${req.url}`,
          body,
          client: Array.isArray(cn) ? cn.join(",") : cn,
        });
        res.writeHead(answer, { "Content-Type": "text/plain" });
        res.end(answer >= 400 ? "revocation failed" : "");
      });
    },
  );
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const policy = autosignPolicy(caHost);
  writeFileSync(
    join(dir, "policy.json"),
    JSON.stringify({
      ...policy,
      challenges: { server: join(dir, "server-challenge"), agent: join(dir, "agent-challenge") },
      ca: {
        ...policy.ca,
        port: (server.address() as AddressInfo).port,
        signedDir,
        requestsDir,
        standbyMarker,
        // No peer but in the fencing tests: a peer's name would be looked up in DNS.
        peers: [],
        crl: join(dir, "ca_crl.pem"),
        fenceRecord: join(dir, "fence.json"),
        cert: join(dir, "host.pem"),
        key: join(dir, `${CA}.key`),
        cacert: join(dir, "ca.pem"),
      },
      logFile,
    }),
  );
  writeFileSync(join(dir, "ca_crl.pem"), crl(3));
  // One value a line: a second line is how a challenge is rotated.
  writeFileSync(join(dir, "server-challenge"), `old-server-challenge\n${SERVER_CHALLENGE}\n`);
  writeFileSync(join(dir, "agent-challenge"), `${AGENT_CHALLENGE}\n`);
});

afterAll(() => new Promise<void>((done) => server.close(() => done())));

beforeEach(() => {
  revocations.length = 0;
  answer = 204;
  for (const d of [signedDir, requestsDir]) {
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d);
  }
});

/** Runs the autosigner as Puppet Server does; asynchronous, so the test's CA server can answer. */
function autosign(
  certname: string,
  pem: string,
): Promise<{ status: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn("ruby", [join(SCRIPTS_DIR, "autosign.rb"), certname], {
      env: { PATH: process.env.PATH, AUTOSIGN_POLICY: join(dir, "policy.json") },
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (status) => done({ status, stderr }));
    child.stdin.end(pem);
  });
}

const master = `master-1.site-a.${DOMAIN}`;
const masterAltNames = [master, `pool.site-a.${DOMAIN}`, `puppet.${DOMAIN}`];
const asMaster = {
  challenge: SERVER_CHALLENGE,
  role: "puppet-compile-master",
  altNames: masterAltNames,
};
const agent = "web-1.example.com";
const PP_CLI_AUTH = "1.3.6.1.4.1.34380.1.3.39 = ASN1:UTF8String:true";
const asStandby = { challenge: SERVER_CHALLENGE, role: "puppet-ca", altNames: [STANDBY_CA, CA] };

type Case = [what: string, certname: string, opts: CsrOptions, reason: RegExp];

const SIGNED: Case[] = [
  [
    "an agent with the agent challenge",
    agent,
    { challenge: AGENT_CHALLENGE },
    /signed web-1\.example\.com \(agent\)$/m,
  ],
  [
    "an agent asking for registered and private extensions (pp_role, a private OID)",
    agent,
    {
      challenge: AGENT_CHALLENGE,
      ext: [
        "1.3.6.1.4.1.34380.1.1.13 = ASN1:UTF8String:web",
        "1.3.6.1.4.1.34380.1.2.1 = ASN1:UTF8String:x",
      ],
    },
    /\(agent\)/,
  ],
  [
    "a compile master with its role and exactly its alt names",
    master,
    asMaster,
    /signed .* \(puppet-compile-master\)$/m,
  ],
  [
    "a master a pool gains later, in a site the CA was never told of",
    `master-17.site-c.${DOMAIN}`,
    {
      ...asMaster,
      altNames: [`master-17.site-c.${DOMAIN}`, `pool.site-c.${DOMAIN}`, `puppet.${DOMAIN}`],
    },
    /\(puppet-compile-master\)/,
  ],
  [
    "the standby CA with its role and exactly its two names",
    STANDBY_CA,
    asStandby,
    /signed ca\.site-b\.puppet\.example\.internal \(puppet-ca\)$/m,
  ],
  [
    "a PuppetDB host with its role and no alt names",
    `puppetdb.site-b.${DOMAIN}`,
    { challenge: SERVER_CHALLENGE, role: "puppetdb" },
    /\(puppetdb\)/,
  ],
  [
    "a server with the older of two server challenges (rotation)",
    master,
    { ...asMaster, challenge: "old-server-challenge" },
    /\(puppet-compile-master\)/,
  ],
];

const REFUSED: Case[] = [
  ["no challenge", agent, {}, /no challenge password/],
  ["a wrong challenge", agent, { challenge: "guess" }, /challenge password does not match/],
  [
    "a server role with the agent challenge",
    `rogue-1.site-a.${DOMAIN}`,
    { challenge: AGENT_CHALLENGE, role: "puppet-compile-master" },
    /the agent challenge allows no authorization extension \(got 1\.3\.6\.1\.4\.1\.34380\.1\.3\.13\): a server role needs the server challenge/,
  ],
  [
    "the generic name as an alt name with the agent challenge",
    `rogue-2.site-a.${DOMAIN}`,
    { challenge: AGENT_CHALLENGE, altNames: [`rogue-2.site-a.${DOMAIN}`, `puppet.${DOMAIN}`] },
    /the agent challenge allows no subject alt names/,
  ],
  [
    "the CA's name as an alt name with the agent challenge",
    agent,
    { challenge: AGENT_CHALLENGE, altNames: [CA] },
    /no subject alt names/,
  ],
  [
    "an agent extension Puppet's CA would refuse",
    agent,
    { challenge: AGENT_CHALLENGE, ext: ["keyUsage = digitalSignature"] },
    /extensions not allowed on an agent certificate: keyUsage/,
  ],
  [
    "a master's certname with the agent challenge",
    master,
    { challenge: AGENT_CHALLENGE },
    /is a name of the deployment's servers \(master-\{index\}\.\{site\}\.puppet\.example\.internal\): no agent may use it/,
  ],
  [
    "a future master's certname with the agent challenge",
    `master-250.site-z.${DOMAIN}`,
    { challenge: AGENT_CHALLENGE },
    /name of the deployment's servers/,
  ],
  [
    "the CA's certname with the agent challenge",
    CA,
    { challenge: AGENT_CHALLENGE },
    /name of the deployment's servers \(ca\.puppet\.example\.internal\)/,
  ],
  [
    "the generic name with the agent challenge",
    `puppet.${DOMAIN}`,
    { challenge: AGENT_CHALLENGE },
    /name of the deployment's servers/,
  ],
  [
    "a pool's name with the agent challenge",
    `pool.site-b.${DOMAIN}`,
    { challenge: AGENT_CHALLENGE },
    /name of the deployment's servers/,
  ],
  [
    "a PuppetDB's name with the agent challenge",
    `puppetdb.site-a.${DOMAIN}`,
    { challenge: AGENT_CHALLENGE },
    /name of the deployment's servers/,
  ],
  [
    "the server challenge without a role",
    master,
    { challenge: SERVER_CHALLENGE, altNames: masterAltNames },
    /the server challenge needs a pp_auth_role, one of puppet-compile-master, puppetdb, puppet-ca/,
  ],
  [
    "the CA role for the active CA's own name",
    CA,
    { ...asStandby, altNames: [CA] },
    /a puppet-ca certname must have the form ca\.site-b\.puppet\.example\.internal/,
  ],
  [
    "the CA role for a site that runs no standby",
    `ca.site-c.${DOMAIN}`,
    { ...asStandby, altNames: [`ca.site-c.${DOMAIN}`, CA] },
    /must have the form ca\.site-b\./,
  ],
  [
    "the standby CA asking for pp_cli_auth (which Puppet Server would refuse anyway)",
    STANDBY_CA,
    { ...asStandby, ext: [PP_CLI_AUTH] },
    /authorization extensions not allowed: 1\.3\.6\.1\.4\.1\.34380\.1\.3\.39/,
  ],
  [
    "the standby CA with only its own name",
    STANDBY_CA,
    { ...asStandby, altNames: [STANDBY_CA] },
    /are not the puppet-ca's/,
  ],
  [
    "pp_cli_auth on a master",
    master,
    { ...asMaster, ext: [PP_CLI_AUTH] },
    /authorization extensions not allowed: 1\.3\.6\.1\.4\.1\.34380\.1\.3\.39/,
  ],
  [
    "the standby CA's name with the agent challenge",
    STANDBY_CA,
    { challenge: AGENT_CHALLENGE },
    /name of the deployment's servers \(ca\.\{site\}\.puppet\.example\.internal\)/,
  ],
  [
    "a master asking for ca.<domain>",
    master,
    { ...asMaster, altNames: [...masterAltNames, CA] },
    /alt names \[.*"ca\.puppet\.example\.internal".*\] are not the puppet-compile-master's: master-1\.site-a\.puppet\.example\.internal gets exactly \[/,
  ],
  [
    "a master without its pool's name",
    master,
    { ...asMaster, altNames: [master, `puppet.${DOMAIN}`] },
    /are not the puppet-compile-master's/,
  ],
  [
    "a master with another site's pool",
    master,
    { ...asMaster, altNames: [master, `pool.site-b.${DOMAIN}`, `puppet.${DOMAIN}`] },
    /are not the puppet-compile-master's/,
  ],
  [
    "a PuppetDB with an alt name",
    `puppetdb.site-a.${DOMAIN}`,
    { challenge: SERVER_CHALLENGE, role: "puppetdb", altNames: [`puppet.${DOMAIN}`] },
    /are not the puppetdb's/,
  ],
  [
    "a master role on a name that is not a master's",
    `web-1.site-a.${DOMAIN}`,
    { ...asMaster, altNames: [`web-1.site-a.${DOMAIN}`] },
    /a puppet-compile-master certname must have the form master-\{index\}\.\{site\}\.puppet\.example\.internal/,
  ],
  [
    "a PuppetDB role on a master's name",
    master,
    { challenge: SERVER_CHALLENGE, role: "puppetdb" },
    /a puppetdb certname must have the form puppetdb\.\{site\}/,
  ],
  [
    "a master number with a leading zero",
    `master-01.site-a.${DOMAIN}`,
    {
      ...asMaster,
      altNames: [`master-01.site-a.${DOMAIN}`, `pool.site-a.${DOMAIN}`, `puppet.${DOMAIN}`],
    },
    /must have the form/,
  ],
  [
    "another authorization extension",
    master,
    { ...asMaster, ext: ["1.3.6.1.4.1.34380.1.3.1 = ASN1:UTF8String:x"] },
    /authorization extensions not allowed: 1\.3\.6\.1\.4\.1\.34380\.1\.3\.1/,
  ],
  [
    "an IP alt name",
    master,
    { ...asMaster, altNames: undefined, ext: [`subjectAltName = DNS:${master},IP:10.0.0.1`] },
    /alt name IP Address:10\.0\.0\.1 is not a DNS name/,
  ],
  [
    "another extension on a server",
    master,
    { ...asMaster, ext: ["1.3.6.1.4.1.34380.1.1.13 = ASN1:UTF8String:x"] },
    /extensions not allowed on a server certificate: 1\.3\.6\.1\.4\.1\.34380\.1\.1\.13/,
  ],
  [
    "a subject CN that is not the certname",
    agent,
    { challenge: AGENT_CHALLENGE, cn: "web-2.example.com" },
    /CSR subject CN "web-2\.example\.com" is not the certname/,
  ],
];

describe("autosign.rb", () => {
  for (const [what, certname, opts, reason] of SIGNED) {
    itWithTools(["ruby", "openssl"], `signs ${what}`, async () => {
      const r = await autosign(certname, csr(certname, opts));
      expect(r.stderr).toMatch(reason);
      expect(r.status).toBe(0);
      expect(revocations).toEqual([]);
    });
  }

  for (const [what, certname, opts, reason] of REFUSED) {
    itWithTools(["ruby", "openssl"], `refuses ${what}, saying why`, async () => {
      const r = await autosign(certname, csr(certname, opts));
      expect(r.stderr).toMatch(
        new RegExp(`rejected ${certname.replace(/\./g, "\\.")}: .*${reason.source}`),
      );
      expect(r.status).toBe(1);
      expect(revocations).toEqual([]);
    });
  }

  itWithTools(
    ["ruby", "openssl"],
    "signs nothing while the CA is the standby, and keeps no request for after its promotion",
    async () => {
      writeFileSync(standbyMarker, "");
      try {
        for (const [certname, opts] of [
          [agent, { challenge: AGENT_CHALLENGE }],
          [master, asMaster],
        ] as const) {
          writeFileSync(join(requestsDir, `${certname}.pem`), csr(certname, opts));
          const pem = readFileSync(join(requestsDir, `${certname}.pem`), "utf8");
          const r = await autosign(certname, pem);
          expect(r.status).toBe(1);
          expect(r.stderr).toMatch(
            /rejected .*: this CA is the standby: it signs nothing until it is promoted/,
          );
          expect(existsSync(join(requestsDir, `${certname}.pem`))).toBe(false);
        }
      } finally {
        rmSync(standbyMarker);
      }
      expect((await autosign(agent, csr(agent, { challenge: AGENT_CHALLENGE }))).status).toBe(0);
    },
  );

  itWithTools(
    ["ruby", "openssl"],
    "a fenced CA (the marker holding ca-sync.rb's reason) refuses with that reason",
    async () => {
      const reason =
        "fenced: ca.site-b.example is the active CA of epoch 1, this CA's is 0: it signs nothing";
      writeFileSync(standbyMarker, `${reason}\n`);
      try {
        writeFileSync(
          join(requestsDir, `${agent}.pem`),
          csr(agent, { challenge: AGENT_CHALLENGE }),
        );
        const r = await autosign(agent, readFileSync(join(requestsDir, `${agent}.pem`), "utf8"));
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(`rejected ${agent}: ${reason}`);
        expect(existsSync(join(requestsDir, `${agent}.pem`))).toBe(false);
      } finally {
        rmSync(standbyMarker);
      }
    },
  );

  /** Runs `body` with the policy naming localhost (the test server) as the peer CA. */
  async function withPeer(body: () => Promise<void>): Promise<void> {
    const path = join(dir, "policy.json");
    const saved = readFileSync(path, "utf8");
    const policy = JSON.parse(saved) as { ca: Record<string, unknown> };
    writeFileSync(path, JSON.stringify({ ...policy, ca: { ...policy.ca, peers: ["localhost"] } }));
    try {
      await body();
    } finally {
      writeFileSync(path, saved);
      rmSync(standbyMarker, { force: true });
      rmSync(join(dir, "fence.json"), { force: true });
    }
  }

  itWithTools(
    ["ruby", "openssl"],
    "fencing: a peer CA serving a CRL of a newer epoch (number 2^32 + 2; ours 3) stops this CA for good, with the reason logged, in the marker and in the fence record",
    () =>
      withPeer(async () => {
        peerCrl = crl(2 ** 32 + 2);
        writeFileSync(
          join(requestsDir, `${agent}.pem`),
          csr(agent, { challenge: AGENT_CHALLENGE }),
        );
        const r = await autosign(agent, readFileSync(join(requestsDir, `${agent}.pem`), "utf8"));
        const reason =
          "fenced: localhost is the active CA of epoch 1, this CA's is 0: it signs nothing until ca-promote.rb makes it the active CA again";
        expect(r.stderr).toContain(`rejected ${agent}: ${reason}`);
        expect(r.status).toBe(1);
        expect(existsSync(join(requestsDir, `${agent}.pem`))).toBe(false);
        expect(readFileSync(standbyMarker, "utf8")).toBe(`${reason}\n`);
        expect(JSON.parse(readFileSync(join(dir, "fence.json"), "utf8"))).toEqual({
          active: "localhost",
          epoch: 1,
          own_epoch: 0,
          fenced_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as string,
        });
        // Stopped for good: a peer of the old epoch again does not undo it.
        peerCrl = crl(4);
        const again = await autosign(master, csr(master, asMaster));
        expect(again.stderr).toContain(`rejected ${master}: ${reason}`);
        expect(again.status).toBe(1);
      }),
  );

  const UNFENCED: { what: string; crl: () => string; log?: string }[] = [
    { what: "a peer of the same epoch (CRL number 9)", crl: () => crl(9) },
    {
      what: "a peer serving a newer epoch's CRL the CA did not sign",
      crl: () =>
        makeCrl({
          caKey: join(dir, "other.key"),
          caCert: join(dir, "other.pem"),
          number: 2 ** 32,
          serials: [],
        }),
      log: "fencing: no CRL from localhost: RuntimeError: its CRL does not verify against the CA certificate",
    },
  ];
  for (const { what, crl: served, log } of UNFENCED) {
    itWithTools(["ruby", "openssl"], `fencing: ${what} stops nothing`, () =>
      withPeer(async () => {
        peerCrl = served();
        const r = await autosign(agent, csr(agent, { challenge: AGENT_CHALLENGE }));
        expect(r.status).toBe(0);
        if (log) expect(r.stderr).toContain(log);
        expect(existsSync(standbyMarker)).toBe(false);
      }),
    );
  }

  itWithTools(
    ["ruby", "openssl"],
    "refuses garbage and logs every decision, never a challenge",
    async () => {
      expect((await autosign("x", "not a csr")).status).toBe(1);
      const log = readFileSync(logFile, "utf8");
      expect(log).toMatch(/rejected x:/);
      expect(log).toMatch(/signed web-1\.example\.com \(agent\)/);
      for (const secret of [SERVER_CHALLENGE, AGENT_CHALLENGE, "old-server-challenge"]) {
        expect(log).not.toContain(secret);
      }
    },
  );

  itWithTools(
    ["ruby", "openssl"],
    "re-keys a replaced server: revokes its previous certificate through the CA's API, then signs",
    async () => {
      const name = `master-2.site-b.${DOMAIN}`;
      writeFileSync(join(signedDir, `${name}.pem`), certificate(name, 4242));
      const r = await autosign(
        name,
        csr(name, { ...asMaster, altNames: [name, `pool.site-b.${DOMAIN}`, `puppet.${DOMAIN}`] }),
      );
      expect(r.status).toBe(0);
      expect(revocations).toEqual([
        {
          path: `PUT /puppet-ca/v1/certificate_status/${name}`,
          body: '{"desired_state":"revoked"}',
          client: CA,
        },
      ]);
      expect(r.stderr).toMatch(
        new RegExp(
          `revoked the previous certificate of ${name} \\(serial 4242\\): a new key proved the server role`,
        ),
      );
      expect(r.stderr).toMatch(
        /signed .* \(puppet-compile-master, replacing its previous certificate\)/,
      );
    },
  );

  itWithTools(
    ["ruby", "openssl"],
    "refuses a replaced server whose previous certificate it could not revoke",
    async () => {
      writeFileSync(join(signedDir, `${master}.pem`), certificate(master, 77));
      answer = 500;
      const r = await autosign(master, csr(master, asMaster));
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        /rejected .*: could not revoke its previous certificate \(serial 77\): HTTP 500 revocation failed/,
      );
    },
  );

  itWithTools(
    ["ruby", "openssl"],
    "never re-signs an agent's certname, and revokes nothing",
    async () => {
      writeFileSync(join(signedDir, `${agent}.pem`), certificate(agent, 99));
      const r = await autosign(agent, csr(agent, { challenge: AGENT_CHALLENGE }));
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        /web-1\.example\.com already has a certificate, and an agent's is never re-signed automatically: clean it first \(puppetserver ca clean --certname web-1\.example\.com\)/,
      );
      expect(revocations).toEqual([]);
    },
  );

  itWithTools(
    ["ruby", "openssl"],
    "drops a refused request for a server's name from the pending requests, and keeps a new agent's",
    async () => {
      const rogue = csr(master, { challenge: AGENT_CHALLENGE });
      // Puppet Server saves the request before it asks the autosigner.
      writeFileSync(join(requestsDir, `${master}.pem`), rogue);
      expect((await autosign(master, rogue)).status).toBe(1);
      expect(existsSync(join(requestsDir, `${master}.pem`))).toBe(false);
      const unknown = csr(agent, { challenge: "guess" });
      writeFileSync(join(requestsDir, `${agent}.pem`), unknown);
      expect((await autosign(agent, unknown)).status).toBe(1);
      // A new name with a wrong challenge stays pending, for a person to sign or clean.
      expect(existsSync(join(requestsDir, `${agent}.pem`))).toBe(true);
    },
  );
});

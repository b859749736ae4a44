// Hosts shaped like the real deployment. The secret values below are fakes that tests hand to the
// scripts through PUPPET_MULTISITE_SECRETS_DIR and then look for in every rendered output.
import { execFileSync } from "child_process";
import { mkdtempSync, readFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import {
  AgentSite,
  CaHost,
  CompileMasterHost,
  HostCommon,
  HostConfig,
  PuppetdbHost,
} from "../../infra/hostconfig";

export const DOMAIN = "puppet.example.internal";
export const CA = `ca.${DOMAIN}`;
export const FAKE_CHALLENGE = "fake-challenge-7f3a9c1e2b";
export const FAKE_DB_PASSWORD = "fake-db-password-Q9z!x'\"";
export const FAKE_CA_KEY_MARKER = "FAKE-CA-KEY-NEVER-IN-USER-DATA";

/** A real self-signed RSA CA certificate, made once per test run (public, like the real one). */
export const caCertificatePem: string = (() => {
  const dir = mkdtempSync(join(tmpdir(), "pm-ca-"));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:4096",
        "-nodes",
        "-days",
        "30",
        "-subj",
        "/CN=Puppet CA: ca.puppet.example.internal",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "ca.pem"),
        "-addext",
        "basicConstraints=critical,CA:true",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      ],
      { stdio: "ignore" },
    );
    return readFileSync(join(dir, "ca.pem"), "utf8");
  } catch {
    // Without openssl the tests still run on a PEM-shaped placeholder.
    return "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
  }
})();

function common(site: "site-a" | "site-b", certname: string): HostCommon {
  const region = site === "site-a" ? "us-east-1" : "eu-west-1";
  return {
    certname,
    site,
    domain: DOMAIN,
    region,
    caServer: CA,
    caCertificatePem,
    serverChallengeSecret: { name: "puppet-multisite/server-challenge", region },
    heapMb: 2048,
    // A name as S3 makes it from the store's prefix: 26 characters after it.
    scriptsBucket: `scripts-${site}-20261203083000000000000001`,
  };
}

export const caHost: CaHost = {
  ...common("site-a", CA),
  role: "ca",
  caKeySecret: { name: "puppet-multisite/ca-key", region: "us-east-1" },
  agentChallengeSecret: { name: "puppet-multisite/challenge", region: "us-east-1" },
  dnsAltNames: [CA, `ca.site-a.${DOMAIN}`],
  peerCas: [`ca.site-b.${DOMAIN}`],
  syncIntervalSeconds: 60,
};

/** The standby CA of site-b. */
export const STANDBY_CA = `ca.site-b.${DOMAIN}`;
export const standbyCaHost: CaHost = {
  ...common("site-b", STANDBY_CA),
  role: "ca",
  caKeySecret: { name: "puppet-multisite/ca-key", region: "eu-west-1" },
  agentChallengeSecret: { name: "puppet-multisite/challenge", region: "eu-west-1" },
  dnsAltNames: [STANDBY_CA, CA],
  peerCas: [CA],
  standby: true,
  syncIntervalSeconds: 60,
};

export function masterHost(site: "site-a" | "site-b", index: number): CompileMasterHost {
  const certname = `master-${index}.${site}.${DOMAIN}`;
  const other = site === "site-a" ? "site-b" : "site-a";
  return {
    ...common(site, certname),
    role: "compile-master",
    dnsAltNames: [certname, `pool.${site}.${DOMAIN}`, `puppet.${DOMAIN}`],
    puppetdbUrls: [
      `https://puppetdb.${site}.${DOMAIN}:8081`,
      `https://puppetdb.${other}.${DOMAIN}:8081`,
    ],
    controlRepo: {
      url: "https://git.example.internal/puppet/control.git",
      branch: "production",
      syncIntervalMinutes: 5,
    },
    crlRefreshMinutes: 5,
  };
}

export function puppetdbHost(site: "site-a" | "site-b"): PuppetdbHost {
  return {
    ...common(site, `puppetdb.${site}.${DOMAIN}`),
    role: "puppetdb",
    database: {
      host: "puppetdb.cluster-abc123.us-east-1.rds.amazonaws.com",
      port: 5432,
      name: "puppetdb",
      user: "puppetdb",
      passwordSecret: {
        name: "puppet-multisite/puppetdb-db-password",
        region: common(site, "x").region,
      },
      // The database is site-a's, in us-east-1, for both sites; site-b, the failover site, reads
      // from its replica in eu-west-1 too.
      caBundleUrls: [
        "https://truststore.pki.rds.amazonaws.com/us-east-1/us-east-1-bundle.pem",
        ...(site === "site-b"
          ? ["https://truststore.pki.rds.amazonaws.com/eu-west-1/eu-west-1-bundle.pem"]
          : []),
      ],
      ...(site === "site-b" && {
        replica: { host: "puppetdb-replica.def456.eu-west-1.rds.amazonaws.com", port: 5432 },
      }),
    },
    migrate: site === "site-a",
    certificateAllowlist: [
      CA,
      `master-1.site-a.${DOMAIN}`,
      `master-2.site-a.${DOMAIN}`,
      `master-1.site-b.${DOMAIN}`,
      `master-2.site-b.${DOMAIN}`,
    ],
    allowlistSrvRecords: [`_x-puppet._tcp.site-a.${DOMAIN}`, `_x-puppet._tcp.site-b.${DOMAIN}`],
    crlRefreshMinutes: 5,
  };
}

export const ALL_HOSTS: readonly HostConfig[] = [
  caHost,
  standbyCaHost,
  masterHost("site-a", 1),
  masterHost("site-b", 2),
  puppetdbHost("site-a"),
  puppetdbHost("site-b"),
];

export function agentSite(site: "site-a" | "site-b"): AgentSite {
  const other = site === "site-a" ? "site-b" : "site-a";
  return {
    site,
    domain: DOMAIN,
    serverList: [`pool.${site}.${DOMAIN}`, `pool.${other}.${DOMAIN}`],
    caServer: CA,
    crlRefreshMinutes: 5,
  };
}

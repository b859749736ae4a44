import { describe, expect, it } from "vitest";
import {
  HEAP_MB,
  agentSite,
  caCertnames,
  caHostSettings,
  masterHostSettings,
  puppetdbHostSettings,
  rdsCaBundleUrl,
  secretRef,
  standbyCaHostSettings,
} from "../infra/host-settings";
import { DOMAIN, SSH_HOST_KEY, settings } from "./fixtures";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const DB = { host: "db.example.internal", port: 5432 };

describe("secretRef", () => {
  it("names the primary's secret and reads it from the replica in the host's own region", () => {
    expect(secretRef(settings("site-b"), "server-challenge")).toEqual({
      name: "puppet-multisite/site-a/server-challenge",
      region: "eu-west-1",
    });
    // The agent challenge keeps the name of the deployment's first, single challenge.
    expect(secretRef(settings("site-b"), "agent-challenge")).toEqual({
      name: "puppet-multisite/site-a/challenge",
      region: "eu-west-1",
    });
    expect(secretRef(settings("site-a"), "ca-key")).toEqual({
      name: "puppet-multisite/site-a/ca-key",
      region: "us-east-1",
    });
  });
});

describe("caHostSettings", () => {
  it("gives the CA its key secret, both challenges, its own name as alt name and the CA heap", () => {
    expect(caHostSettings(settings("site-a"))).toEqual({
      certname: `ca.${DOMAIN}`,
      site: "site-a",
      domain: DOMAIN,
      region: "us-east-1",
      caServer: `ca.${DOMAIN}`,
      serverChallengeSecret: {
        name: "puppet-multisite/site-a/server-challenge",
        region: "us-east-1",
      },
      heapMb: HEAP_MB.ca,
      role: "ca",
      caKeySecret: { name: "puppet-multisite/site-a/ca-key", region: "us-east-1" },
      agentChallengeSecret: { name: "puppet-multisite/site-a/challenge", region: "us-east-1" },
      dnsAltNames: [`ca.${DOMAIN}`],
      // The standby may read the active CA's records (ca-sync).
      peerCas: [`ca.site-b.${DOMAIN}`],
      // Copied at the standby's interval once a promoted standby fences this CA.
      syncIntervalSeconds: 60,
    });
  });

  it("names no peer CA, and copies nothing, when no site is the failover site", () => {
    const s = settings("site-a", { sites: { "site-b": { failover: false } } });
    expect(caHostSettings(s).peerCas).toEqual([]);
    expect(caHostSettings(s).syncIntervalSeconds).toBeUndefined();
  });
});

describe("caCertnames", () => {
  it("is the active CA, then the failover site's standby", () => {
    expect(caCertnames(settings("site-a"))).toEqual([`ca.${DOMAIN}`, `ca.site-b.${DOMAIN}`]);
    const none = settings("site-a", { sites: { "site-b": { failover: false } } });
    expect(caCertnames(none)).toEqual([`ca.${DOMAIN}`]);
  });
});

describe("standbyCaHostSettings", () => {
  it("gives the failover site's standby its own name and ca.<domain>, the active CA as peer and the sync interval, reading secrets in its region", () => {
    const s = settings("site-b");
    expect(standbyCaHostSettings(s)).toEqual({
      certname: `ca.site-b.${DOMAIN}`,
      site: "site-b",
      domain: DOMAIN,
      region: "eu-west-1",
      // Its certificate comes from the active CA, like every server's.
      caServer: `ca.${DOMAIN}`,
      serverChallengeSecret: {
        name: "puppet-multisite/site-a/server-challenge",
        region: "eu-west-1",
      },
      heapMb: HEAP_MB.ca,
      role: "ca",
      caKeySecret: { name: "puppet-multisite/site-a/ca-key", region: "eu-west-1" },
      agentChallengeSecret: { name: "puppet-multisite/site-a/challenge", region: "eu-west-1" },
      dnsAltNames: [`ca.site-b.${DOMAIN}`, `ca.${DOMAIN}`],
      peerCas: [`ca.${DOMAIN}`],
      standby: true,
      syncIntervalSeconds: s.certificates.standbySyncSeconds,
    });
    expect(s.certificates.standbySyncSeconds).toBe(60);
  });

  it("copies the active CA's records at the configured interval", () => {
    const s = settings("site-b", { certificates: { standbySyncSeconds: 15 } });
    expect(standbyCaHostSettings(s).syncIntervalSeconds).toBe(15);
  });

  it("fails for a site that is not the failover site, naming the one that is", () => {
    expect(() => standbyCaHostSettings(settings("site-a"))).toThrow(
      "site site-a runs no standby CA (sites.<name>.failover names site-b)",
    );
  });

  it("fails when no site is the failover site", () => {
    const s = settings("site-b", { sites: { "site-b": { failover: false } } });
    expect(() => standbyCaHostSettings(s)).toThrow(
      "site site-b runs no standby CA (sites.<name>.failover names no site)",
    );
  });
});

describe("masterHostSettings", () => {
  const s = settings("site-b");
  const master = masterHostSettings(s, 2, `master-2.site-b.${DOMAIN}`, PEM);

  it("names the master, its pool and the generic name as alt names", () => {
    expect(master.dnsAltNames).toEqual([
      `master-2.site-b.${DOMAIN}`,
      `pool.site-b.${DOMAIN}`,
      `puppet.${DOMAIN}`,
    ]);
  });

  it("lists its own site's PuppetDB first, then the other sites'", () => {
    expect(master.puppetdbUrls).toEqual([
      `https://puppetdb.site-b.${DOMAIN}:8081`,
      `https://puppetdb.site-a.${DOMAIN}:8081`,
    ]);
  });

  it("carries the CA certificate, the control repository and the master heap, and no CA key", () => {
    expect(master.caCertificatePem).toBe(PEM);
    // No credential for a public HTTPS repository.
    expect(master.controlRepo).toEqual({
      url: s.controlRepo.url,
      branch: s.controlRepo.branch,
      syncIntervalMinutes: s.controlRepo.syncIntervalMinutes,
    });
    expect(master.heapMb).toBe(HEAP_MB.master);
    expect(master).not.toHaveProperty("caKeySecret");
  });
});

describe("the control repository's credential", () => {
  it("is the deploy key with the host keys for SSH, read in the master's own region", () => {
    const knownHosts = [`git.example.com ${SSH_HOST_KEY}`];
    const ssh = settings("site-b", {
      controlRepo: { url: "git@git.example.com:p/c.git", sshKeySecret: "deploy", knownHosts },
    });
    expect(masterHostSettings(ssh, 1, "m1", PEM).controlRepo).toMatchObject({
      credentialSecret: { name: "deploy", region: "eu-west-1" },
      knownHosts,
    });
    expect(masterHostSettings(ssh, 1, "m1", PEM).controlRepo).not.toHaveProperty("tokenUser");
  });

  it("is the token with its user name for HTTPS", () => {
    const https = settings("site-a", { controlRepo: { tokenSecret: "token" } });
    const repo = masterHostSettings(https, 1, "m1", PEM).controlRepo;
    expect(repo).toMatchObject({
      credentialSecret: { name: "token", region: "us-east-1" },
      tokenUser: "x-access-token",
    });
    expect(repo).not.toHaveProperty("knownHosts");
  });
});

describe("puppetdbHostSettings", () => {
  it.each([
    ["site-a", true],
    ["site-b", false],
  ] as const)("on %s runs migrations: %s", (stack, migrate) => {
    expect(puppetdbHostSettings(settings(stack), PEM, DB).migrate).toBe(migrate);
  });

  it("connects to the shared database with the password secret of its own region", () => {
    expect(puppetdbHostSettings(settings("site-b"), PEM, DB).database).toEqual({
      host: "db.example.internal",
      port: 5432,
      name: "puppetdb",
      user: "puppetdb",
      passwordSecret: { name: "puppet-multisite/site-a/database", region: "eu-west-1" },
      caBundleUrls: ["https://truststore.pki.rds.amazonaws.com/us-east-1/us-east-1-bundle.pem"],
    });
  });

  it("verifies the database with the bundle of the database's region, the primary's, on every site", () => {
    for (const stack of ["site-a", "site-b"] as const) {
      expect(puppetdbHostSettings(settings(stack), PEM, DB).database.caBundleUrls).toEqual([
        "https://truststore.pki.rds.amazonaws.com/us-east-1/us-east-1-bundle.pem",
      ]);
    }
  });

  it("with the replica of its region: reads from it, and trusts both regions' bundles", () => {
    const replica = { host: "replica.example.internal", port: 5433 };
    const host = puppetdbHostSettings(settings("site-b"), PEM, DB, replica);
    expect(host.database).toEqual({
      ...puppetdbHostSettings(settings("site-b"), PEM, DB).database,
      caBundleUrls: [
        "https://truststore.pki.rds.amazonaws.com/us-east-1/us-east-1-bundle.pem",
        "https://truststore.pki.rds.amazonaws.com/eu-west-1/eu-west-1-bundle.pem",
      ],
      replica,
    });
  });

  it("allows the CA statically and every site's masters through the SRV records", () => {
    const host = puppetdbHostSettings(settings("site-a"), PEM, DB);
    expect(host.certificateAllowlist).toEqual([`ca.${DOMAIN}`]);
    expect(host.allowlistSrvRecords).toEqual([
      `_x-puppet._tcp.site-a.${DOMAIN}`,
      `_x-puppet._tcp.site-b.${DOMAIN}`,
    ]);
  });

  it("is the same whatever the pool size, so growing a pool leaves the PuppetDB host alone", () => {
    const small = puppetdbHostSettings(settings("site-a", { masters: { count: 2 } }), PEM, DB);
    const large = puppetdbHostSettings(settings("site-a", { masters: { count: 9 } }), PEM, DB);
    expect(large).toEqual(small);
  });
});

describe("agentSite", () => {
  it("falls back to its own pool first, then the other sites' pools", () => {
    expect(agentSite(settings("site-b"))).toEqual({
      site: "site-b",
      domain: DOMAIN,
      caServer: `ca.${DOMAIN}`,
      crlRefreshMinutes: 5,
      serverList: [`pool.site-b.${DOMAIN}`, `pool.site-a.${DOMAIN}`],
    });
  });
});

describe("recording a promotion (certificates.activeCa: failover)", () => {
  const promoted = (stack: "site-a" | "site-b") =>
    settings(stack, { certificates: { activeCa: "failover" } });

  it("points agents' ca_server at the promoted CA", () => {
    expect(agentSite(promoted("site-a")).caServer).toBe(`ca.site-b.${DOMAIN}`);
    expect(agentSite(promoted("site-b")).caServer).toBe(`ca.site-b.${DOMAIN}`);
  });

  it("changes no host's settings: recording it replaces no server", () => {
    for (const stack of ["site-a", "site-b"] as const) {
      const hosts = (s: ReturnType<typeof settings>) => [
        masterHostSettings(s, 1, `master-1.${stack}.${DOMAIN}`, PEM),
        puppetdbHostSettings(s, PEM, DB),
        stack === "site-a" ? caHostSettings(s) : standbyCaHostSettings(s),
      ];
      expect(hosts(promoted(stack))).toEqual(hosts(settings(stack)));
    }
  });
});

describe("CRL refresh", () => {
  it("gives masters, PuppetDB hosts and agents the configured interval, 5 minutes by default", () => {
    for (const [raw, minutes] of [
      [{}, 5],
      [{ certificates: { crlRefreshMinutes: 2 } }, 2],
    ] as const) {
      const s = settings("site-b", raw);
      expect([
        masterHostSettings(s, 1, `master-1.site-b.${DOMAIN}`, PEM).crlRefreshMinutes,
        puppetdbHostSettings(s, PEM, DB).crlRefreshMinutes,
        agentSite(s).crlRefreshMinutes,
      ]).toEqual([minutes, minutes, minutes]);
    }
  });

  it("asks the active CA, then the standby, on masters and PuppetDB hosts of every site", () => {
    for (const stack of ["site-a", "site-b"] as const) {
      const s = settings(stack);
      for (const host of [
        masterHostSettings(s, 1, `master-1.${stack}.${DOMAIN}`, PEM),
        puppetdbHostSettings(s, PEM, DB),
      ]) {
        expect(host.caServers).toEqual([`ca.${DOMAIN}`, `ca.site-b.${DOMAIN}`]);
      }
    }
    const alone = settings("site-a", { sites: { "site-b": { failover: false } } });
    expect(puppetdbHostSettings(alone, PEM, DB).caServers).toEqual([`ca.${DOMAIN}`]);
  });

  it("reads the server challenge, never the agent's, on masters and PuppetDB hosts", () => {
    const s = settings("site-b");
    for (const host of [
      masterHostSettings(s, 1, `master-1.site-b.${DOMAIN}`, PEM),
      puppetdbHostSettings(s, PEM, DB),
    ]) {
      expect(host.serverChallengeSecret.name).toBe("puppet-multisite/site-a/server-challenge");
      expect(host).not.toHaveProperty("agentChallengeSecret");
    }
  });
});

describe("rdsCaBundleUrl", () => {
  it.each([
    ["eu-west-1", "https://truststore.pki.rds.amazonaws.com/eu-west-1/eu-west-1-bundle.pem"],
    [
      "ap-southeast-4",
      "https://truststore.pki.rds.amazonaws.com/ap-southeast-4/ap-southeast-4-bundle.pem",
    ],
    // Both GovCloud (US) Regions' bundles are served from us-gov-west-1.
    [
      "us-gov-east-1",
      "https://truststore.pki.us-gov-west-1.rds.amazonaws.com/us-gov-east-1/us-gov-east-1-bundle.pem",
    ],
    [
      "us-gov-west-1",
      "https://truststore.pki.us-gov-west-1.rds.amazonaws.com/us-gov-west-1/us-gov-west-1-bundle.pem",
    ],
    [
      "cn-northwest-1",
      "https://rds-truststore.s3.cn-north-1.amazonaws.com.cn/cn-northwest-1/cn-northwest-1-bundle.pem",
    ],
  ])("is AWS's bundle URL for %s", (region, url) => {
    expect(rdsCaBundleUrl(region)).toBe(url);
  });

  it.each(["us-iso-east-1", "eusc-de-east-1", "", "us-east-1/../x"])(
    "refuses %j, a region of no partition it knows",
    (region) => {
      expect(() => rdsCaBundleUrl(region)).toThrow(/no RDS CA bundle URL is known for region/);
    },
  );
});

import { ScriptStore } from "../../infra/components/script-store";
// Host settings for component tests, shaped like site-a of the real deployment.
import { CaHost, CompileMasterHost, HostCommon, PuppetdbHost } from "../../infra/hostconfig/types";

/** A site's script store, named after the component its hosts belong to (one per component). */
export function scriptStore(owner: string, site = "site-a"): ScriptStore {
  return new ScriptStore(`${owner}-scripts`, { site });
}

export const DOMAIN = "puppet.example.internal";
export const CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n";

export function common(certname: string, region = "us-east-1"): HostCommon {
  return {
    certname,
    site: "site-a",
    domain: DOMAIN,
    region,
    caServer: `ca.${DOMAIN}`,
    caCertificatePem: CA_PEM,
    serverChallengeSecret: { name: "puppet-multisite/site-a/server-challenge", region },
    heapMb: 2048,
    scriptsBucket: "scripts-site-a-20261203083000000000000001",
  };
}

export function caHost(): Omit<CaHost, "caCertificatePem"> {
  return {
    ...common(`ca.${DOMAIN}`),
    role: "ca",
    caKeySecret: { name: "puppet-multisite/site-a/ca-key", region: "us-east-1" },
    agentChallengeSecret: { name: "puppet-multisite/site-a/challenge", region: "us-east-1" },
    dnsAltNames: [`ca.${DOMAIN}`],
  };
}

/** The standby CA of site-b (the failover site), reading the primary's secrets in its own region. */
export function standbyCaHost(): Omit<CaHost, "caCertificatePem"> {
  const region = "eu-west-1";
  const { caCertificatePem: _pem, ...host } = common(`ca.site-b.${DOMAIN}`, region);
  return {
    ...host,
    site: "site-b",
    role: "ca",
    caKeySecret: { name: "puppet-multisite/site-a/ca-key", region },
    agentChallengeSecret: { name: "puppet-multisite/site-a/challenge", region },
    dnsAltNames: [`ca.site-b.${DOMAIN}`, `ca.${DOMAIN}`],
    peerCas: [`ca.${DOMAIN}`],
    standby: true,
    syncIntervalSeconds: 60,
  };
}

export function masterHost(index: number): CompileMasterHost {
  return {
    ...common(`master-${index}.site-a.${DOMAIN}`),
    role: "compile-master",
    dnsAltNames: [`master-${index}.site-a.${DOMAIN}`, `pool.site-a.${DOMAIN}`, `puppet.${DOMAIN}`],
    puppetdbUrls: [
      `https://puppetdb.site-a.${DOMAIN}:8081`,
      `https://puppetdb.site-b.${DOMAIN}:8081`,
    ],
    controlRepo: {
      url: "https://git.example.com/puppet/control-repo.git",
      branch: "production",
      syncIntervalMinutes: 5,
    },
    crlRefreshMinutes: 5,
  };
}

export function puppetdbHost(): PuppetdbHost {
  return {
    ...common(`puppetdb.site-a.${DOMAIN}`),
    role: "puppetdb",
    database: {
      host: "db.example.rds.amazonaws.com",
      port: 5432,
      name: "puppetdb",
      user: "puppetdb",
      passwordSecret: { name: "puppet-multisite/site-a/database", region: "us-east-1" },
      caBundleUrls: ["https://truststore.pki.rds.amazonaws.com/us-east-1/us-east-1-bundle.pem"],
    },
    migrate: true,
    certificateAllowlist: [`ca.${DOMAIN}`, `master-1.site-a.${DOMAIN}`],
    allowlistSrvRecords: [`_x-puppet._tcp.site-a.${DOMAIN}`, `_x-puppet._tcp.site-b.${DOMAIN}`],
    crlRefreshMinutes: 5,
  };
}

// puppet.conf of every role and of agents, and the files the Puppet settings point at
// (puppetdb.conf, routes.yaml, csr_attributes.yaml).
import { stringify } from "yaml";
import { IniSettings, renderIni } from "./ini";
import { PUPPET_PORT } from "../ports";
import { PUPPETSERVER_DIR, PUPPET_CONFDIR } from "./paths";
import { PUPPETDB_REQUEST_TIMEOUT_SECONDS, SPOOL_TERMINUS } from "./puppetdb-spool";
import { AUTH_ROLES, AgentSite, HostConfig, HostRole } from "./types";

/**
 * A dead master should cost seconds: the connect timeout is paid once per unreachable target and
 * per service an agent looks up (catalog, fileserver, report), so a black-holed site of two masters
 * costs 2 x 3 x this per run (the 2-minute default makes that minutes). One second is ample for a
 * TCP handshake inside a region or across the sites' WAN; a lost SYN only moves the agent on to the
 * next target.
 */
export const HTTP_CONNECT_TIMEOUT = "1s";

/**
 * Settings every host and agent shares. A kept-alive connection after a certificate request hangs
 * until Jetty's idle timeout (30 s); not keeping connections alive removes that stall.
 */
const CONNECTION_SETTINGS: IniSettings = {
  http_connect_timeout: HTTP_CONNECT_TIMEOUT,
  http_keepalive_timeout: 0,
};

/** Where the autosigner is installed on the CA (beside its policy and challenge files). */
export const AUTOSIGN_PATH = `${PUPPETSERVER_DIR}/autosign.rb`;

/** The `[main]` puppet.conf of an agent in `site`: SRV records of its site first, then server_list. */
export function renderAgentConfig(site: AgentSite): string {
  if (site.serverList.length === 0) {
    throw new Error(
      `serverList of site ${site.site} is empty: agents need at least one fallback server for when SRV lookups fail`,
    );
  }
  return renderIni([
    [
      "main",
      {
        // No static `server`: it does not mix with SRV records (upstream scaling guide).
        use_srv_records: true,
        srv_domain: `${site.site}.${site.domain}`,
        server_list: site.serverList.map((s) => `${s}:${PUPPET_PORT}`),
        ca_server: site.caServer,
        // Never, by default: an agent would keep the CRL of its first run for ever.
        crl_refresh_interval: `${site.crlRefreshMinutes}m`,
        ...CONNECTION_SETTINGS,
      },
    ],
  ]);
}

/** puppet.conf of a Puppet server or PuppetDB host. */
export function renderServerPuppetConf(host: HostConfig): string {
  const main: IniSettings = {
    certname: host.certname,
    ca_server: host.caServer,
    ...CONNECTION_SETTINGS,
  };
  switch (host.role) {
    case "ca":
      return renderIni([
        ["main", { ...main, dns_alt_names: nonEmpty(host.dnsAltNames) }],
        [
          "server",
          {
            autosign: AUTOSIGN_PATH,
            // A replaced server sends a new key under its old name: the CA hands the request to
            // the autosigner (which revokes the previous certificate first, and refuses agents)
            // instead of refusing it outright.
            allow_duplicate_certs: true,
          },
        ],
      ]);
    case "compile-master":
      return renderIni([
        [
          "main",
          {
            ...main,
            dns_alt_names: nonEmpty(host.dnsAltNames),
            // Environments stay cached until code-sync.sh flushes them after a deploy (Puppet's
            // advice: 0 or unlimited, with a flush). In [main]: Puppet 7.23 resolves this
            // per-environment setting without the [server] section (`puppet config print
            // --section server` shows 0 when it is set there).
            environment_timeout: "unlimited",
          },
        ],
        [
          "server",
          {
            storeconfigs: true,
            storeconfigs_backend: "puppetdb",
            reports: "puppetdb",
            route_file: `${PUPPET_CONFDIR}/routes.yaml`,
            // Each cached environment is read from the directory the `production` symlink named
            // when it was loaded, so a compile keeps the code of one commit while a deploy swaps it.
            versioned_environment_dirs: true,
            // No config_version: Puppet 7 refuses it in puppet.conf; code-sync.sh sets it in the
            // deployed environment's environment.conf.
          },
        ],
      ]);
    case "puppetdb":
      // Only `puppet ssl bootstrap` runs here, so the CA is the only server it talks to.
      return renderIni([["main", { ...main, server: host.caServer }]]);
  }
}

function nonEmpty(names: readonly string[]): readonly string[] | undefined {
  return names.length > 0 ? names : undefined;
}

/**
 * puppetdb.conf of a compile master: PuppetDB URLs in order; catalogs compile while PuppetDB is
 * down (soft_write_failure: what no PuppetDB took goes to the spool); each request capped.
 */
export function renderPuppetdbConf(urls: readonly string[]): string {
  if (urls.length === 0) {
    throw new Error("puppetdbUrls is empty: a compile master needs at least one PuppetDB URL");
  }
  return renderIni([
    [
      "main",
      {
        server_urls: urls,
        soft_write_failure: true,
        server_url_timeout: PUPPETDB_REQUEST_TIMEOUT_SECONDS,
      },
    ],
  ]);
}

/**
 * Facts go to PuppetDB through the spool's terminus (PuppetDB's own, loaded by every JRuby when it
 * reads this file, which puts the spool under every command), with a local YAML cache the server
 * reads back.
 */
export function renderRoutesYaml(): string {
  return stringify({ server: { facts: { terminus: SPOOL_TERMINUS, cache: "yaml" } } });
}

/**
 * The public part of csr_attributes.yaml. The challenge password is added at boot from the secret
 * (see `request_certificate` in scripts/lib.sh), so it never appears in user data.
 */
export function renderCsrAttributes(role: HostRole): string {
  return stringify({ extension_requests: { pp_auth_role: AUTH_ROLES[role] } });
}

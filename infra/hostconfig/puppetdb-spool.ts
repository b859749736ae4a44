// How a compile master talks to PuppetDB through faults: short timeouts where Puppet Server reads
// them, and the spool that keeps what no PuppetDB accepted until one does (scripts/pdb-spool.rb and
// scripts/ruby/). Pure rendering.
import { renderHocon } from "./hocon";
import { LIB_DIR, SSL_DIR } from "./paths";
import { timerUnits } from "./timers";

/**
 * Connect timeout of Puppet Server's own HTTP client (it ignores puppet.conf's `http_*_timeout`).
 * A black-holed PuppetDB costs this once per command (facts, catalog, report: three a run) before
 * the next `server_urls` entry is tried, so one second keeps that under five seconds a run. A TCP
 * handshake inside a region or across the sites' WAN takes milliseconds.
 */
export const PUPPETDB_CONNECT_TIMEOUT_MS = 1000;
/**
 * Longest wait for data on an open connection (Puppet Server's `idle-timeout-milliseconds`) and
 * the terminus's cap on a whole request (`server_url_timeout`, seconds): a PuppetDB that accepts
 * connections and never answers costs this, then the next one is tried. PuppetDB answers a command
 * once it is on its disk queue; ten seconds leaves room for a large catalog or a collection query.
 */
export const PUPPETDB_REQUEST_TIMEOUT_SECONDS = 10;

/** Where a master keeps the commands no PuppetDB accepted (puppetserver's user writes it). */
export const SPOOL_DIR = "/var/lib/puppetserver/puppetdb-spool";
/** Bound of the spool: a few hours of reports of a large site, well inside the 30 GiB root disk. */
export const SPOOL_MAX_MB = 2048;
/** Seconds between two drains of the spool: a PuppetDB answering again gets the backlog within this. */
export const SPOOL_DRAIN_SECONDS = 15;
/**
 * Longest a new master's first boot waits for every answering PuppetDB to let it in before it
 * serves agents: the PuppetDBs' allowlist refresh (every 5 minutes, up to 2 more of random delay,
 * then a restart) with room to spare. Past it, the master serves anyway and its commands wait in
 * the spool.
 */
export const PUPPETDB_ACCESS_WAIT_SECONDS = 900;
/** The facts terminus of scripts/ruby/puppet/indirector/facts/puppetdb_spool.rb. */
export const SPOOL_TERMINUS = "puppetdb_spool";
/** Where the spool's Ruby code lives; puppetserver's JRuby gets it on its load path. */
export const RUBY_LIB_DIR = `${LIB_DIR}/ruby`;

/**
 * `/etc/puppet/puppetserver/conf.d/puppetserver.conf` of a compile master: Debian 12's settings
 * (jruby-puppet paths) with the spool's Ruby directory on the load path, and the HTTP client's
 * timeouts. Written whole: the load path is a setting of Debian's file, and trapperkeeper refuses a
 * setting given in two files of conf.d ("Duplicate configuration entry", its config.clj), so it
 * cannot be extended from a file of its own; the timeouts sit beside it.
 */
export function renderMasterPuppetserverConf(): string {
  return renderHocon({
    "jruby-puppet": {
      "ruby-load-path": ["/usr/lib/puppetserver/ruby/vendor_ruby", RUBY_LIB_DIR],
      "gem-home": "/var/lib/puppetserver/jruby-gems",
      "gem-path": ["/var/lib/puppetserver/jruby-gems", "/usr/lib/puppetserver/vendored-jruby-gems"],
      "server-conf-dir": "/etc/puppet",
      "server-code-dir": "/etc/puppet/code",
      "server-var-dir": "/var/lib/puppetserver",
      "server-run-dir": "/run/puppetserver",
      "server-log-dir": "/var/log/puppetserver",
    },
    "http-client": {
      "connect-timeout-milliseconds": PUPPETDB_CONNECT_TIMEOUT_MS,
      "idle-timeout-milliseconds": PUPPETDB_REQUEST_TIMEOUT_SECONDS * 1000,
    },
    profiler: {},
  });
}

/** The spool's settings, read by the terminus hook (as puppet) and by pdb-spool.rb (as root). */
export function renderSpoolConfig(urls: readonly string[], certname: string): string {
  return `${JSON.stringify(
    {
      dir: SPOOL_DIR,
      max_mb: SPOOL_MAX_MB,
      server_urls: urls,
      tls: {
        cert: `${SSL_DIR}/certs/${certname}.pem`,
        key: `${SSL_DIR}/private_keys/${certname}.pem`,
        ca: `${SSL_DIR}/certs/ca.pem`,
        crl: `${SSL_DIR}/crl.pem`,
      },
    },
    null,
    2,
  )}\n`;
}

/** systemd units of the spool's drain: every few seconds, a no-op when the spool is empty. */
export function renderSpoolUnits(): { service: string; timer: string } {
  return timerUnits({
    description: "Resubmit what no PuppetDB accepted",
    execStart: `${LIB_DIR}/pdb-spool.rb drain`,
    timeoutStartSec: "10min",
    period: `${SPOOL_DRAIN_SECONDS}s`,
    accuracySec: "1s",
  });
}

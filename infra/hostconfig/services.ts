// Files of the Java services: Puppet Server's HOCON and bootstrap files, PuppetDB's HOCON files,
// and the `/etc/default` files that size their heaps.
import { renderEnvFile } from "./envfile";
import { renderHocon } from "./hocon";
import { PUPPETDB_PORT } from "../ports";
import { DATABASE_CA_BUNDLE, PUPPETDB_DIR, PUPPETDB_VARDIR, PUPPETSERVER_DIR } from "./paths";
import { PuppetdbHost } from "./types";

/** The CA must accept masters' CSRs with alt names and pp_auth_role, or signing fails (409). */
export function renderCaConf(): string {
  return renderHocon({
    "certificate-authority": {
      "allow-subject-alt-names": true,
      "allow-authorization-extensions": true,
    },
  });
}

/**
 * Trapperkeeper's filesystem-watch service: with it, Jetty reloads its CRL file when the file
 * changes (trapperkeeper-webserver-jetty9's reload-crl-on-change!), so a revocation is honoured with
 * no restart. Puppet Server's bootstrap needs it too for the CA to publish its CRL to the host's.
 */
const FILESYSTEM_WATCH_SERVICE =
  "puppetlabs.trapperkeeper.services.watcher.filesystem-watch-service/filesystem-watch-service";

/** services.d/ca.cfg: the CA service on the CA, the disabled stand-in on compile masters. */
export function renderCaServices(caEnabled: boolean): string {
  const ca = caEnabled
    ? "puppetlabs.services.ca.certificate-authority-service/certificate-authority-service"
    : "puppetlabs.services.ca.certificate-authority-disabled-service/certificate-authority-disabled-service";
  return `${ca}\n${FILESYSTEM_WATCH_SERVICE}\n`;
}

/**
 * Services puppetdb.sh adds to Debian's /etc/puppetdb/bootstrap.cfg, one a line. Its Jetty library
 * names the watcher's jar in its manifest, so the service is on PuppetDB's class path already.
 */
export function renderPuppetdbBootstrapServices(): string {
  return `${FILESYSTEM_WATCH_SERVICE}\n`;
}

/** `/etc/default/puppetserver` as Debian ships it, with the heap sized for the instance. */
export function renderPuppetserverDefaults(heapMb: number): string {
  return renderEnvFile(
    {
      JAVA_ARGS: `-Xms${heapMb}m -Xmx${heapMb}m -Djruby.logger.class=com.puppetlabs.jruby_utils.jruby.Slf4jLogger`,
      JAVA_ARGS_CLI: "",
      TK_ARGS: "",
      INSTALL_DIR: "/usr/share/puppetserver",
      CONFIG: `${PUPPETSERVER_DIR}/conf.d`,
      BOOTSTRAP_CONFIG: `${PUPPETSERVER_DIR}/services.d`,
    },
    "Rendered by puppet-multisite; puppetserver's init script and unit read it.",
  );
}

/** `/etc/default/puppetdb` with the heap sized for the instance. */
export function renderPuppetdbDefaults(heapMb: number): string {
  return renderEnvFile(
    { JAVA_ARGS: `-Xmx${heapMb}m` },
    "Rendered by puppet-multisite; puppetdb's init script and unit read it.",
  );
}

/**
 * How PuppetDB and the scripts' libpq clients connect to the database: TLS, the certificate chained
 * to the CA bundle and naming the host connected to (pgjdbc's and libpq's meaning alike).
 */
export const DATABASE_SSLMODE = "verify-full";

/** PuppetDB's conf.d files; the password is added at boot in a file of its own. */
export function renderPuppetdbFiles(host: PuppetdbHost): Record<string, string> {
  const ssl = `${PUPPETDB_DIR}/ssl`;
  return {
    "config.conf": renderHocon({
      global: { vardir: PUPPETDB_VARDIR, "logging-config": `${PUPPETDB_DIR}/logback.xml` },
      puppetdb: { "certificate-allowlist": `${PUPPETDB_DIR}/certificate-allowlist` },
      "command-processing": {},
    }),
    "jetty.conf": renderHocon({
      jetty: {
        // Plain HTTP for local tools only; masters use TLS with their certificates.
        host: "127.0.0.1",
        port: 8080,
        "ssl-host": "0.0.0.0",
        "ssl-port": PUPPETDB_PORT,
        "ssl-key": `${ssl}/private.pem`,
        "ssl-cert": `${ssl}/public.pem`,
        "ssl-ca-cert": `${ssl}/ca.pem`,
        "ssl-crl-path": `${ssl}/crl.pem`,
        "access-log-config": `${PUPPETDB_DIR}/request-logging.xml`,
      },
    }),
    "database.conf": renderHocon(databaseConf(host)),
  };
}

/**
 * PuppetDB's databases. With a replica both sections list it before the primary, in pgjdbc's
 * multi-host form. Writes go to the host that takes them (`targetServerType=primary`: the primary,
 * or the replica once promoted, with no change here). Reads (every query, never a command) go to
 * the first host that answers, whatever it is: the replica, standby or promoted, else the primary,
 * because PuppetDB 7 exits at start when its read database does not answer. Not `preferSecondary`:
 * once the replica is promoted it would first try every host for a standby, and a lost primary
 * holds that try for pgjdbc's 10 s connect timeout, past the read pool's 3 s (lab: site-loss).
 * pgjdbc 42.5 (Debian's, on PuppetDB's class path) loads every certificate of the sslrootcert file
 * as a trust anchor and, for verify-full, checks the name of the host it reached.
 */
function databaseConf(host: PuppetdbHost): Record<string, Record<string, string>> {
  const db = host.database;
  const tls = `sslmode=${DATABASE_SSLMODE}&sslrootcert=${DATABASE_CA_BUNDLE}`;
  const hosts = [...(db.replica ? [db.replica] : []), db]
    .map((h) => `${h.host}:${h.port}`)
    .join(",");
  const subname = (target?: string) =>
    `//${hosts}/${db.name}?${target ? `targetServerType=${target}&` : ""}${tls}`;
  return {
    database: {
      subname: subname(db.replica && "primary"),
      username: db.user,
      // PuppetDB's schema wants the string, not a boolean.
      migrate: String(host.migrate),
    },
    // Not merged with [database]: its own user; the password is added at boot beside the other.
    ...(db.replica && {
      "read-database": { subname: subname(), username: db.user },
    }),
  };
}

/** One certname per line: the Puppet servers PuppetDB accepts commands and queries from. */
export function renderCertificateAllowlist(certnames: readonly string[]): string {
  return `${[...new Set(certnames)].join("\n")}\n`;
}

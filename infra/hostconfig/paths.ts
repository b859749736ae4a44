// Where rendered files land on a host. User data stages everything under CONF_DIR and the role's
// script installs each file into the package's own place, so the lab can stage the same files in a
// directory of its choosing (PUPPET_MULTISITE_CONF_DIR) and run the same scripts.
import { HostRole } from "./types";

/** Staged settings and configuration files. */
export const CONF_DIR = "/etc/puppet-multisite";
/** Root-only state of the scripts (secrets while in use, the first-boot marker). */
export const STATE_DIR = "/var/lib/puppet-multisite";
/** Host scripts (this module's `scripts/` directory). */
export const LIB_DIR = "/usr/local/lib/puppet-multisite";
/** Debian 12's Puppet configuration directory. */
export const PUPPET_CONFDIR = "/etc/puppet";
/** Debian 12's puppetserver directory (conf.d, services.d, the autosigner). */
export const PUPPETSERVER_DIR = "/etc/puppet/puppetserver";
/** Debian 12's PuppetDB directory. */
export const PUPPETDB_DIR = "/etc/puppetdb";
/**
 * The CA bundle the database's certificate is verified with (public certificates, readable by
 * PuppetDB's user): the JDBC URL's `sslrootcert` and libpq's PGSSLROOTCERT.
 */
export const DATABASE_CA_BUNDLE = `${PUPPETDB_DIR}/database-ca.pem`;
/** Debian 12's code directory: environments live under `environments/`. */
export const CODE_DIR = "/etc/puppet/code";
/** Log directory of the autosigner (written by puppetserver's user). */
export const LOG_DIR = "/var/log/puppet-multisite";
/** Debian 12's Puppet ssldir: every host's own key, certificate, CA certificate and CRL. */
export const SSL_DIR = "/var/lib/puppet/ssl";
/** Debian 12's CA directory (`cadir`) on the CA: signed certificates, pending requests, CRL. */
export const CA_DIR = `${PUPPETSERVER_DIR}/ca`;
/** PuppetDB's vardir: its command queue (stockpile) and discarded commands. */
export const PUPPETDB_VARDIR = "/var/lib/puppetdb";

/**
 * Where a role's state volume is mounted: the CA's directory (serial, inventory, signed
 * certificates, CRL) and PuppetDB's vardir (its command queue). Roles absent here keep no state.
 */
export const STATE_MOUNT_POINTS: Readonly<Partial<Record<HostRole, string>>> = {
  ca: CA_DIR,
  puppetdb: PUPPETDB_VARDIR,
};

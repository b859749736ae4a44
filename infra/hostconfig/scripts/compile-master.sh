#!/usr/bin/env bash
# A compile master: puppetserver with the CA service disabled, a certificate from the CA (requested
# with the server challenge and pp_auth_role, autosigned), PuppetDB termini, code synced from the
# control repository and the CA's CRL fetched, each on its own timer. Idempotent: a second run finds
# everything in place.
set -euo pipefail
PM_SCRIPT="compile-master"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

load_settings
require_settings CERTNAME CA_SERVER SERVER_CHALLENGE_SECRET_NAME \
  SERVER_CHALLENGE_SECRET_REGION CONTROL_REPO_URL \
  CONTROL_REPO_BRANCH PUPPETDB_SPOOL_DIR
install -d -m 0700 "$PM_STATE_DIR"
# Code and CRL on timers of their own: a stalled deploy never holds back a revocation. Installed
# before any step that can fail, so a first boot that is still retrying keeps them.
install_timers puppet-multisite-sync puppet-multisite-crl puppet-multisite-spool

# Puppet 7 keeps cron, host, mount, ssh_authorized_key, sshkey, augeas, mailalias and the SELinux
# types in modules; puppetserver only recommends Debian's packages of them, and installs here skip
# recommends. In /usr/share/puppet/modules (the basemodulepath) agents get them by pluginsync.
install_packages puppetserver puppet-agent puppet-terminus-puppetdb r10k git ruby curl awscli \
  puppet-module-puppetlabs-{augeas,cron,host,mailalias,mount,selinux,sshkeys}-core

install_file "$PM_CONF_DIR/puppet.conf" "$PUPPET_CONFDIR/puppet.conf" 0644
install_file "$PM_CONF_DIR/puppetdb.conf" "$PUPPET_CONFDIR/puppetdb.conf" 0644
install_file "$PM_CONF_DIR/routes.yaml" "$PUPPET_CONFDIR/routes.yaml" 0644
install_file "$PM_CONF_DIR/puppetdb-spool.json" "$PUPPET_CONFDIR/puppetdb-spool.json" 0644
install_file "$PM_CONF_DIR/puppetserver/puppetserver.conf" "$PUPPETSERVER_DIR/conf.d/puppetserver.conf" 0644
# This master may flush its own caches after a deploy (code-sync.sh); exit 3: already allowed.
rc=0
"$PM_LIB_DIR/auth-conf.rb" "$PUPPETSERVER_DIR/conf.d/auth.conf" admin "$CERTNAME" || rc=$?
case $rc in 0) CHANGED=1 ;; 3) ;; *) die "could not add the admin API rules to auth.conf" ;; esac
# What no PuppetDB accepted waits here (written by puppetserver, drained by the spool timer).
if id puppet >/dev/null 2>&1; then
  install -d -o puppet -g puppet -m 0750 "$PUPPETDB_SPOOL_DIR"
else
  install -d -m 0750 "$PUPPETDB_SPOOL_DIR"
fi
install_file "$PM_CONF_DIR/puppetserver/ca.cfg" "$PUPPETSERVER_DIR/services.d/ca.cfg" 0644
install_file "$PM_CONF_DIR/default-puppetserver" "$DEFAULTS_DIR/puppetserver" 0644

# Waits (with backoff and a log line per try) until the CA answers, then asks for the certificate.
request_certificate
# puppetserver runs as puppet and serves from the agent's ssldir.
if id puppet >/dev/null 2>&1; then
  chown -R puppet:puppet "$PUPPET_SSLDIR"
fi

# Code first, so the master never answers with an empty production environment.
"$PM_LIB_DIR/code-sync.sh"

# A new master's certname reaches the PuppetDBs' allowlists through the SRV records, minutes after
# it exists: it serves no agent before every PuppetDB that answers lets it in (a refused write is
# not failed over, and a refused collection query fails the catalog). Past the wait, what it
# submits goes to the spool.
"$PM_LIB_DIR/pdb-spool.rb" wait-access "${PUPPETDB_ACCESS_WAIT_SECONDS:-900}" ||
  log "WARNING: serving before every PuppetDB lets this master in"

service_up puppetserver "$CHANGED"
log "compile master $CERTNAME configured"

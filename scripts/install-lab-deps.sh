#!/usr/bin/env bash
# Installs the Debian 12 packages the local lab (`npm run lab`) runs for real: Puppet Server (CA and
# compile masters), PuppetDB and its terminus, the agent, PostgreSQL 15, dnsmasq (the lab's DNS),
# iproute2 (network namespaces), python3 (the WAN link between the sites), and what the host
# scripts call (git, r10k, ruby, openssl, curl, the core type modules), crontab (agents apply cron
# resources, each into its own spool) and sshd (serves the control repository over SSH in one
# scenario). No service is started: the lab starts every server itself, by PID, inside its host's
# view.
set -euo pipefail
exec bash "$(dirname "$0")/apt-install.sh" lab puppetserver puppetdb puppet-agent \
  puppet-terminus-puppetdb postgresql dnsmasq iproute2 python3 git ruby openssl curl r10k \
  cron openssh-server puppet-module-puppetlabs-{augeas,cron,host,mailalias,mount,selinux,sshkeys}-core

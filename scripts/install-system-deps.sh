#!/usr/bin/env bash
# Installs the Debian packages the checks run for real: cloud-init (schema), shellcheck, the Puppet
# agent (puppet config print), PuppetDB's terminus and JRuby (the masters' spool runs against the
# first and in the second), ruby and openssl (the CA's autosigner), git (code deploys), dnsmasq (a
# DNS server on loopback for PuppetDB's allowlist refresh), r10k and the cron, host and mount type
# modules (the lab's control repository is installed and compiled in a test).
set -euo pipefail
exec bash "$(dirname "$0")/apt-install.sh" system cloud-init shellcheck puppet-agent puppet-terminus-puppetdb jruby ruby openssl git dnsmasq \
  r10k puppet-module-puppetlabs-{cron,host,mount}-core

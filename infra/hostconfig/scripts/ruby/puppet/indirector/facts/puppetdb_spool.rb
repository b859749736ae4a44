# frozen_string_literal: true

# PuppetDB's facts terminus, named in routes.yaml so that every JRuby of puppetserver loads it as it
# configures its routes (Puppet::Indirector.configure_routes loads each route's terminus class).
# Loading it puts the spool under every command the terminus submits in that JRuby (facts,
# catalogs and reports alike), and has every request try a PuppetDB that just did not answer last.
# It also loads puppet_multisite/pinned_environment.rb, which pins the configuration of every
# environment that JRuby caches from then on.
require 'puppet/indirector/facts/puppetdb'
require 'puppet/util/puppetdb/command'
require 'puppet/util/puppetdb/http'
require 'puppet_multisite/pdb_spool'
require 'puppet_multisite/pinned_environment'

unless Puppet::Util::Puppetdb::Command.ancestors.include?(PuppetMultisite::SpoolOnFailure)
  Puppet::Util::Puppetdb::Command.prepend(PuppetMultisite::SpoolOnFailure)
  Puppet::Util::Puppetdb::Http.singleton_class.prepend(PuppetMultisite::SkipUnanswering)
  Puppet.info("PuppetDB commands that no PuppetDB accepts are spooled in #{PuppetMultisite.spool.dir}")
end

class Puppet::Node::Facts::PuppetdbSpool < Puppet::Node::Facts::Puppetdb
  desc 'PuppetDB facts terminus whose failed commands are spooled on disk and resubmitted.'
end

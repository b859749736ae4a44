#!/usr/bin/env ruby
# frozen_string_literal: true

# Puts this deployment's rules first in Puppet Server's auth.conf (sort-order 200, ahead of the
# package's rules at 500 and its "deny all"). The file is read and written with the HOCON library
# Puppet Server itself depends on; every other rule stays as the package has it. Run again, it
# replaces its own rules and changes nothing else.
#
#   auth-conf.rb AUTH_CONF admin CERTNAME     a master flushes its own caches through the admin API
#                                             (code-sync.sh, after a deploy): DELETE only, itself only
#   auth-conf.rb AUTH_CONF ca CERTNAME...     the deployment's CAs read and change certificates'
#                                             statuses on each other: the standby copies the active
#                                             CA's records, and a CA revokes and cleans with its own
#                                             certificate. Puppet Server gives those endpoints to
#                                             pp_cli_auth, which no CSR may ask for.
#
# Exit 0: written, 3: already so.
require 'hocon'
require 'json'

path, kind, *certnames = ARGV
unless path && %w[admin ca].include?(kind) && !certnames.empty?
  abort 'usage: auth-conf.rb AUTH_CONF admin CERTNAME | auth-conf.rb AUTH_CONF ca CERTNAME...'
end
rule = lambda do |name, request, allow|
  { 'match-request' => request.merge('type' => 'path'), 'allow' => allow, 'sort-order' => 200,
    'name' => "puppet-multisite #{name}" }
end
ours =
  if kind == 'admin'
    %w[environment-cache jruby-pool].map do |endpoint|
      rule.call("#{endpoint} flush", { 'path' => "/puppet-admin-api/v1/#{endpoint}", 'method' => 'delete' },
                certnames.first)
    end
  else
    # The first rule matching a request decides: pp_cli_auth keeps what the package gives it.
    allow = certnames + [{ 'extensions' => { 'pp_cli_auth' => 'true' } }]
    [
      rule.call('CA statuses', { 'path' => '/puppet-ca/v1/certificate_statuses', 'method' => 'get' }, allow),
      rule.call('CA status', { 'path' => '/puppet-ca/v1/certificate_status', 'method' => %w[get put delete] },
                allow),
      rule.call('CA clean', { 'path' => '/puppet-ca/v1/clean', 'method' => 'put' }, allow),
    ]
  end
conf = Hocon.load(path)
rules = conf.fetch('authorization').fetch('rules').reject { |r| r['name'].start_with?('puppet-multisite ') }
conf['authorization']['rules'] = ours + rules
text = "#{JSON.pretty_generate(conf)}\n"
exit 3 if File.read(path) == text
File.write("#{path}.pm-new", text)
File.rename("#{path}.pm-new", path)

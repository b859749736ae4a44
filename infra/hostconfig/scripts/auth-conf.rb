#!/usr/bin/env ruby
# Lets this master flush its own caches through Puppet Server's admin API: code-sync.sh asks for the
# environment cache and the JRuby pool to be flushed after each deploy. Without a `puppet-admin`
# section in puppetserver.conf, auth.conf decides, and Debian's (a conffile) ends in "deny all":
# the two rules go first (sort-order 200), DELETE only, for this master's certificate only. The
# file is read and written with the HOCON library Puppet Server itself depends on; every other
# rule stays as the package has it. Run again, it replaces its own rules and changes nothing else.
#
#   auth-conf.rb AUTH_CONF CERTNAME   (exit 0: written, 3: already so)
require 'hocon'
require 'json'

path, certname = ARGV
abort 'usage: auth-conf.rb AUTH_CONF CERTNAME' unless path && certname
conf = Hocon.load(path)
rules = conf.fetch('authorization').fetch('rules').reject { |r| r['name'].start_with?('puppet-multisite ') }
ours = %w[environment-cache jruby-pool].map do |endpoint|
  {
    'match-request' => { 'path' => "/puppet-admin-api/v1/#{endpoint}", 'type' => 'path', 'method' => 'delete' },
    'allow' => certname,
    'sort-order' => 200,
    'name' => "puppet-multisite #{endpoint} flush",
  }
end
conf['authorization']['rules'] = ours + rules
text = "#{JSON.pretty_generate(conf)}\n"
exit 3 if File.read(path) == text
File.write("#{path}.pm-new", text)
File.rename("#{path}.pm-new", path)

#!/usr/bin/env ruby
# frozen_string_literal: true

# Policy-based autosigner of the Puppet CA (`autosign = <this file>`). Puppet Server runs it with the
# certname as argument and the CSR (PEM) on stdin; exit 0 signs. A CSR is signed only when it
# carries one of the deployment's challenge passwords, and any authorization extension or
# subject alternative name it carries is one the policy allows for its pp_auth_role: the CA allows
# alt names and auth extensions, so this is what stops an agent from asking for a server's identity.
# Policy and challenges sit beside this file (autosign-policy.json, autosign-challenge).

require 'json'
require 'openssl'

CHALLENGE_OID = '1.2.840.113549.1.9.7'
AUTH_EXTENSION_PREFIX = '1.3.6.1.4.1.34380.1.3.'
PP_AUTH_ROLE_OID = '1.3.6.1.4.1.34380.1.3.13'

class Rejected < StandardError; end

def policy
  @policy ||= JSON.parse(File.read(ENV.fetch('AUTOSIGN_POLICY', File.join(__dir__, 'autosign-policy.json'))))
end

def challenges
  path = ENV.fetch('AUTOSIGN_CHALLENGE', File.join(__dir__, 'autosign-challenge'))
  File.read(path).split("\n").map(&:strip).reject(&:empty?)
end

def log(message)
  line = "#{Time.now.utc.strftime('%Y-%m-%dT%H:%M:%SZ')} autosign #{message}"
  warn line
  log_file = policy['logFile']
  File.open(log_file, 'a') { |f| f.puts(line) } if log_file && File.writable?(File.dirname(log_file))
rescue SystemCallError
  nil # logging must never decide a signature
end

# Attribute values are SETs of one string; the challenge may be any DirectoryString type.
def attribute_value(request, oid)
  attribute = request.attributes.find { |a| [oid, OpenSSL::ASN1::ObjectId.new(oid).sn].include?(a.oid) }
  attribute&.value&.value&.first&.value
end

def requested_extensions(request)
  ext_req = request.attributes.find { |a| a.oid == 'extReq' } or return []
  ext_req.value.value.first.value.map { |seq| OpenSSL::X509::Extension.new(seq) }
end

def extension_string(extension)
  decoded = OpenSSL::ASN1.decode(extension.value_der)
  decoded.value.is_a?(String) ? decoded.value : extension.value
rescue OpenSSL::ASN1::ASN1Error
  extension.value
end

def in_domain?(name, domain)
  name == domain || name.end_with?(".#{domain}")
end

def check(certname, request)
  raise Rejected, 'CSR signature does not verify' unless request.verify(request.public_key)

  cn = request.subject.to_a.find { |entry| entry[0] == 'CN' }&.fetch(1)
  raise Rejected, "CSR subject CN #{cn.inspect} is not the certname" unless cn == certname

  given = attribute_value(request, CHALLENGE_OID)
  raise Rejected, 'no challenge password' if given.nil? || given.empty?
  unless challenges.any? { |c| c.bytesize == given.bytesize && OpenSSL.fixed_length_secure_compare(c, given) }
    raise Rejected, 'challenge password does not match'
  end

  extensions = requested_extensions(request)
  auth = extensions.select { |e| e.oid.start_with?(AUTH_EXTENSION_PREFIX) }
  unknown = auth.map(&:oid) - [PP_AUTH_ROLE_OID]
  raise Rejected, "authorization extensions not allowed: #{unknown.join(', ')}" unless unknown.empty?

  role = auth.first && extension_string(auth.first)
  roles = policy.fetch('authRoles')
  raise Rejected, "pp_auth_role #{role.inspect} is not one of #{roles.join(', ')}" if role && !roles.include?(role)

  domain = policy.fetch('domain')
  raise Rejected, "a #{role} certname must be under #{domain}" if role && !in_domain?(certname, domain)

  san = extensions.find { |e| e.oid == 'subjectAltName' }
  return role || 'agent' unless san

  alt_name_roles = policy.fetch('altNameRoles')
  raise Rejected, "subject alt names need pp_auth_role #{alt_name_roles.join(' or ')}" unless alt_name_roles.include?(role)

  san.value.split(/,\s*/).each do |name|
    type, value = name.split(':', 2)
    raise Rejected, "alt name #{name} is not a DNS name under #{domain}" unless type == 'DNS' && in_domain?(value, domain)
  end
  role
end

certname = ARGV.fetch(0, '')
begin
  raise Rejected, 'no certname argument' if certname.empty?

  kind = check(certname, OpenSSL::X509::Request.new($stdin.read))
  log("signed #{certname} (#{kind})")
  exit 0
rescue StandardError => e # anything unexpected is a rejection, never a signature
  log("rejected #{certname}: #{e.message}")
  exit 1
end

#!/usr/bin/env ruby
# frozen_string_literal: true

# Policy-based autosigner of the Puppet CA (`autosign = <this file>`). Puppet Server runs it with the
# certname as argument and the CSR (PEM) on stdin; exit 0 signs. The policy (autosign-policy.json,
# rendered from the deployment's naming rules) decides by the challenge the CSR carries:
# - the server challenge, which only Puppet servers' instance roles can read: a server role
#   (pp_auth_role), a certname of that role's form, and exactly the alt names the deployment gives
#   that server. A new key for a server that already has a certificate is how a replaced host
#   rejoins: its previous certificate is revoked through the CA's API before the new one is signed.
# - the agent challenge: no authorization extension, no alt name, a certname that is none of the
#   servers' names and that holds no certificate yet (an agent's identity is never taken over).
# The CA allows alt names, auth extensions and duplicate certnames, so this is what stops an agent
# from asking for a server's identity. Every decision is logged with its reason.
# Fencing, before any signature: a CA's epoch is its CRL number divided by 2^32 (ca-promote.rb
# numbers a promoted CA's CRLs from epoch * 2^32), and every CA serves its CRL, signed with the
# shared CA key, without a client certificate. A peer CA of a newer epoch was promoted after this
# one: this CA then writes the standby marker with the reason, and signs nothing from then on. A
# peer that does not answer (down, or behind a partition) costs a request up to 2 s and stops
# nothing.

require 'json'
require 'net/http'
require 'openssl'

CHALLENGE_OID = '1.2.840.113549.1.9.7'
AUTH_EXTENSION_PREFIX = '1.3.6.1.4.1.34380.1.3.'
PP_AUTH_ROLE_OID = '1.3.6.1.4.1.34380.1.3.13'
# Registered (pp_role, pp_environment...) and private extensions: what agents may ask for.
AGENT_EXTENSION_PREFIXES = ['1.3.6.1.4.1.34380.1.1.', '1.3.6.1.4.1.34380.1.2.'].freeze

class Rejected < StandardError; end
# This CA is the standby: it signs nothing until it is promoted.
class Standby < Rejected; end

def policy
  @policy ||= JSON.parse(File.read(ENV.fetch('AUTOSIGN_POLICY', File.join(__dir__, 'autosign-policy.json'))))
end

def log(message)
  line = "#{Time.now.utc.strftime('%Y-%m-%dT%H:%M:%S.%LZ')} autosign #{message}"
  warn line
  log_file = policy['logFile']
  File.open(log_file, 'a') { |f| f.puts(line) } if log_file && File.writable?(File.dirname(log_file))
rescue SystemCallError
  nil # logging must never decide a signature
end

# Values of one challenge file, one a line (two during a rotation); none when it is missing.
def challenge_values(kind)
  path = policy.fetch('challenges').fetch(kind)
  File.exist?(path) ? File.read(path).split("\n").map(&:strip).reject(&:empty?) : []
end

def secure_match?(values, given)
  values.any? { |c| c.bytesize == given.bytesize && OpenSSL.fixed_length_secure_compare(c, given) }
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

# A name template (`master-{index}.{site}.example.com`) as an anchored regular expression.
def template_regexp(template)
  placeholders = policy.fetch('placeholders')
  seen = []
  source = template.split(/(\{site\}|\{index\})/).map do |part|
    key = part[/\A\{(site|index)\}\z/, 1]
    next Regexp.escape(part) unless key
    next "\\k<#{key}>" if seen.include?(key)

    seen << key
    "(?<#{key}>#{placeholders.fetch(key)})"
  end.join
  Regexp.new("\\A#{source}\\z")
end

def template_match(template, name)
  m = template_regexp(template).match(name) or return nil
  m.names.to_h { |key| [key, m[key]] }
end

def fill(template, bindings)
  template.gsub(/\{(site|index)\}/) { bindings.fetch(Regexp.last_match(1)) }
end

def reserved_template(certname)
  policy.fetch('reservedCertnames').find { |t| template_match(t, certname) }
end

def signed_path(certname)
  File.join(policy.fetch('ca').fetch('signedDir'), "#{certname}.pem")
end

def existing_certificate(certname)
  path = signed_path(certname)
  File.exist?(path) ? OpenSSL::X509::Certificate.new(File.read(path)) : nil
end

def alt_names(extensions)
  san = extensions.find { |e| e.oid == 'subjectAltName' } or return []
  san.value.split(/,\s*/).map do |entry|
    type, value = entry.split(':', 2)
    raise Rejected, "alt name #{entry} is not a DNS name" unless type == 'DNS'

    value
  end
end

def check_server(certname, extensions)
  auth = extensions.select { |e| e.oid.start_with?(AUTH_EXTENSION_PREFIX) }
  unknown = auth.map(&:oid) - [PP_AUTH_ROLE_OID]
  raise Rejected, "authorization extensions not allowed: #{unknown.join(', ')}" unless unknown.empty?

  servers = policy.fetch('servers')
  role = auth.first && extension_string(auth.first)
  raise Rejected, "the server challenge needs a pp_auth_role, one of #{servers.keys.join(', ')}" unless role
  identity = servers[role] or
    raise Rejected, "pp_auth_role #{role.inspect} is not a role the autosigner signs (#{servers.keys.join(', ')})"

  bindings = template_match(identity.fetch('certname'), certname) or
    raise Rejected, "a #{role} certname must have the form #{identity.fetch('certname')}"
  others = extensions.map(&:oid) - ['subjectAltName', PP_AUTH_ROLE_OID]
  raise Rejected, "extensions not allowed on a server certificate: #{others.join(', ')}" unless others.empty?

  expected = identity.fetch('altNames').map { |t| fill(t, bindings) }.uniq.sort
  got = alt_names(extensions).uniq.sort
  unless got == expected
    raise Rejected, "alt names #{got.inspect} are not the #{role}'s: #{certname} gets exactly #{expected.inspect}"
  end
  role
end

def check_agent(certname, extensions)
  auth = extensions.select { |e| e.oid.start_with?(AUTH_EXTENSION_PREFIX) }.map(&:oid)
  unless auth.empty?
    raise Rejected, "the agent challenge allows no authorization extension (got #{auth.join(', ')}): " \
                    'a server role needs the server challenge'
  end
  raise Rejected, 'the agent challenge allows no subject alt names' if extensions.any? { |e| e.oid == 'subjectAltName' }

  others = extensions.map(&:oid).reject { |oid| AGENT_EXTENSION_PREFIXES.any? { |p| oid.start_with?(p) } }
  raise Rejected, "extensions not allowed on an agent certificate: #{others.join(', ')}" unless others.empty?

  template = reserved_template(certname)
  raise Rejected, "#{certname} is a name of the deployment's servers (#{template}): no agent may use it" if template
  return 'agent' unless existing_certificate(certname)

  raise Rejected, "#{certname} already has a certificate, and an agent's is never re-signed automatically: " \
                  "clean it first (puppetserver ca clean --certname #{certname})"
end

def crl_epoch(crl)
  ext = crl.extensions.find { |e| e.oid == 'crlNumber' }
  (ext ? OpenSSL::ASN1.decode(ext.value_der).value.to_i : 0) >> 32
end

# A peer CA's epoch from the CRL it serves, when that verifies against the CA certificate.
def peer_epoch(peer, cacert)
  http = Net::HTTP.new(peer, policy.fetch('ca').fetch('port'))
  http.use_ssl = true
  http.verify_mode = OpenSSL::SSL::VERIFY_PEER
  http.cert_store = OpenSSL::X509::Store.new.tap { |s| s.add_cert(cacert) }
  http.open_timeout = 2
  http.read_timeout = 5
  response = http.get('/puppet-ca/v1/certificate_revocation_list/ca', 'Accept' => 'text/plain')
  raise "HTTP #{response.code}" unless response.is_a?(Net::HTTPSuccess)

  crl = OpenSSL::X509::CRL.new(response.body)
  raise 'its CRL does not verify against the CA certificate' unless crl.verify(cacert.public_key)

  crl_epoch(crl)
rescue StandardError => e
  log("fencing: no CRL from #{peer}: #{e.class}: #{e.message}")
  nil
end

# Raises Standby, after writing the marker and the fence record, when a peer CA is of a newer epoch.
def fence!
  ca = policy.fetch('ca')
  peers = ca.fetch('peers', [])
  return if peers.empty?

  cacert = OpenSSL::X509::Certificate.new(File.read(ca.fetch('cacert')))
  ours = crl_epoch(OpenSSL::X509::CRL.new(File.read(ca.fetch('crl'))))
  peer, epoch = peers.filter_map { |p| (e = peer_epoch(p, cacert)) && [p, e] }.max_by(&:last)
  return unless epoch && epoch > ours

  reason = "fenced: #{peer} is the active CA of epoch #{epoch}, this CA's is #{ours}: it signs nothing " \
           'until ca-promote.rb makes it the active CA again'
  record = { 'active' => peer, 'epoch' => epoch, 'own_epoch' => ours,
             'fenced_at' => Time.now.utc.strftime('%Y-%m-%dT%H:%M:%S.%3NZ') }
  File.write(ca.fetch('fenceRecord'), "#{JSON.pretty_generate(record)}\n")
  File.write(ca.fetch('standbyMarker'), "#{reason}\n")
  log(reason)
  raise Standby, reason
end

# What the CSR asks for: 'agent' or the server role; raises Rejected with the reason otherwise.
def check(certname, request)
  marker = policy.fetch('ca')['standbyMarker']
  # The marker holds why a fenced CA stopped; a standby's is empty.
  if marker && File.exist?(marker)
    why = File.read(marker).strip
    raise Standby, why.empty? ? 'this CA is the standby: it signs nothing until it is promoted' : why
  end
  fence!
  raise Rejected, 'CSR signature does not verify' unless request.verify(request.public_key)

  cn = request.subject.to_a.find { |entry| entry[0] == 'CN' }&.fetch(1)
  raise Rejected, "CSR subject CN #{cn.inspect} is not the certname" unless cn == certname

  given = attribute_value(request, CHALLENGE_OID)
  raise Rejected, 'no challenge password' if given.nil? || given.empty?

  extensions = requested_extensions(request)
  return check_server(certname, extensions) if secure_match?(challenge_values('server'), given)
  return check_agent(certname, extensions) if secure_match?(challenge_values('agent'), given)

  raise Rejected, 'challenge password does not match'
end

# Revokes the certificate the CA holds for certname, through the CA's own API with the CA host's
# certificate (it carries pp_cli_auth), before the new one overwrites it in the signed directory.
def revoke_previous(certname, previous)
  ca = policy.fetch('ca')
  http = Net::HTTP.new(ca.fetch('certname'), ca.fetch('port'))
  http.ipaddr = ca.fetch('address')
  http.use_ssl = true
  http.verify_mode = OpenSSL::SSL::VERIFY_PEER
  http.ca_file = ca.fetch('cacert')
  http.cert = OpenSSL::X509::Certificate.new(File.read(ca.fetch('cert')))
  http.key = OpenSSL::PKey.read(File.read(ca.fetch('key')))
  http.open_timeout = 5
  http.read_timeout = 30
  request = Net::HTTP::Put.new("/puppet-ca/v1/certificate_status/#{certname}", 'Content-Type' => 'application/json')
  request.body = JSON.generate(desired_state: 'revoked')
  response = http.request(request)
  unless response.is_a?(Net::HTTPSuccess)
    raise Rejected, "could not revoke its previous certificate (serial #{previous.serial}): " \
                    "HTTP #{response.code} #{response.body.to_s.strip[0, 200]}"
  end
  log("revoked the previous certificate of #{certname} (serial #{previous.serial}): a new key proved the server role")
rescue SystemCallError, IOError, OpenSSL::OpenSSLError, Net::OpenTimeout, Net::ReadTimeout => e
  raise Rejected, "could not revoke its previous certificate (serial #{previous.serial}): #{e.message}"
end

# Puppet Server saves a CSR before asking the autosigner: a refused one for a server's name, or for
# a name that holds a certificate, is removed, so that no one signs it by hand by mistake. So is
# every request a standby receives: Puppet Server answers a request for a name with one pending with
# 400 and never asks the autosigner again, so a request kept there would never be signed once the
# standby is promoted.
def drop_pending(certname, request)
  path = File.join(policy.fetch('ca').fetch('requestsDir'), "#{certname}.pem")
  return unless File.exist?(path) && OpenSSL::X509::Request.new(File.read(path)).to_der == request.to_der

  File.delete(path)
  log("removed the refused request of #{certname} from the pending requests")
rescue StandardError => e
  log("could not remove the refused request of #{certname}: #{e.message}")
end

certname = ARGV.fetch(0, '')
request = nil
begin
  raise Rejected, 'no certname argument' if certname.empty?

  request = OpenSSL::X509::Request.new($stdin.read)
  kind = check(certname, request)
  previous = kind == 'agent' ? nil : existing_certificate(certname)
  revoke_previous(certname, previous) if previous
  log("signed #{certname} (#{kind}#{previous ? ', replacing its previous certificate' : ''})")
  exit 0
rescue StandardError => e # anything unexpected is a rejection, never a signature
  log("rejected #{certname}: #{e.message}")
  begin
    # A standby keeps no request either: the agent sends it again, to whichever CA answers then.
    drop_pending(certname, request) if request && (e.is_a?(Standby) || reserved_template(certname) ||
                                                   existing_certificate(certname))
  rescue StandardError
    nil
  end
  exit 1
end

#!/usr/bin/env ruby
# frozen_string_literal: true

# The standby CA's copy of the active CA's records, every CA_SYNC_SECONDS and once at first boot
# before puppetserver starts. Read from the active CA's API with this host's certificate, which the
# active CA's auth.conf admits on the statuses (auth-conf.rb):
# - every certificate's status: a certificate new or re-issued there is fetched, checked against the
#   CA certificate and its serial, and written to the signed directory; one cleaned there is removed;
# - the inventory gains a line, in Puppet Server's own format, for every certificate it lacks, and
#   the serial file moves past the highest serial seen, revoked ones in the CRL included (a cleaned
#   certificate was revoked first), so a promoted CA starts beyond everything it was told of;
# - the CRL, installed only when it verifies against the CA certificate and is not older than ours.
# Nothing here signs or revokes. A CA fenced by its autosigner (a peer CA of a newer epoch) copies
# from the CA its fence record names, as a standby does. A CA without the standby marker is the
# active one, and copies nothing.
# Exit codes (ca-promote.rb reads them): 0 copied, or nothing to do; 1 the active CA answered but
# the copy was refused (an HTTP error, a record that does not verify); 2 the active CA did not
# answer (refused, unreachable, timed out, its name unknown); 3 another copy is running. --wait
# waits for a running copy instead of exiting 3.
require 'fileutils'
require 'json'
require 'net/http'
require 'openssl'
require 'shellwords'

def log(message)
  warn "#{Time.now.utc.strftime('%Y-%m-%dT%H:%M:%S.%3NZ')} [ca-sync] #{message}"
end

# host.env's NAME='value' lines; the environment wins, as in lib.sh.
conf_dir = ENV.fetch('PUPPET_MULTISITE_CONF_DIR', '/etc/puppet-multisite')
File.foreach(File.join(conf_dir, 'host.env')) do |line|
  key = line[/\A([A-Z_][A-Z0-9_]*)=/, 1] or next
  ENV[key] ||= Shellwords.split(line.chomp.delete_prefix("#{key}=")).first.to_s
end
CERTNAME = ENV.fetch('CERTNAME')
CA_SERVER = ENV.fetch('CA_SERVER')
CA_PORT = Integer(ENV.fetch('CA_PORT', '8140'))
SSLDIR = ENV.fetch('PUPPET_SSLDIR', '/var/lib/puppet/ssl')
CADIR = File.join(ENV.fetch('PUPPETSERVER_DIR', '/etc/puppet/puppetserver'), 'ca')
MARKER = File.join(CADIR, 'puppet-multisite-standby')
FENCE = File.join(CADIR, 'puppet-multisite-fence.json')
STATE = File.join(CADIR, 'puppet-multisite-sync.json')
# Puppet's certname characters: nothing else may become a file name here.
CERTNAME_PATTERN = /\A[a-z0-9][a-z0-9._-]*\z/

def write_file(path, content)
  tmp = "#{path}.pm-new"
  File.write(tmp, content)
  File.chmod(0o644, tmp)
  begin
    FileUtils.chown('puppet', 'puppet', tmp)
  rescue ArgumentError, Errno::EPERM
    nil # no puppet user (a test): root keeps it
  end
  File.rename(tmp, path)
end

# Where a standby copies from: the CA that fenced this one (autosign.rb), else the configured one.
def source
  @source ||= (File.exist?(FENCE) && JSON.parse(File.read(FENCE))['active']) || CA_SERVER
end

def http
  @http ||= Net::HTTP.new(source, CA_PORT).tap do |h|
    h.use_ssl = true
    h.verify_mode = OpenSSL::SSL::VERIFY_PEER
    h.ca_file = File.join(SSLDIR, 'certs', 'ca.pem')
    h.cert = OpenSSL::X509::Certificate.new(File.read(File.join(SSLDIR, 'certs', "#{CERTNAME}.pem")))
    h.key = OpenSSL::PKey.read(File.read(File.join(SSLDIR, 'private_keys', "#{CERTNAME}.pem")))
    h.open_timeout = 5
    h.read_timeout = 30
    h.start
  end
end

def get(path, accept)
  response = http.request(Net::HTTP::Get.new(path, 'Accept' => accept))
  raise "GET #{path}: HTTP #{response.code} #{response.body.to_s.strip[0, 200]}" unless response.is_a?(Net::HTTPSuccess)

  response.body
end

def crl_number(crl)
  ext = crl.extensions.find { |e| e.oid == 'crlNumber' }
  ext ? OpenSSL::ASN1.decode(ext.value_der).value.to_i : 0
end

# Puppet Server's inventory line: serial as 0x%04X, dates as 2024-12-02T13:00:00UTC, subject.
def inventory_line(cert)
  time = ->(t) { t.utc.strftime('%Y-%m-%dT%H:%M:%SUTC') }
  subject = cert.subject.to_a.map { |key, value, _| "#{key}=#{value}" }.join(',')
  format("0x%04X %s %s /%s\n", cert.serial.to_i, time.call(cert.not_before), time.call(cert.not_after), subject)
end

lock = File.open(File.join(CADIR, '.puppet-multisite-sync.lock'), File::CREAT | File::RDWR, 0o600)
wait = ARGV.delete('--wait')
unless lock.flock(wait ? File::LOCK_EX : File::LOCK_EX | File::LOCK_NB)
  log('another copy is running')
  exit 3
end
unless File.exist?(MARKER)
  log("no standby marker in #{CADIR}: this CA is the active one, nothing to copy")
  exit 0
end

# Everything is read and checked first, then written: a refusal leaves the copy as it was.
begin
  ca_cert = OpenSSL::X509::Certificate.new(File.read(File.join(CADIR, 'ca_crt.pem')))
  state = File.exist?(STATE) ? JSON.parse(File.read(STATE)) : {}
  known = state.fetch('certificates', {}).dup
  signed_dir = File.join(CADIR, 'signed')

  crl_pem = get('/puppet-ca/v1/certificate_revocation_list/ca', 'text/plain')
  crl = OpenSSL::X509::CRL.new(crl_pem)
  raise 'the CRL does not verify against the CA certificate' unless crl.verify(ca_cert.public_key)

  crl_path = File.join(CADIR, 'ca_crl.pem')
  our_crl = File.exist?(crl_path) ? OpenSSL::X509::CRL.new(File.read(crl_path)) : nil
  ours = our_crl ? crl_number(our_crl) : -1
  if crl_number(crl) < ours
    raise "the active CA's CRL (number #{crl_number(crl)}) is older than ours (#{ours}): " \
          'is the other CA the one promoted?'
  end

  statuses = JSON.parse(get('/puppet-ca/v1/certificate_statuses/any', 'application/json'))
  certificates = statuses.select { |s| %w[signed revoked].include?(s['state']) }
  inventory_path = File.join(CADIR, 'inventory.txt')
  inventory = File.exist?(inventory_path) ? File.read(inventory_path) : ''
  serials = inventory.scan(/^0x(\h+) /).flatten.to_h { |hex| [hex.to_i(16), true] }
  added = []
  fetched = {}
  certificates.each do |status|
    name = status['name'].to_s
    serial = status['serial_number']
    # A serial counts even when its name is refused: no number becomes a path.
    serials[serial] ||= false if serial.is_a?(Integer)
    unless CERTNAME_PATTERN.match?(name) && serial.is_a?(Integer)
      log("skipping a status with certname #{name.inspect} and serial #{serial.inspect}")
      next
    end
    next if known[name] == serial && File.exist?(File.join(signed_dir, "#{name}.pem"))

    pem = get("/puppet-ca/v1/certificate/#{name}", 'text/plain')
    cert = OpenSSL::X509::Certificate.new(pem)
    raise "the certificate of #{name} does not verify against the CA certificate" unless cert.verify(ca_cert.public_key)
    raise "the certificate of #{name} has serial #{cert.serial}, its status says #{serial}" unless cert.serial.to_i == serial

    fetched[name] = pem
    known[name] = serial
    next if serials[serial]

    added << inventory_line(cert)
    serials[serial] = true
  end
  removed = known.keys - certificates.map { |s| s['name'] }
  # What this CA has that the one it copies from lacks: certificates it signed and revocations it
  # made while it was active (a partition), kept here and listed for the operator.
  names = statuses.map { |s| s['name'] }
  only_here = Dir.glob(File.join(signed_dir, '*.pem')).map { |f| File.basename(f, '.pem') } - names - removed
  revoked_here = (our_crl&.revoked || []).map { |r| r.serial.to_i } - crl.revoked.map { |r| r.serial.to_i }

  FileUtils.mkdir_p(signed_dir)
  fetched.each { |name, pem| write_file(File.join(signed_dir, "#{name}.pem"), pem) }
  removed.each do |name|
    FileUtils.rm_f(File.join(signed_dir, "#{name}.pem"))
    known.delete(name)
  end
  write_file(inventory_path, inventory + added.join) unless added.empty?
  if crl_number(crl) > ours || File.read(crl_path) != crl_pem
    write_file(crl_path, crl_pem)
    write_file(File.join(SSLDIR, 'crl.pem'), crl_pem)
  end

  # Past every serial this CA has seen: the inventory's, the statuses' and the revoked ones.
  highest = [*serials.keys, *crl.revoked.map { |r| r.serial.to_i }].max || 1
  serial_path = File.join(CADIR, 'serial')
  current = File.exist?(serial_path) ? File.read(serial_path).strip.to_i(16) : 0
  write_file(serial_path, format('%04X', highest + 1)) if highest + 1 > current

  state = {
    'source' => source,
    'synced_at' => Time.now.utc.strftime('%Y-%m-%dT%H:%M:%S.%3NZ'),
    'certificates' => known,
    'next_serial' => [highest + 1, current].max,
    'crl_number' => crl_number(crl),
    'revoked' => crl.revoked.size,
    'signed_only_here' => only_here.sort,
    'revoked_only_here' => revoked_here.sort.map { |n| format('%04X', n) },
  }
  write_file(STATE, "#{JSON.pretty_generate(state)}\n")
  unless only_here.empty? && revoked_here.empty?
    log("unknown to #{source}: certificates signed here #{state['signed_only_here'].join(' ')}; " \
        "serials revoked here #{state['revoked_only_here'].join(' ')}")
  end
  log("copied from #{source}: #{known.size} certificates (#{fetched.size} fetched, #{removed.size} removed), " \
      "next serial #{format('%04X', state['next_serial'])}, CRL number #{state['crl_number']} " \
      "(#{state['revoked']} revoked)")
rescue SocketError, SystemCallError, Net::OpenTimeout => e
  # Nothing answered: no TCP connection was made (a name, a route, a port or a host missing).
  log("the active CA #{source} did not answer: #{e.class}: #{e.message}")
  exit 2
rescue StandardError => e
  log("could not copy from #{source}: #{e.class}: #{e.message}")
  exit 1
end

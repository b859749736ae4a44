#!/usr/bin/env ruby
# frozen_string_literal: true

# Promotes the standby CA to the active CA, in one step (README: losing the primary site):
#   sudo /usr/local/lib/puppet-multisite/ca-promote.rb [--force]
# 1. A last copy of the active CA's records (ca-sync.rb, waiting for a running one). Only when the
#    active CA did not answer at all (ca-sync.rb's exit 2) does this go on: an answer, even one the
#    copy refused, means it is alive, and promoting would make two CAs sign, so this refuses unless
#    --force (a planned switch, the other one stopped).
# 2. A new epoch, one past the highest this CA knows of (its own record, and the epoch in the serials
#    it has copied). Epoch N signs serials from N * 2^24: a CA signs within its own epoch's range, so
#    the lost CA, whatever it signed after the last copy, never issued the serials the promoted CA
#    issues, even if it is alive behind a partition. 2^24 certificates an epoch, 127 epochs: Puppet
#    Server reads the serial as a signed 32-bit number.
# 3. The CRL signed again with every revocation it holds and number N * 2^32: past any CRL the lost
#    CA can have issued since the last copy, so servers and agents that hold one of those (they
#    never install an older CRL) take the promoted CA's.
# 4. Pending requests dropped (agents send theirs again), the epoch recorded on the state volume, the
#    standby marker and any fence record (autosign.rb) removed: the autosigner signs from the next
#    request on. Puppet Server reads the serial, the CRL and the marker at each request, so nothing
#    restarts.
#
# A planned switch (a fail-back, README: losing the primary site) first stops the active CA signing:
#   sudo /usr/local/lib/puppet-multisite/ca-promote.rb --step-down
# run on it writes the standby marker and a fence record naming its peer (CA_PEERS), so it refuses
# every request from the next one on and its copy timer copies from that peer. Then `--force` on the
# peer makes a last copy that misses nothing.
require 'English'
require 'fileutils'
require 'json'
require 'openssl'
require 'rbconfig'
require 'shellwords'
require 'time'

EPOCH_SERIAL_BITS = 24
EPOCH_CRL_BITS = 32
MAX_EPOCH = 127

def log(message)
  warn "#{Time.now.utc.strftime('%Y-%m-%dT%H:%M:%S.%3NZ')} [ca-promote] #{message}"
end

def fail!(message)
  log("ERROR: #{message}")
  exit 1
end

conf_dir = ENV.fetch('PUPPET_MULTISITE_CONF_DIR', '/etc/puppet-multisite')
File.foreach(File.join(conf_dir, 'host.env')) do |line|
  key = line[/\A([A-Z_][A-Z0-9_]*)=/, 1] or next
  ENV[key] ||= Shellwords.split(line.chomp.delete_prefix("#{key}=")).first.to_s
end
force = ARGV.delete('--force')
step_down = ARGV.delete('--step-down')
fail!("usage: ca-promote.rb [--force | --step-down]; unknown argument #{ARGV.first}") unless ARGV.empty?
fail!('usage: ca-promote.rb [--force | --step-down]; not both') if force && step_down

CERTNAME = ENV.fetch('CERTNAME')
SSLDIR = ENV.fetch('PUPPET_SSLDIR', '/var/lib/puppet/ssl')
CADIR = File.join(ENV.fetch('PUPPETSERVER_DIR', '/etc/puppet/puppetserver'), 'ca')
MARKER = File.join(CADIR, 'puppet-multisite-standby')
FENCE = File.join(CADIR, 'puppet-multisite-fence.json')
EPOCH_FILE = File.join(CADIR, 'puppet-multisite-epoch.json')
SYNC_STATE = File.join(CADIR, 'puppet-multisite-sync.json')
started = Time.now

if step_down
  if File.exist?(MARKER)
    why = File.read(MARKER).strip
    fail!("#{CERTNAME} signs nothing already (#{MARKER}): #{why.empty? ? 'it is the standby' : why}")
  end
  peers = ENV.fetch('CA_PEERS', '').split
  fail!("#{CERTNAME} has #{peers.size} peer CAs (CA_PEERS): --step-down hands over to one") unless peers.size == 1
  reason = "stepped down for #{peers[0]}: it signs nothing until ca-promote.rb makes it the active CA again"
  record = { 'active' => peers[0], 'stepped_down_at' => Time.now.utc.iso8601(3) }
  File.write(FENCE, "#{JSON.pretty_generate(record)}\n")
  File.write(MARKER, "#{reason}\n")
  log("#{CERTNAME} #{reason}. Now run ca-promote.rb --force on #{peers[0]}")
  exit 0
end

fail!("#{CERTNAME} is not a standby CA (no #{MARKER}): it signs already") unless File.exist?(MARKER)

# The CA the last copy is from: the one that fenced this CA (ca-sync.rb reads the same record).
ca_server = (File.exist?(FENCE) && JSON.parse(File.read(FENCE))['active']) || ENV.fetch('CA_SERVER')
sync_script = File.join(__dir__, 'ca-sync.rb')
fail!("cannot make a last copy: no #{sync_script}") unless File.file?(sync_script)
copy = system(RbConfig.ruby, sync_script, '--wait')
fail!("cannot run #{sync_script} for a last copy: #{$CHILD_STATUS || 'not started'}") if copy.nil?
unreachable = $CHILD_STATUS.exitstatus == 2
if !unreachable && !force
  what = copy ? 'answered a last copy' : 'answered, though the last copy failed (see above)'
  fail!("the active CA #{ca_server} #{what}: it is alive, and promoting now would make two CAs " \
        'sign. Stop it first, or run again with --force for a planned switch')
end
log(if unreachable
      "the active CA #{ca_server} did not answer a last copy"
    else
      "--force: promoting though #{ca_server} answered; it must stop signing"
    end)

lock = File.open(File.join(CADIR, '.puppet-multisite-sync.lock'), File::CREAT | File::RDWR, 0o600)
lock.flock(File::LOCK_EX)

def write_file(path, content, mode = 0o644)
  tmp = "#{path}.pm-new"
  File.write(tmp, content)
  File.chmod(mode, tmp)
  begin
    FileUtils.chown('puppet', 'puppet', tmp)
  rescue ArgumentError, Errno::EPERM
    nil
  end
  File.rename(tmp, path)
end

# Everything is read and checked before anything is written: a refusal changes nothing.
key = OpenSSL::PKey.read(File.read(File.join(CADIR, 'ca_key.pem')))
ca_cert = OpenSSL::X509::Certificate.new(File.read(File.join(CADIR, 'ca_crt.pem')))
fail!("#{CADIR}/ca_key.pem is not the key of ca_crt.pem") unless ca_cert.check_private_key(key)
crl_path = File.join(CADIR, 'ca_crl.pem')
crl = OpenSSL::X509::CRL.new(File.read(crl_path))
fail!("#{crl_path} does not verify against the CA certificate") unless crl.verify(ca_cert.public_key)

old_number = crl.extensions.find { |e| e.oid == 'crlNumber' }
old_number = old_number ? OpenSSL::ASN1.decode(old_number.value_der).value.to_i : 0
sync = File.exist?(SYNC_STATE) ? JSON.parse(File.read(SYNC_STATE)) : {}
recorded = File.exist?(EPOCH_FILE) ? JSON.parse(File.read(EPOCH_FILE)).fetch('epoch', 0) : 0
serial_path = File.join(CADIR, 'serial')
next_serial = File.exist?(serial_path) ? File.read(serial_path).strip.to_i(16) : 0
# The newest epoch this CA has evidence of: its record, the serials and the CRL it copied (a CA
# promoted elsewhere numbers both from its epoch).
epoch = [recorded, (next_serial - 1) >> EPOCH_SERIAL_BITS, old_number >> EPOCH_CRL_BITS].max + 1
fail!("epoch #{epoch} would pass #{MAX_EPOCH}: Puppet Server's serials are 32-bit") if epoch > MAX_EPOCH

first_serial = (epoch << EPOCH_SERIAL_BITS)
number = [old_number + 1, epoch << EPOCH_CRL_BITS].max
factory = OpenSSL::X509::ExtensionFactory.new
factory.issuer_certificate = ca_cert
factory.crl = crl
number_extension = OpenSSL::X509::Extension.new('crlNumber', OpenSSL::ASN1::Integer(number))
crl.extensions = [number_extension, factory.create_extension('authorityKeyIdentifier', 'keyid:always')]
crl.last_update = Time.now
crl.next_update = Time.now + (5 * 365 * 24 * 3600)
crl.sign(key, OpenSSL::Digest.new('SHA256'))
pem = crl.to_pem

write_file(serial_path, format('%04X', [first_serial, next_serial].max))
write_file(crl_path, pem)
write_file(File.join(CADIR, 'infra_crl.pem'), pem)
write_file(File.join(SSLDIR, 'crl.pem'), pem)
Dir.glob(File.join(CADIR, 'requests', '*.pem')).each { |f| File.delete(f) }
record = {
  'epoch' => epoch,
  'certname' => CERTNAME,
  'promoted_at' => Time.now.utc.iso8601(3),
  'first_serial' => format('%04X', first_serial),
  'crl_number' => number,
  'last_copy_of' => sync['source'],
  'last_copy_at' => sync['synced_at'],
  'revocations' => crl.revoked.size,
}
write_file(EPOCH_FILE, "#{JSON.pretty_generate(record)}\n")
File.delete(MARKER)
FileUtils.rm_f(FENCE)
log("#{CERTNAME} is the active CA: epoch #{epoch}, serials from #{record['first_serial']}, CRL number " \
    "#{number} with #{record['revocations']} revocations, in #{(Time.now - started).round(1)} s. " \
    "Certificates #{sync['source'] || 'the lost CA'} signed after its last copy here " \
    "(#{sync['synced_at'] || 'never'}) are unknown to this CA")

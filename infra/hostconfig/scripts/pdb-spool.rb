#!/usr/bin/env ruby
# frozen_string_literal: true

# A compile master's PuppetDB spool from the command line (system Ruby, as root):
#   drain                 submit what is spooled, oldest first (the spool timer); exit 0 unless broken
#   status                the spool's state as JSON (entries, bytes, bound, refused, rejected)
#   wait-access SECONDS   first boot: wait until every PuppetDB that answers lets this master in
#                         (no 403), at most SECONDS; exit 1 if one still refuses it then
# PUPPET_MULTISITE_SPOOL_CONFIG names another configuration file (tests, the lab).
$LOAD_PATH.unshift(File.join(__dir__, 'ruby'))
require 'puppet_multisite/pdb_spool'

def log(message)
  warn "#{Time.now.utc.strftime('%Y-%m-%dT%H:%M:%S.%LZ')} [pdb-spool] #{message}"
end

config = ENV['PUPPET_MULTISITE_SPOOL_CONFIG'] || PuppetMultisite::PdbSpool::CONFIG_PATH
# The timer may fire before the first boot has written the configuration: nothing to do yet.
exit 0 if ARGV[0] == 'drain' && !File.exist?(config)
spool = PuppetMultisite::PdbSpool.load(config)
client = PuppetMultisite::PdbClient.new(spool)
case ARGV[0]
when 'drain'
  exit 0 unless File.directory?(spool.dir)
  # One drain at a time: a second one would submit the same entries again.
  lock = File.open(File.join(spool.dir, '.drain.lock'), File::RDWR | File::CREAT, 0o600)
  exit 0 unless lock.flock(File::LOCK_EX | File::LOCK_NB)
  before = spool.entries.size
  exit 0 if before.zero?
  done, left = spool.drain(client, method(:log))
  status = spool.status
  log("submitted #{done} of #{before} spooled commands; #{left} left " \
      "(#{status['bytes']} of #{status['max_bytes']} bytes; #{status['refused']} refused by the bound, " \
      "#{status['rejected']} rejected by PuppetDB)")
when 'status'
  puts JSON.generate(spool.status)
when 'wait-access'
  deadline = Time.now + Integer(ARGV[1] || 900)
  last = nil
  loop do
    access = client.access
    denied = access.select { |_, v| v == :denied }.keys
    if denied.empty?
      answering = access.count { |_, v| v == :allowed }
      log("PuppetDB access: #{answering} of #{access.size} PuppetDBs answer and let this master in" \
          "#{answering.zero? ? ' (none answers: what this master submits is spooled)' : ''}")
      exit 0
    end
    if denied != last
      log("waiting for #{denied.join(', ')} to let this master in (its allowlist follows the sites' SRV records)")
      last = denied
    end
    if Time.now >= deadline
      log("WARNING: #{denied.join(', ')} still refuse this master: its commands are spooled until they let it in")
      exit 1
    end
    sleep 5
  end
else
  abort "usage: #{File.basename($PROGRAM_NAME)} drain | status | wait-access SECONDS"
end

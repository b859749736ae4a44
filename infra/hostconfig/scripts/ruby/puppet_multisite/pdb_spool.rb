# frozen_string_literal: true

# The spool of a compile master: the PuppetDB commands that no PuppetDB accepted, kept on the
# master's disk until one does. Loaded by puppetserver's JRuby (through the facts terminus named in
# routes.yaml; Ruby 2.6, as JRuby 9.3) and by the system Ruby (pdb-spool.rb, which drains it).
require 'json'
require 'fileutils'
require 'digest'
require 'securerandom'
require 'time'
require 'net/http'
require 'openssl'

module PuppetMultisite
  class PdbSpool
    CONFIG_PATH = '/etc/puppet/puppetdb-spool.json'
    # Commands of which PuppetDB keeps only the newest per node (it ignores one with an older
    # producer timestamp than it has): a newer one replaces the spooled one. Reports are all kept.
    LATEST_ONLY = %w[replace_facts replace_catalog replace_catalog_inputs deactivate_node].freeze
    # <ms>-<random>-<command>-<certname hash>.json: names sort by the time they were spooled, and a
    # node's entries of one command are found without reading a file.
    ENTRY = /\A(\d{13})-\h{8}-([a-z_]+)-(\h{16})\.json\z/.freeze

    attr_reader :dir, :max_bytes, :server_urls, :tls

    def self.load(path = ENV['PUPPET_MULTISITE_SPOOL_CONFIG'] || CONFIG_PATH)
      c = JSON.parse(File.read(path))
      new(c.fetch('dir'), Integer(c.fetch('max_mb')) << 20, Array(c.fetch('server_urls')), c.fetch('tls', {}))
    end

    def initialize(dir, max_bytes, server_urls, tls)
      @dir = dir
      @max_bytes = max_bytes
      @server_urls = server_urls
      @tls = tls
    end

    # Keeps a command (Hash: command, version, certname, producer_timestamp, checksum, payload, the
    # JSON text sent). Returns [:kept, path] or [:full, bytes used]. No lock, so JRubies never
    # wait on each other: an entry is written under a temporary name and renamed, and the older
    # entries it supersedes are removed only once it is in place.
    def keep(command)
      FileUtils.mkdir_p(dir)
      name = command.fetch('command')
      node = Digest::SHA256.hexdigest(command.fetch('certname'))[0, 16]
      list = entries
      old = LATEST_ONLY.include?(name) ? list.select { |e| e[:command] == name && e[:node] == node } : []
      data = JSON.generate(command.merge('spooled_at' => Time.now.utc.iso8601(3)))
      used = bytes(list)
      if used - bytes(old) + data.bytesize > max_bytes
        File.open(refused_log, 'a', 0o640) do |f|
          f.puts(JSON.generate('time' => Time.now.utc.iso8601(3), 'command' => name, 'bytes' => data.bytesize,
                               'certname' => command['certname'], 'used' => used, 'max_bytes' => max_bytes))
        end
        return [:full, used]
      end
      path = File.join(dir, format('%013d-%s-%s-%s.json', (Time.now.to_f * 1000).to_i, SecureRandom.hex(4), name, node))
      File.open("#{path}.tmp", File::WRONLY | File::CREAT | File::EXCL, 0o640) { |f| f.write(data) }
      File.rename("#{path}.tmp", path)
      old.each { |e| remove(e[:path]) }
      [:kept, path]
    end

    # Entries, oldest first: { path:, command:, node: }.
    def entries
      return [] unless File.directory?(dir)

      Dir.children(dir).sort.map do |f|
        m = ENTRY.match(f) and { path: File.join(dir, f), command: m[2], node: m[3] }
      end.compact
    end

    def status
      list = entries
      { 'entries' => list.size, 'bytes' => bytes(list), 'max_bytes' => max_bytes,
        'by_command' => list.group_by { |e| e[:command] }.map { |k, v| [k, v.size] }.to_h,
        'refused' => File.exist?(refused_log) ? File.foreach(refused_log).count : 0,
        'rejected' => File.directory?(rejected_dir) ? Dir.children(rejected_dir).size : 0 }
    end

    # Submits the entries oldest first with `client` (#submit -> :ok, :rejected or :unavailable),
    # stopping at the first that no PuppetDB takes, so the order holds. One PuppetDB refuses as
    # invalid is moved to rejected/ and said, never retried for ever. Returns [submitted, left].
    def drain(client, log)
      list = entries
      done = 0
      list.each_with_index do |e, i|
        command = begin
          JSON.parse(File.read(e[:path]))
        rescue Errno::ENOENT
          next # superseded by a newer entry of its node meanwhile
        rescue JSON::ParserError => err
          reject(e[:path], log, err.message)
          next
        end
        case client.submit(command)
        when :ok
          remove(e[:path])
          done += 1
        when :unavailable
          log.call("no PuppetDB took #{command['command']} for #{command['certname']}: #{client.last_error}")
          return [done, list.size - i]
        else
          reject(e[:path], log, "#{command['command']} for #{command['certname']}: #{client.last_error}")
        end
      end
      [done, 0]
    end

    private

    def bytes(list)
      list.sum { |e| File.size?(e[:path]) || 0 }
    end

    def remove(path)
      File.delete(path)
    rescue Errno::ENOENT
      nil
    end

    def rejected_dir
      File.join(dir, 'rejected')
    end

    def refused_log
      File.join(dir, 'refused.log')
    end

    def reject(path, log, why)
      FileUtils.mkdir_p(rejected_dir)
      File.rename(path, File.join(rejected_dir, File.basename(path)))
      log.call("ERROR: moved to #{rejected_dir}, PuppetDB refuses it: #{why}")
    end
  end

  # PuppetDB's command endpoint with the master's own certificate, every server URL in order: a 403
  # (a PuppetDB that has not let this master in yet), a 5xx or no answer moves on to the next.
  class PdbClient
    attr_reader :last_error

    def initialize(spool)
      @spool = spool
    end

    def submit(command)
      query = URI.encode_www_form(%w[command version certname checksum].to_h { |k| [k, command[k]] }
        .merge('producer-timestamp' => command['producer_timestamp']))
      @spool.server_urls.each do |url|
        code = request(url, "pdb/cmd/v1?#{query}", command['payload'])
        return :ok if code == 200
        return :rejected if [400, 413].include?(code)
      end
      :unavailable
    end

    # Per server URL: :allowed, :denied (403) or :unreachable.
    def access
      @spool.server_urls.to_h do |url|
        code = request(url, 'pdb/meta/v1/version')
        [url, { 200 => :allowed, 403 => :denied }.fetch(code, :unreachable)]
      end
    end

    private

    def request(url, path, body = nil)
      uri = URI.join(url.end_with?('/') ? url : "#{url}/", path)
      req = body ? Net::HTTP::Post.new(uri, 'Content-Type' => 'application/json') : Net::HTTP::Get.new(uri)
      req.body = body
      http = Net::HTTP.new(uri.host, uri.port)
      http.open_timeout = 2
      http.read_timeout = 20
      tls(http) if uri.scheme == 'https'
      response = http.start { |h| h.request(req) }
      @last_error = "#{url}: HTTP #{response.code} #{response.body.to_s[0, 200]}" unless response.code == '200'
      response.code.to_i
    rescue StandardError, Timeout::Error => e
      @last_error = "#{url}: #{e.class}: #{e.message}"
      nil
    end

    # The same trust as the terminus: the CA's certificate and, once there is one, its CRL.
    def tls(http)
      t = @spool.tls
      http.use_ssl = true
      http.verify_mode = OpenSSL::SSL::VERIFY_PEER
      http.cert = OpenSSL::X509::Certificate.new(File.read(t.fetch('cert')))
      http.key = OpenSSL::PKey.read(File.read(t.fetch('key')))
      http.cert_store = OpenSSL::X509::Store.new.tap do |store|
        store.add_file(t.fetch('ca'))
        if File.exist?(t['crl'].to_s)
          store.add_crl(OpenSSL::X509::CRL.new(File.read(t['crl'])))
          store.flags = OpenSSL::X509::V_FLAG_CRL_CHECK
        end
      end
    end
  end

  # Prepended to the terminus's command: one that no PuppetDB accepted (with soft_write_failure the
  # terminus logs it and returns no result) goes to the spool instead of being lost.
  module SpoolOnFailure
    def submit
      result = super
      PuppetMultisite.spool_command(self) unless result.is_a?(Hash) && result['uuid']
      result
    end
  end

  # Prepended to the terminus's HTTP class, which tries the server URLs in their order at every
  # request: one that did not answer (a connection error or timeout) is tried last for HOLD_SECONDS,
  # so a black-holed PuppetDB costs its connect timeout once per JRuby and period, not once per
  # command and query. Sticky reads keep their own order.
  module SkipUnanswering
    HOLD_SECONDS = 30

    def failover_action(path_suffix, server_urls, sticky, ssl_context = nil, http_callback)
      unless sticky
        held = Time.now.to_f - HOLD_SECONDS
        server_urls = server_urls.each_with_index.sort_by do |url, i|
          [(PuppetMultisite.unanswered[url.to_s] || 0) > held ? 1 : 0, i]
        end.map(&:first)
      end
      super(path_suffix, server_urls, sticky, ssl_context, http_callback)
    end

    def with_http_error_logging(server_url, route, &callback)
      error = super
      if error
        PuppetMultisite.unanswered[server_url.to_s] = Time.now.to_f
      else
        PuppetMultisite.unanswered.delete(server_url.to_s)
      end
      error
    end
  end

  # URL => when it last did not answer (each JRuby serves one request at a time).
  def self.unanswered
    @unanswered ||= {}
  end

  def self.spool
    @spool ||= PdbSpool.load
  end

  def self.spool_command(cmd)
    what = "'#{cmd.command}' for #{cmd.certname}"
    outcome, detail = spool.keep('command' => cmd.command, 'version' => cmd.version, 'certname' => cmd.certname,
                                 'producer_timestamp' => cmd.producer_timestamp_utc.iso8601(3),
                                 'checksum' => cmd.checksum, 'payload' => cmd.payload)
    if outcome == :kept
      Puppet.warning("#{what} spooled for PuppetDB: #{detail}")
    else
      Puppet.err("PuppetDB spool FULL (#{detail} of #{spool.max_bytes} bytes): #{what} NOT kept, see #{spool.dir}/refused.log")
    end
  rescue StandardError => e
    Puppet.err("PuppetDB spool: #{what} NOT kept: #{e.class}: #{e.message}")
  end
end

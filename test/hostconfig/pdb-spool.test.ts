// The master's PuppetDB spool (scripts/ruby/puppet_multisite/pdb_spool.rb, scripts/pdb-spool.rb),
// run with the system Ruby against a PuppetDB stand-in that records what it is sent.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { createServer, IncomingMessage, Server } from "node:http";
import { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect } from "vitest";
import { SCRIPTS_DIR } from "../../infra/hostconfig";
import { itWithTools } from "./helpers";

const run = promisify(execFile);
const RUBY_DIR = join(SCRIPTS_DIR, "ruby");

interface Received {
  readonly url: string;
  readonly query: URLSearchParams;
  readonly body: string;
}

/** A PuppetDB stand-in: answers each command with `answer()` and records it. */
async function fakePuppetdb(
  answer: (q: URLSearchParams) => number,
): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const u = new URL(req.url ?? "/", "http://x");
      const code = answer(u.searchParams);
      received.push({ url: u.pathname, query: u.searchParams, body });
      res.writeHead(code, { "Content-Type": "application/json" });
      res.end(code === 200 ? '{"uuid":"00000000-0000-0000-0000-000000000000"}' : '{"error":"no"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, received, server };
}

describe("PuppetDB spool", () => {
  let dir: string;
  let config: string;
  const servers: Server[] = [];

  const configure = (urls: string[], maxMb = 1) =>
    writeFileSync(
      config,
      JSON.stringify({ dir: join(dir, "spool"), max_mb: maxMb, server_urls: urls, tls: {} }),
    );

  /** Runs Ruby code with the spool loaded and PUPPET_MULTISITE_SPOOL_CONFIG set. */
  const ruby = async (code: string, interpreter = "ruby") =>
    (
      await run(interpreter, ["-I", RUBY_DIR, "-r", "puppet_multisite/pdb_spool", "-e", code], {
        env: { ...process.env, PUPPET_MULTISITE_SPOOL_CONFIG: config },
      })
    ).stdout;

  /** Ruby that spools one command; `payload` is its JSON text, or a Ruby expression with `rb`. */
  const keep = (command: string, certname: string, payload: string, ts: string, rb = false) =>
    `PuppetMultisite::PdbSpool.load.keep('command' => '${command}', 'version' => 5, 'certname' => '${certname}', 'producer_timestamp' => '${ts}', 'checksum' => 'c', 'payload' => ${rb ? payload : `'${payload}'`})`;
  /** 700 KiB: two do not fit under a 1 MiB bound. */
  const BIG = "'x' * (700 * 1024)";

  const cli = (...args: string[]) =>
    run(join(SCRIPTS_DIR, "pdb-spool.rb"), args, {
      env: { ...process.env, PUPPET_MULTISITE_SPOOL_CONFIG: config },
    });

  /** Spools commands one after the other, 2 ms apart, so their names sort in that order. */
  const keepAll = (...commands: string[]) => ruby(commands.join("; sleep 0.002; "));

  /** PuppetDB stand-ins answering with `answers`, configured as the server URLs in that order. */
  const serve = async (...answers: ((q: URLSearchParams) => number)[]) => {
    const started = await Promise.all(answers.map((answer) => fakePuppetdb(answer)));
    servers.push(...started.map((p) => p.server));
    configure(started.map((p) => p.url));
    return started;
  };

  const entries = () =>
    existsSync(join(dir, "spool"))
      ? readdirSync(join(dir, "spool")).filter((f) => f.endsWith(".json"))
      : [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "pdb-spool-"));
    config = join(dir, "spool.json");
    configure(["http://127.0.0.1:9"]);
  });
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });

  itWithTools(["ruby"], "keeps every report, and only the newest facts of a node", async () => {
    await keepAll(
      keep("store_report", "a.example", '{"r":1}', "2026-01-01T00:00:01.000Z"),
      keep("replace_facts", "a.example", '{"f":1}', "2026-01-01T00:00:01.000Z"),
      keep("store_report", "a.example", '{"r":2}', "2026-01-01T00:00:02.000Z"),
      keep("replace_facts", "b.example", '{"f":"b"}', "2026-01-01T00:00:02.000Z"),
      keep("replace_facts", "a.example", '{"f":2}', "2026-01-01T00:00:03.000Z"),
    );
    const status = JSON.parse((await cli("status")).stdout) as Record<string, unknown>;
    expect(status).toMatchObject({
      entries: 4,
      by_command: { store_report: 2, replace_facts: 2 },
      refused: 0,
    });
    // Oldest first: names sort by the time they were spooled.
    const payloads = entries()
      .sort()
      .map(
        (f) =>
          (JSON.parse(readFileSync(join(dir, "spool", f), "utf8")) as { payload: string }).payload,
      );
    expect(payloads).toEqual(['{"r":1}', '{"r":2}', '{"f":"b"}', '{"f":2}']);
  });

  itWithTools(["ruby"], "refuses what would pass the bound, and records it", async () => {
    configure(["http://127.0.0.1:9"], 1);
    const out = await ruby(
      `p ${keep("store_report", "a.example", BIG, "2026-01-01T00:00:01.000Z", true)}[0]; p ${keep("store_report", "a.example", BIG, "2026-01-01T00:00:02.000Z", true)}[0]`,
    );
    expect(out.trim().split("\n")).toEqual([":kept", ":full"]);
    expect(entries()).toHaveLength(1);
    const refused = readFileSync(join(dir, "spool", "refused.log"), "utf8")
      .trim()
      .split("\n");
    expect(refused).toHaveLength(1);
    expect(JSON.parse(refused[0])).toMatchObject({
      command: "store_report",
      certname: "a.example",
      max_bytes: 1024 * 1024,
    });
    // The payload never goes into the record.
    expect(refused[0]).not.toContain("xxxx");
    expect((JSON.parse((await cli("status")).stdout) as Record<string, unknown>).refused).toBe(1);
  });

  itWithTools(
    ["ruby"],
    "a newer facts of a node replaces the spooled one within the bound",
    async () => {
      configure(["http://127.0.0.1:9"], 1);
      const out = await ruby(
        `p ${keep("replace_facts", "a.example", BIG, "2026-01-01T00:00:01.000Z", true)}[0]; sleep 0.002; p ${keep("replace_facts", "a.example", BIG, "2026-01-01T00:00:02.000Z", true)}[0]`,
      );
      expect(out.trim().split("\n")).toEqual([":kept", ":kept"]);
      expect(entries()).toHaveLength(1);
    },
  );

  itWithTools(
    ["ruby"],
    "drains oldest first, failing over past a 403, and removes what was taken",
    async () => {
      const [refusing, taking] = await serve(
        () => 403,
        () => 200,
      );
      await keepAll(
        keep("store_report", "a.example", '{"r":1}', "2026-01-01T00:00:01.000Z"),
        keep("replace_facts", "a.example", '{"f":1}', "2026-01-01T00:00:02.000Z"),
        keep("store_report", "b.example", '{"r":2}', "2026-01-01T00:00:03.000Z"),
      );
      const { stderr } = await cli("drain");
      expect(stderr).toMatch(/submitted 3 of 3 spooled commands; 0 left/);
      expect(entries()).toEqual([]);
      expect(taking.received.map((r) => r.body)).toEqual(['{"r":1}', '{"f":1}', '{"r":2}']);
      // Each command as the terminus would have sent it: same parameters, so PuppetDB dedups a
      // report sent twice (its hash covers certname, times, transaction) and ignores older facts.
      const first = taking.received[0];
      expect(first.url).toBe("/pdb/cmd/v1");
      expect(Object.fromEntries(first.query)).toEqual({
        command: "store_report",
        version: "5",
        certname: "a.example",
        checksum: "c",
        "producer-timestamp": "2026-01-01T00:00:01.000Z",
      });
      expect(refusing.received).toHaveLength(3);
    },
  );

  itWithTools(
    ["ruby"],
    "resubmits the same bytes when a drain is interrupted after PuppetDB took one",
    async () => {
      const [pdb] = await serve(() => 200);
      await ruby(keep("store_report", "a.example", '{"r":1}', "2026-01-01T00:00:01.000Z"));
      const entry = entries()[0];
      const saved = readFileSync(join(dir, "spool", entry), "utf8");
      await cli("drain");
      // As if the drain had died between PuppetDB's answer and the removal.
      writeFileSync(join(dir, "spool", entry), saved);
      await cli("drain");
      expect(pdb.received).toHaveLength(2);
      expect(pdb.received[1].body).toBe(pdb.received[0].body);
      expect(pdb.received[1].query.toString()).toBe(pdb.received[0].query.toString());
    },
  );

  itWithTools(
    ["ruby"],
    "stops at the first command no PuppetDB takes, keeping the order",
    async () => {
      let calls = 0;
      const [flaky] = await serve(() => (++calls === 2 ? 503 : 200));
      await keepAll(
        keep("store_report", "a.example", '{"r":1}', "2026-01-01T00:00:01.000Z"),
        keep("store_report", "a.example", '{"r":2}', "2026-01-01T00:00:02.000Z"),
        keep("store_report", "a.example", '{"r":3}', "2026-01-01T00:00:03.000Z"),
      );
      const { stderr } = await cli("drain");
      expect(stderr).toMatch(/submitted 1 of 3 spooled commands; 2 left/);
      expect(flaky.received.map((r) => r.body)).toEqual(['{"r":1}', '{"r":2}']);
      await cli("drain");
      expect(flaky.received.map((r) => r.body)).toEqual([
        '{"r":1}',
        '{"r":2}',
        '{"r":2}',
        '{"r":3}',
      ]);
      expect(entries()).toEqual([]);
    },
  );

  itWithTools(
    ["ruby"],
    "moves what PuppetDB refuses as invalid to rejected/, and goes on",
    async () => {
      await serve((q) => (q.get("certname") === "bad.example" ? 400 : 200));
      await keepAll(
        keep("store_report", "bad.example", '{"r":0}', "2026-01-01T00:00:01.000Z"),
        keep("store_report", "a.example", '{"r":1}', "2026-01-01T00:00:02.000Z"),
      );
      const { stderr } = await cli("drain");
      expect(stderr).toMatch(
        /ERROR: moved to .*rejected, PuppetDB refuses it: store_report for bad.example/,
      );
      expect(entries()).toEqual([]);
      expect(readdirSync(join(dir, "spool", "rejected"))).toHaveLength(1);
      expect((JSON.parse((await cli("status")).stdout) as Record<string, unknown>).rejected).toBe(
        1,
      );
    },
  );

  itWithTools(
    ["ruby"],
    "wait-access waits out a 403, and does not wait on a PuppetDB that is down",
    async () => {
      let denied = 2;
      const pdb = await fakePuppetdb(() => (denied-- > 0 ? 403 : 200));
      servers.push(pdb.server);
      configure([pdb.url, "http://127.0.0.1:9"]);
      // Exit 0 (cli rejects otherwise): it stopped waiting once the answering one let it in.
      const { stderr } = await cli("wait-access", "60");
      expect(stderr).toMatch(/waiting for http:\/\/127\.0\.0\.1:\d+ to let this master in/);
      expect(stderr).not.toMatch(/waiting for .*127\.0\.0\.1:9\b/);
      expect(stderr).toMatch(/1 of 2 PuppetDBs answer and let this master in/);
      // Two refusals, then the answer that let it in, and not one probe more.
      expect(pdb.received.map((r) => r.url)).toEqual(Array(3).fill("/pdb/meta/v1/version"));
    },
  );

  itWithTools(
    ["ruby"],
    "the terminus hook spools only a command that no PuppetDB accepted",
    async () => {
      const out = await ruby(`
      module Puppet; def self.warning(m); puts "warning: #{m}"; end; def self.err(m); puts "err: #{m}"; end; end
      class Command
        attr_reader :command, :version, :certname, :producer_timestamp_utc, :checksum, :payload
        def initialize(ok); @ok = ok; @command = 'store_report'; @version = 8; @certname = 'a.example'
          @producer_timestamp_utc = Time.utc(2026, 1, 1); @checksum = 'c'; @payload = '{}'; end
        def submit; @ok ? { 'uuid' => 'u' } : nil; end
      end
      Command.prepend(PuppetMultisite::SpoolOnFailure)
      Command.new(true).submit
      Command.new(false).submit
    `);
      expect(out).toMatch(/^warning: 'store_report' for a.example spooled for PuppetDB: /m);
      expect(out).not.toMatch(/^err:/m);
      expect(entries()).toHaveLength(1);
    },
  );

  itWithTools(["jruby"], "loads in JRuby 9.3 (Ruby 2.6), as puppetserver runs it", async () => {
    await ruby(keep("store_report", "a.example", '{"r":1}', "2026-01-01T00:00:01.000Z"), "jruby");
    expect(entries()).toHaveLength(1);
  });

  itWithTools(
    ["ruby"],
    "tries a PuppetDB that just did not answer last, with the terminus's own failover",
    async () => {
      // Debian's puppet-terminus-puppetdb, its config stubbed: URL a does not answer, b does.
      const out = await ruby(`
      require 'puppet'
      require 'puppet/util/puppetdb'
      require 'puppet/util/puppetdb/http'
      Puppet::Util::Puppetdb::Http.singleton_class.prepend(PuppetMultisite::SkipUnanswering)
      config = Struct.new(:server_url_timeout, :submit_only_server_urls, :soft_write_failure,
                          :min_successful_submissions).new(5, [], true, 1)
      Puppet::Util::Puppetdb.define_singleton_method(:config) { config }
      urls = [URI('https://a:8081'), URI('https://b:8081')]
      down = ['a']
      tried = []
      answer = lambda do |_http, uri, _ssl|
        tried << uri.host
        raise Puppet::HTTP::ConnectionError.new('connect timed out', nil) if down.include?(uri.host)
        Struct.new(:code, :body, :reason).new(200, '{}', 'OK')
      end
      call = -> { Puppet::Util::Puppetdb::Http.failover_action('/pdb/cmd/v1', urls, false, nil, answer) }
      2.times { call.() }
      puts tried.join(',')
      # Past the hold, a is tried first again; it answers now and stays first.
      PuppetMultisite.unanswered['https://a:8081'] -= PuppetMultisite::SkipUnanswering::HOLD_SECONDS
      down.clear
      tried.clear
      2.times { call.() }
      puts tried.join(',')
    `);
      expect(out.trim().split("\n").slice(-2)).toEqual(["a,b,b", "a,a"]);
    },
  );
});

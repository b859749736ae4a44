// Agents are not built by the program: the lab gives each one its site's agent settings and an
// autosign challenge, and reads what a run did from the agent's own report and summary.
import { existsSync, readFileSync, writeFileSync } from "fs";
import { parse as parseIni } from "ini";
import { parse, stringify } from "yaml";
import { IniValue, renderIni } from "../infra/hostconfig/ini";
import { seedHost } from "./first-boot";
import { ExecHost, RunResult, hostPath, runInHost } from "./host";

export interface AgentOptions {
  /** `[main]` settings of the agent's site: renderAgentConfig's output. */
  readonly puppetConf: string;
  /** The autosign challenge the agent puts in its CSR; none: a CSR without one (refused). */
  readonly challenge?: string;
  /** Extra `[main]` settings appended (lab-only, e.g. `server_list` without SRV). */
  readonly extraMain?: Record<string, string>;
}

/**
 * The agent's puppet.conf: the site's `[main]` settings with `extra` set in their place. Puppet
 * keeps the first value of a setting given twice in a section (seen with Puppet 7.23), so settings
 * are replaced, never appended.
 */
export function agentPuppetConf(siteConf: string, extra: Readonly<Record<string, string>>): string {
  const doc = parseIni(siteConf) as Record<string, Record<string, IniValue>>;
  return renderIni([["main", { ...doc.main, ...extra }]]);
}

/** puppet.conf (certname + the site's agent settings) and csr_attributes.yaml of an agent. */
export async function prepareAgent(host: ExecHost, opts: AgentOptions): Promise<void> {
  await seedHost(host);
  const conf = agentPuppetConf(opts.puppetConf, { certname: host.certname, ...opts.extraMain });
  writeFileSync(hostPath(host, "/etc/puppet/puppet.conf"), conf);
  const attrs = hostPath(host, "/etc/puppet/csr_attributes.yaml");
  if (opts.challenge === undefined) {
    if (existsSync(attrs)) writeFileSync(attrs, "{}\n");
  } else {
    writeFileSync(
      attrs,
      stringify({ custom_attributes: { "1.2.840.113549.1.9.7": opts.challenge } }),
      {
        mode: 0o600,
      },
    );
  }
}

export interface AgentRun extends RunResult {
  /**
   * `host:port` of the server the run used for its catalog (the report's `server_used`): the SRV
   * target (a master's own name) with SRV records, the `server_list` entry otherwise. PuppetDB's
   * report `producer` names the master's certname behind a pool name.
   */
  readonly master?: string;
  /** The catalog's config_version (the deployed control repository commit). */
  readonly configVersion?: string;
  /** The run's transaction UUID: how its report is found in PuppetDB. */
  readonly transactionUuid?: string;
  /** Resources changed and failed, from last_run_summary.yaml. */
  readonly changed?: number;
  readonly failed?: number;
}

/** `puppet agent -t` inside the host. ok: exit 0 or 2 (--detailed-exitcodes: changes applied). */
export async function runAgent(
  host: ExecHost,
  opts: { args?: readonly string[]; timeoutMs?: number; asDaemon?: boolean } = {},
): Promise<AgentRun> {
  const report = hostPath(host, "/var/cache/puppet/state/last_run_report.yaml");
  const before = existsSync(report) ? readFileSync(report, "utf8") : "";
  // --test turns usecacheonfailure off; a daemon's run keeps it on (its default): the same
  // settings --test sets, but that one.
  const mode = opts.asDaemon
    ? ["--onetime", "--no-daemonize", "--verbose", "--no-splay", "--show_diff"]
    : ["--test"];
  const r = await runInHost(
    host,
    ["puppet", "agent", ...mode, "--detailed-exitcodes", "--color=false", ...(opts.args ?? [])],
    { logName: "agent", timeoutMs: opts.timeoutMs ?? 300_000 },
  );
  const ok = r.code === 0 || r.code === 2;
  const text = existsSync(report) ? readFileSync(report, "utf8") : "";
  const fresh = text !== before ? text : "";
  const fields = readRunReport(fresh);
  let changed: number | undefined;
  let failed: number | undefined;
  const summaryPath = hostPath(host, "/var/cache/puppet/public/last_run_summary.yaml");
  if (existsSync(summaryPath)) {
    const summary = parse(readFileSync(summaryPath, "utf8")) as {
      resources?: { changed?: number; failed?: number };
    };
    changed = summary.resources?.changed;
    failed = summary.resources?.failed;
  }
  return {
    ...r,
    ok,
    ...fields,
    changed,
    failed,
  };
}

/**
 * The master and the catalog's version from an agent's `last_run_report.yaml`, read with a YAML
 * parser: Psych quotes a value either way (`'0485a6e1862e (production)'` comes single-quoted), and
 * the document's Ruby tags (`!ruby/object:...`) are read as plain maps.
 */
export function readRunReport(text: string): {
  master?: string;
  configVersion?: string;
  transactionUuid?: string;
} {
  const doc = (text ? parse(text, { logLevel: "silent" }) : null) as Record<string, unknown> | null;
  const field = (name: string) => {
    const value = doc?.[name];
    return typeof value === "string" ? value : undefined;
  };
  return {
    master: field("server_used"),
    configVersion: field("configuration_version"),
    transactionUuid: field("transaction_uuid"),
  };
}

// Scenarios over the control repository itself (lab/control-repo.ts): the core types applied on
// every agent, a changed Ruby function served without a restart, and deploys that never mix two
// commits in one catalog (masters deploying over SSH: lab/ssh-control-repo.ts). Timings are
// figures, never asserted.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { AgentRun } from "./agents";
import {
  CORE_TYPES,
  MARKER_NOTIFIES,
  Markers,
  agentFiles,
  markersAt,
  setLabValue,
  setMarkers,
} from "./control-repo";
import { hostPath, runInHost } from "./host";
import { Lab, Node } from "./lab";
import { Figure } from "./report";
import { puppetTls } from "./services";
import { failedResources, notifyMessage, resourcesOf, runDetails } from "./run-details";
import { Outcome, deployedCommit, median } from "./scenarios";
import { sleep } from "./sleep";

const CORE_TYPE_NAMES = ["Cron", "Host", "Mount"] as const;

function read(path: string): string {
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}

export function lastLines(output: string, n = 4): string {
  return output.trim().split("\n").slice(-n).join(" | ");
}

/** The commit id a config_version starts with (code-sync writes `<12 hex> (<branch>)`). */
function commitOf(configVersion: string | undefined): string | undefined {
  const id = configVersion?.split(" ")[0];
  return id && /^[0-9a-f]{7,40}$/.test(id) ? id : undefined;
}

/** Whether `configVersion` names `commit`. */
export function names(configVersion: string | undefined, commit: string): boolean {
  const id = commitOf(configVersion);
  return id !== undefined && commit.startsWith(id);
}

/** `agent-1.site-a.<domain>` -> `agent-1.site-a`. */
function short(certname: string): string {
  return certname.split(".").slice(0, 2).join(".");
}

function hasFields(text: string, fields: readonly string[]): boolean {
  return text.split("\n").some((l) => {
    const f = l.trim().split(/\s+/);
    return fields.every((want, i) => f[i] === want);
  });
}

/** What profile::core_types and profile::base left on the agent, as problems (none: all there). */
function missingEffects(agent: Node): string[] {
  const files = agentFiles(agent.topo.certname);
  const crontab = hostPath(agent.host, "/var/spool/cron/crontabs/root");
  const site = agent.topo.site;
  const problems: string[] = [];
  if (!hasFields(read(files.hosts), [CORE_TYPES.host.ip, CORE_TYPES.host.title]))
    problems.push(`${files.hosts} has no entry for ${CORE_TYPES.host.title}`);
  if (!hasFields(read(files.fstab), [CORE_TYPES.mount.device, CORE_TYPES.mount.title]))
    problems.push(`${files.fstab} has no entry for ${CORE_TYPES.mount.title}`);
  if (
    !read(crontab)
      .split("\n")
      .some((l) => l.endsWith(` ${CORE_TYPES.cron.command}`))
  )
    problems.push(`the agent's crontab ${crontab} has no ${CORE_TYPES.cron.title} job`);
  const siteFile = read(files.site);
  if (siteFile !== `hiera ${site}\nfact ${site}\n`)
    problems.push(`${files.site} says ${JSON.stringify(siteFile)}, expected site ${site}`);
  return problems;
}

/** Every agent's catalog has cron, host and mount resources; all apply, and their effects exist. */
export async function coreTypes(lab: Lab): Promise<Outcome> {
  const notes: string[] = [];
  const figures: Figure[] = [];
  let good = 0;
  const agents = lab.agents();
  for (const agent of agents) {
    const run = await lab.runAgent(agent);
    const details = runDetails(agent.host, run);
    const problems: string[] = [];
    if (!run.ok) problems.push(`run failed: ${lastLines(run.output)}`);
    if (!details) problems.push("the run left no report of its own");
    const found = details ? CORE_TYPE_NAMES.flatMap((t) => resourcesOf(details, t)) : [];
    const absent = CORE_TYPE_NAMES.filter((t) => !found.some((k) => k.startsWith(`${t}[`)));
    if (absent.length > 0) problems.push(`no ${absent.join(", ")} resource in the catalog`);
    const failed = details ? failedResources(details) : [];
    if (failed.length > 0) problems.push(`failed: ${failed.join(", ")}`);
    problems.push(...missingEffects(agent));
    figures.push({
      name: `cron, host and mount resources applied on ${short(agent.topo.certname)}`,
      value: found.filter((k) => !failed.includes(k)).length,
    });
    if (problems.length === 0) good++;
    else notes.push(`${agent.topo.certname}: ${problems.join("; ")}`);
  }
  figures.push({
    name: "agents with every effect and their site's data",
    value: `${good}/${agents.length}`,
  });
  return { passed: good === agents.length, figures, notes };
}

/** Times code-sync.sh logged a JRuby pool flush on `master`. */
function poolFlushes(master: Node): number {
  const log = read(join(resolve(master.host.root), "log", "code-sync.log"));
  return log.split("\n").filter((l) => l.includes("flushed puppetserver's caches (jruby)")).length;
}

/**
 * The HTTP status of an admin API DELETE on `master`, sent from `from` with `from`'s certificate
 * (or with none): auth.conf lets only the master itself flush its caches.
 */
async function adminDelete(from: Node, master: Node, withCert: boolean): Promise<string> {
  const tls = puppetTls(from.topo.certname);
  const cert = withCert ? ["--cert", tls.cert, "--key", tls.key] : [];
  const url = `https://${master.topo.certname}:8140/puppet-admin-api/v1/environment-cache`;
  const r = await runInHost(from.host, [
    "curl",
    "-sS",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    "--max-time",
    "30",
    "--cacert",
    tls.cacert,
    ...cert,
    "-X",
    "DELETE",
    url,
  ]);
  return r.output.trim();
}

/**
 * A new return value of the environment's Ruby function, and a changed Ruby type the catalog uses,
 * reach every agent without a restart: the type only through code-sync's JRuby pool flush, which
 * no one but the master itself may ask for.
 */
export async function pluginReload(lab: Lab): Promise<Outcome> {
  const masters = lab.byRole("compile-master");
  const pids = new Map(masters.map((m) => [m.topo.certname, m.process?.pid]));
  const flushesBefore = new Map(masters.map((m) => [m.topo.certname, poolFlushes(m)]));
  const agents = lab.agents();
  const notes: string[] = [];
  const value = `v${randomBytes(6).toString("hex")}`;
  const commit = setLabValue(lab.material.controlRepoWork, lab.branch, value);
  const pushed = Date.now();
  const limitMs = (3 * lab.options.syncIntervalSeconds + 60) * 1000;
  const reached = new Map<string, number>();
  let failedRuns = 0;
  let acrossDeploy = 0;
  let wrongVersion = 0;
  while (reached.size < agents.length && Date.now() - pushed < limitMs) {
    for (const agent of agents.filter((a) => !reached.has(a.topo.certname))) {
      const run = await lab.runAgent(agent);
      const details = runDetails(agent.host, run);
      if (!run.ok && RUN_ACROSS_DEPLOY.test(run.output)) {
        acrossDeploy++;
        notes.push(`${agent.topo.certname}: run met two deploys: ${lastLines(run.output, 1)}`);
      } else if (!run.ok) {
        failedRuns++;
        notes.push(`${agent.topo.certname}: run failed: ${lastLines(run.output, 2)}`);
      }
      const seen = details && notifyMessage(details, MARKER_NOTIFIES.function);
      const onDisk = read(agentFiles(agent.topo.certname).value).trim();
      if (seen !== value || onDisk !== value) continue;
      reached.set(agent.topo.certname, (Date.now() - pushed) / 1000);
      if (!names(run.configVersion, commit)) {
        wrongVersion++;
        notes.push(`${agent.topo.certname}: new value under config_version ${run.configVersion}`);
      }
    }
    if (reached.size < agents.length) await sleep(2000);
  }
  const restarted = masters.filter(
    (m) => m.process?.pid !== pids.get(m.topo.certname) || !m.process?.alive(),
  );
  for (const m of restarted)
    notes.push(`${m.topo.certname}: server PID ${pids.get(m.topo.certname)} -> ${m.process?.pid}`);
  for (const a of agents.filter((a) => !reached.has(a.topo.certname)))
    notes.push(`${a.topo.certname}: still without ${value} after ${limitMs / 1000} s`);
  const flushed = masters.filter((m) => poolFlushes(m) > (flushesBefore.get(m.topo.certname) ?? 0));
  // Another master's certificate, and none, are refused.
  let refused = 0;
  for (const [i, master] of masters.entries()) {
    const other = masters[(i + 1) % masters.length];
    const statuses = [
      await adminDelete(other, master, true),
      await adminDelete(other, master, false),
    ];
    if (statuses.every((s) => s === "403")) refused++;
    else notes.push(`${master.topo.certname}: admin API answered ${statuses.join(", ")} to others`);
  }
  const seconds = [...reached.values()];
  return {
    passed:
      reached.size === agents.length &&
      restarted.length === 0 &&
      wrongVersion === 0 &&
      failedRuns === 0 &&
      flushed.length === masters.length &&
      refused === masters.length,
    figures: [
      { name: "agents with the new value", value: `${reached.size}/${agents.length}` },
      {
        name: "push to the end of the first run with it, median",
        value: median(seconds),
        unit: " s",
      },
      {
        name: "push to the end of the first run with it, max",
        value: Math.max(0, ...seconds),
        unit: " s",
      },
      { name: "puppetserver restarts", value: restarted.length },
      { name: "runs whose plugins and catalog came from two deploys", value: acrossDeploy },
      { name: "runs failed otherwise", value: failedRuns },
      {
        name: "masters that flushed their JRuby pool",
        value: `${flushed.length}/${masters.length}`,
      },
      {
        name: "masters refusing a flush from another master or without a certificate",
        value: `${refused}/${masters.length}`,
      },
    ],
    notes,
  };
}

/** Polls until every master serves `commit`; whether they all did within `limitMs`. */
async function waitForMasters(masters: Node[], commit: string, limitMs: number): Promise<boolean> {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    if (masters.every((m) => deployedCommit(m) === commit)) return true;
    await sleep(500);
  }
  return false;
}

interface CheckedRun {
  readonly certname: string;
  readonly configVersion?: string;
  readonly ok: boolean;
  /**
   * A failed run whose pluginsync read a file's metadata from one deploy and its content from the
   * next (Puppet: "did not match desired checksum"): it got no catalog, and its next run syncs again.
   */
  readonly pluginsyncAcrossDeploy?: boolean;
  /** Markers that differ from those of the commit config_version names (or why none could be read). */
  readonly mixed?: string;
}

/**
 * Puppet's words when one run's requests met two deploys: a plugin's content did not match the
 * metadata sent before the flush, or the catalog uses a type parameter newer than the plugins the
 * run synced. Neither applies anything of a mixed catalog; the agent's next run syncs again.
 */
const RUN_ACROSS_DEPLOY =
  /Failed to retrieve plugin: .*did not match desired checksum|Failed to apply catalog: no parameter named/;

/** A run's three markers against those of the commit its config_version names. */
function checkRun(
  work: string,
  cache: Map<string, Markers>,
  agent: Node,
  run: AgentRun,
): CheckedRun {
  const certname = agent.topo.certname;
  const details = runDetails(agent.host, run);
  if (!run.ok || !details) {
    const pluginsyncAcrossDeploy = RUN_ACROSS_DEPLOY.test(run.output);
    return { certname, ok: false, configVersion: run.configVersion, pluginsyncAcrossDeploy };
  }
  const sha = commitOf(details.configVersion);
  let expected = sha === undefined ? undefined : cache.get(sha);
  if (sha !== undefined && !expected) {
    try {
      expected = markersAt(work, sha);
      cache.set(sha, expected);
    } catch {
      // Not a commit of the lab's repository: reported below as markers that match nothing.
    }
  }
  const keys = Object.keys(MARKER_NOTIFIES) as (keyof Markers)[];
  const actual = Object.fromEntries(
    keys.map((k) => [k, notifyMessage(details, MARKER_NOTIFIES[k])]),
  ) as Record<keyof Markers, string | undefined>;
  const want = expected;
  const differ = want ? keys.filter((k) => actual[k] !== want[k]) : keys;
  const mixed =
    differ.length === 0
      ? undefined
      : `${JSON.stringify(actual)} under config_version ${JSON.stringify(details.configVersion)}, which has ${JSON.stringify(expected ?? null)}`;
  return { certname, ok: true, configVersion: details.configVersion, mixed };
}

/**
 * Agents run back to back while five commits are deployed; no catalog mixes two commits. A run whose
 * pluginsync straddles a deploy fails before it asks for a catalog (Puppet checks each downloaded
 * plugin against the checksum the metadata request gave): counted, and allowed, since the agent's
 * next run converges; any other failure fails the scenario.
 */
export async function atomicDeploy(lab: Lab, commits = 5): Promise<Outcome> {
  const work = lab.material.controlRepoWork;
  const masters = lab.byRole("compile-master");
  const agents = lab.agents();
  const notes: string[] = [];
  const cache = new Map<string, Markers>();
  const runs: CheckedRun[] = [];
  let deploying = true;
  const runRound = async () => {
    for (const a of agents) runs.push(checkRun(work, cache, a, await lab.runAgent(a)));
  };
  // Rounds until the last commit is on every master, then one more: each agent's last run is on it.
  const loop = (async () => {
    while (deploying) await runRound();
    await runRound();
  })();
  const pushed: string[] = [];
  let deployed = 0;
  try {
    const tag = randomBytes(3).toString("hex");
    const limitMs = (2 * lab.options.syncIntervalSeconds + 30) * 1000;
    for (let n = 1; n <= commits; n++) {
      const commit = setMarkers(work, lab.branch, `m${tag}-${n}`);
      pushed.push(commit);
      if (await waitForMasters(masters, commit, limitMs)) deployed++;
      else
        notes.push(
          `commit ${n} (${commit.slice(0, 12)}) not on every master after ${limitMs / 1000} s`,
        );
    }
  } finally {
    deploying = false;
    await loop;
  }
  const failed = runs.filter((r) => !r.ok && !r.pluginsyncAcrossDeploy);
  const pluginsync = runs.filter((r) => r.pluginsyncAcrossDeploy);
  const mixed = runs.filter((r) => r.mixed !== undefined);
  for (const r of failed)
    notes.push(`${r.certname}: a run failed (config_version ${r.configVersion})`);
  for (const r of pluginsync)
    notes.push(`${r.certname}: a run's plugins and catalog came from two deploys`);
  for (const r of mixed) notes.push(`${r.certname}: mixed catalog: ${r.mixed}`);
  let spanned = 0;
  const last = pushed.at(-1) ?? "-";
  const behind: string[] = [];
  for (const a of agents) {
    const own = runs.filter((r) => r.certname === a.topo.certname && r.ok);
    spanned += own.filter((r, i) => i > 0 && r.configVersion !== own[i - 1].configVersion).length;
    if (!names(own.at(-1)?.configVersion, last)) behind.push(a.topo.certname);
  }
  if (behind.length > 0)
    notes.push(`last run not on the last commit ${last.slice(0, 12)}: ${behind.join(", ")}`);
  return {
    passed:
      deployed === commits &&
      failed.length === 0 &&
      mixed.length === 0 &&
      spanned > 0 &&
      behind.length === 0,
    figures: [
      { name: "commits deployed on every master", value: `${deployed}/${commits}` },
      { name: "runs checked", value: runs.length },
      { name: "runs that spanned a deploy", value: spanned },
      { name: "mixed catalogs", value: mixed.length },
      { name: "runs whose plugins and catalog came from two deploys", value: pluginsync.length },
      { name: "runs failed otherwise", value: failed.length },
    ],
    notes,
  };
}

// Scenarios of PuppetDB under faults: every agent run made during the fault must have its report in
// PuppetDB by the end (the masters' spool resubmits what no PuppetDB took), and the collecting
// catalog compiles while one PuppetDB answers.
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { SPOOL_DIR } from "../infra/hostconfig/puppetdb-spool";
import { AgentRun } from "./agents";
import { hostPath } from "./host";
import { Lab, Node } from "./lab";
import { blackhole, restore } from "./net";
import { queryPuppetdb } from "./puppetdb-client";
import { Figure } from "./report";
import { Outcome, runAll } from "./scenarios";
import { sleep } from "./sleep";

/** How long a scenario waits for the reports of its runs to be in PuppetDB after the fault. */
const STORE_WAIT_MS = 180_000;

/**
 * The runs' transaction UUIDs found in PuppetDB, asked from a master of a PuppetDB that answers
 * (of `site` only, when given).
 */
export async function storedReports(
  lab: Lab,
  uuids: readonly string[],
  site?: string,
): Promise<number> {
  for (const db of lab.byRole("puppetdb", site)) {
    const master = lab.byRole("compile-master", db.topo.site)[0];
    try {
      const found = (await queryPuppetdb(
        master.host,
        `https://${db.topo.certname}:8081`,
        "reports",
        JSON.stringify(["in", "transaction_uuid", ["array", uuids]]),
      )) as unknown[];
      return found.length;
    } catch {
      // That PuppetDB does not answer: the next one.
    }
  }
  return 0;
}

/** Polls until every run's report is stored or `timeoutMs` passes; seconds from the call. */
export async function waitStored(
  lab: Lab,
  uuids: readonly string[],
  timeoutMs = STORE_WAIT_MS,
  site?: string,
): Promise<{ stored: number; seconds: number }> {
  const started = Date.now();
  let stored = 0;
  while (Date.now() - started < timeoutMs) {
    stored = await storedReports(lab, uuids, site);
    if (stored >= uuids.length) break;
    await sleep(1000);
  }
  return { stored, seconds: (Date.now() - started) / 1000 };
}

/** Commands waiting in a master's spool. */
export function spooledOn(master: Node): number {
  const dir = hostPath(master.host, SPOOL_DIR);
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")).length : 0;
}

/** Commands waiting in the spools of every master. */
function spooled(lab: Lab): number {
  return lab.byRole("compile-master").reduce((n, m) => n + spooledOn(m), 0);
}

/**
 * Every agent once, the collector as a daemon runs (`--test` turns usecacheonfailure off, a
 * daemon keeps it on): when its catalog cannot compile it applies its cached one.
 */
async function runAgents(lab: Lab): Promise<Map<string, AgentRun>> {
  const runs = new Map<string, AgentRun>();
  for (const a of lab.agents()) {
    runs.set(a.topo.certname, await lab.runAgent(a, [], { asDaemon: a === lab.collector() }));
  }
  return runs;
}

export function uuidsOf(runs: Map<string, AgentRun>): string[] {
  return [...runs.values()].map((r) => r.transactionUuid).filter((u): u is string => !!u);
}

/** Whether a run applied a catalog compiled for it now (not its cached one). */
function compiled(run: AgentRun | undefined): boolean {
  return !!run && run.ok && !/Using cached catalog/i.test(run.output);
}

export function runFigures(runs: Map<string, AgentRun>, stored: number): Figure[] {
  return [
    { name: "runs", value: runs.size },
    { name: "reportsStored", value: stored, target: `= runs (${runs.size})` },
  ];
}

/** `puppetdb-host-down`: the primary's PuppetDB stopped; agents of both sites run. */
export async function puppetdbHostDown(lab: Lab): Promise<Outcome> {
  const db = lab.byRole("puppetdb", lab.topo.primarySite)[0];
  const notes: string[] = [];
  await lab.stopServer(db);
  let runs = new Map<string, AgentRun>();
  try {
    runs = await runAll(lab, lab.agents());
  } finally {
    lab.startServer(db);
    await lab.waitReady(db);
  }
  const { stored, seconds } = await waitStored(lab, uuidsOf(runs));
  const ok = [...runs.values()].filter((r) => r.ok).length;
  const collector = runs.get(lab.collector().topo.certname);
  notes.push(
    `collecting catalog (${lab.collector().topo.certname}): ${compiled(collector) ? "compiled" : "NOT compiled"}`,
  );
  return {
    passed: ok === runs.size && compiled(collector) && stored === runs.size,
    figures: [
      ...runFigures(runs, stored),
      { name: "agents converged", value: `${ok}/${runs.size}` },
      { name: "reports stored, seconds after the PuppetDB answered", value: seconds, unit: " s" },
    ],
    notes,
  };
}

/** `puppetdb-black-holed`: the primary's PuppetDB black-holed; figure: extra time per run. */
export async function puppetdbBlackHoled(lab: Lab, warm: Map<string, number>): Promise<Outcome> {
  const site = lab.topo.primarySite;
  const db = lab.byRole("puppetdb", site)[0];
  blackhole(db.topo.ns, db.topo.address);
  let runs = new Map<string, AgentRun>();
  try {
    runs = await runAll(lab, lab.agents());
  } finally {
    restore(db.topo.ns, db.topo.address, lab.site(site), lab.topo.sites);
  }
  const { stored } = await waitStored(lab, uuidsOf(runs));
  const local = lab.agents(site).map((a) => runs.get(a.topo.certname)!);
  const extra = lab.agents(site).map((a, i) => local[i].seconds - (warm.get(a.topo.certname) ?? 0));
  const ok = [...runs.values()].filter((r) => r.ok).length;
  const collector = runs.get(lab.collector().topo.certname);
  return {
    passed: ok === runs.size && compiled(collector) && stored === runs.size,
    figures: [
      ...runFigures(runs, stored),
      {
        name: `extra time per run in ${site}, max`,
        value: Math.max(...extra),
        unit: " s",
        target: "< 5 s",
      },
      { name: "agents converged", value: `${ok}/${runs.size}` },
    ],
    notes: [
      `collecting catalog: ${compiled(collector) ? "compiled" : "NOT compiled"}`,
      `runs in ${site}: ${local.map((r) => `${r.seconds.toFixed(1)} s`).join(", ")}`,
    ],
  };
}

/**
 * `every-puppetdb-down`: every PuppetDB stopped while agents run, then started; figure: time from
 * the first PuppetDB answering to the last report stored.
 */
export async function everyPuppetdbDown(lab: Lab): Promise<Outcome> {
  const dbs = lab.byRole("puppetdb");
  const notes: string[] = [];
  await Promise.all(dbs.map((d) => lab.stopServer(d)));
  let runs = new Map<string, AgentRun>();
  let waiting = 0;
  let firstAnswer = 0;
  let kept: { dir: string; name: string; text: string } | undefined;
  try {
    runs = await runAgents(lab);
    waiting = spooled(lab);
    kept = spooledReport(lab);
  } finally {
    for (const d of dbs) lab.startServer(d);
    await Promise.race(dbs.map((d: Node) => lab.waitReady(d)));
    firstAnswer = Date.now();
    await Promise.all(dbs.map((d) => lab.waitReady(d)));
  }
  const { stored } = await waitStored(lab, uuidsOf(runs));
  const drained = (Date.now() - firstAnswer) / 1000;
  const copies = kept ? await resubmitted(lab, kept) : NaN;
  const others = [...runs].filter(([c]) => c !== lab.collector().topo.certname);
  const othersOk = others.filter(([, r]) => r.ok).length;
  const collector = runs.get(lab.collector().topo.certname);
  const cached = !!collector && /Using cached catalog/i.test(collector.output);
  notes.push(
    `collecting catalog with no PuppetDB: ${compiled(collector) ? "compiled?!" : cached ? "not compiled; the agent applied its cached catalog" : "not compiled; nothing applied"} (exit ${collector?.code})`,
  );
  return {
    passed:
      othersOk === others.length && !compiled(collector) && stored === runs.size && copies === 1,
    figures: [
      ...runFigures(runs, stored),
      { name: "commands spooled on the masters", value: waiting },
      {
        name: "first PuppetDB answering to last report stored",
        value: drained,
        unit: " s",
        target: "< 60 s",
      },
      { name: "non-collecting agents converged", value: `${othersOk}/${others.length}` },
      {
        name: "copies of a stored report after the spool sent it again",
        value: copies,
        target: "1",
      },
    ],
    notes,
  };
}

/** One report spooled on a master (its file name and content), taken while no PuppetDB answers. */
function spooledReport(lab: Lab): { dir: string; name: string; text: string } | undefined {
  for (const m of lab.byRole("compile-master")) {
    const dir = hostPath(m.host, SPOOL_DIR);
    const name = existsSync(dir)
      ? readdirSync(dir).find((f) => f.includes("-store_report-"))
      : undefined;
    if (name) return { dir, name, text: readFileSync(`${dir}/${name}`, "utf8") };
  }
  return undefined;
}

/**
 * Puts a report the spool already delivered back into it, as a drain that died between PuppetDB's
 * answer and the removal would leave it; waits for the drain to send it again; returns how many
 * reports PuppetDB holds with its transaction UUID (PuppetDB ignores one it already has: 1).
 */
async function resubmitted(
  lab: Lab,
  kept: { dir: string; name: string; text: string },
): Promise<number> {
  const uuid = (
    JSON.parse((JSON.parse(kept.text) as { payload: string }).payload) as {
      transaction_uuid: string;
    }
  ).transaction_uuid;
  writeFileSync(`${kept.dir}/${kept.name}`, kept.text);
  const started = Date.now();
  while (existsSync(`${kept.dir}/${kept.name}`) && Date.now() - started < 60_000) await sleep(1000);
  if (existsSync(`${kept.dir}/${kept.name}`)) return NaN;
  await sleep(5000); // PuppetDB stores a command after it answers.
  return storedReports(lab, [uuid]);
}

/** How long the lab's database stays down: long enough for PuppetDB to give up its quick retries. */
const DATABASE_DOWN_MS = 150_000;

/** `database-down`: PostgreSQL stopped for 150 s while agents run, then started. */
export async function databaseDown(lab: Lab): Promise<Outcome> {
  const runs = new Map<string, AgentRun>();
  const all = lab.agents();
  await lab.stopDatabase();
  const downAt = Date.now();
  try {
    // Agents keep running for the whole outage, one after the other.
    for (let i = 0; Date.now() - downAt < DATABASE_DOWN_MS; i++) {
      const a = all[i % all.length];
      runs.set(
        `${a.topo.certname}#${i}`,
        await lab.runAgent(a, [], { asDaemon: a === lab.collector() }),
      );
    }
  } finally {
    await lab.startDatabase();
  }
  const backAt = Date.now();
  const { stored } = await waitStored(lab, uuidsOf(runs));
  const seconds = (Date.now() - backAt) / 1000;
  // Collecting needs the database through PuppetDB's query API: that catalog cannot compile.
  const collector = lab.collector().topo.certname;
  const others = [...runs].filter(([k]) => !k.startsWith(`${collector}#`));
  const ok = others.filter(([, r]) => r.ok).length;
  const collecting = [...runs].filter(([k]) => k.startsWith(`${collector}#`)).map(([, r]) => r);
  const queues = lab.byRole("puppetdb").map((d) => {
    const file = hostPath(d.host, "/var/lib/puppet-multisite/puppetdb-queue.json");
    return `${d.topo.site}: ${existsSync(file) ? readFileSync(file, "utf8").trim() : "(no status)"}`;
  });
  return {
    passed: ok === others.length && stored === runs.size,
    figures: [
      ...runFigures(runs, stored),
      { name: "database down", value: DATABASE_DOWN_MS / 1000, unit: " s" },
      { name: "runs of non-collecting agents converged", value: `${ok}/${others.length}` },
      {
        name: "collecting runs compiled",
        value: `${collecting.filter(compiled).length}/${collecting.length}`,
      },
      { name: "database back to last report stored", value: seconds, unit: " s" },
    ],
    notes: queues,
  };
}

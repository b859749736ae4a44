// `npm run lab` (as root): brings up both sites from the plans, runs the scenarios, prints a table,
// writes lab-report.json and tears everything down (`--keep` leaves it running; `npm run lab:down`
// removes it; `--only <key,...>` runs the cold start and just those). `npm run test:lab` is the same
// run, failing when any scenario fails or does not run.
import { siteLoss } from "./site-loss";
import { standbySync } from "./standby-ca";
import { execFileSync } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { secretName } from "../infra/naming";
import { readProjectName } from "../tools/plan/stack-config";
import { siteReturn } from "./site-return";
import { planAll } from "./plans";
import { Lab } from "./lab";
import { removeNetwork } from "./net";
import { STATE_DIR, stopAll } from "./processes";
import { Figure, LabReport, ScenarioResult, renderTable } from "./report";
import {
  Outcome,
  badActors,
  caDown,
  localPreference,
  sameCode,
  siteFailover,
  timed,
} from "./scenarios";
import { impersonation } from "./impersonation";
import { replaceMaster } from "./replace-master";
import { replaceCa, replacePuppetdb } from "./replace-state";
import { bootRetry } from "./boot-retry";
import { atomicDeploy, coreTypes, pluginReload } from "./code-scenarios";
import { addSiteData } from "./control-repo";
import { sshControlRepo } from "./ssh-control-repo";
import { newMasterWrites } from "./new-master";
import {
  databaseDown,
  everyPuppetdbDown,
  puppetdbBlackHoled,
  puppetdbHostDown,
} from "./puppetdb-faults";
import { ScenarioEntry, selectScenarios } from "./selection";
import { labTopology } from "./topology";

const ROOT = join(__dirname, "..");

export async function down(): Promise<void> {
  const stopped = await stopAll();
  const removed = removeNetwork();
  console.log(
    `lab down: stopped ${stopped.length} processes, removed ${removed.length} namespaces`,
  );
}

function ensurePackages(): void {
  execFileSync("bash", [join(ROOT, "scripts", "install-lab-deps.sh")], { stdio: "inherit" });
}

/** 1. Cold start: from nothing to every agent converged, with the time of each step. */
async function coldStart(lab: Lab, t0: number): Promise<Outcome> {
  const at = () => (Date.now() - t0) / 1000;
  const figures: Figure[] = [];
  const notes: string[] = [];
  lab.createNetwork();
  figures.push({ name: "network and DNS up", value: at(), unit: " s" });
  lab.makeMaterial();
  // Before any master deploys: each site's Hiera data names the site, which makeMaterial is not told.
  addSiteData(lab.material.controlRepoWork, lab.branch, lab.topo.sites);
  lab.startTruststore();
  await lab.startDatabase();
  // The failover site's replica: a base backup of the still empty database, then streaming.
  await lab.startReplica();

  const ca = lab.byRole("ca")[0];
  const standbys = lab.byRole("standby-ca");
  const masters = lab.byRole("compile-master");
  const puppetdbs = lab.byRole("puppetdb");
  const bringUp = async (node: (typeof masters)[number]) => {
    const prepared = await lab.prepare(node);
    if (!prepared.ok)
      throw new Error(
        `first boot of ${node.topo.certname} failed: ${prepared.output.split("\n").slice(-8).join(" | ")}`,
      );
    if (node.topo.role !== "ca")
      figures.push({ name: `certificate of ${node.topo.certname}`, value: at(), unit: " s" });
    lab.startServer(node);
    await lab.waitReady(node);
    figures.push({
      name: `${node.topo.role} ${node.topo.certname} answers`,
      value: at(),
      unit: " s",
    });
  };
  // The CA first (on EC2 the others would wait for it, backing off up to two minutes). The primary's
  // PuppetDB migrates the shared database: the others start once it answers.
  await bringUp(ca);
  const primaryDb = puppetdbs.filter((d) => d.topo.site === lab.topo.primarySite);
  const otherDbs = puppetdbs.filter((d) => d.topo.site !== lab.topo.primarySite);
  // The standby asks the CA for its certificate and copies its records before it starts.
  await Promise.all([
    ...masters.map(bringUp),
    ...standbys.map(bringUp),
    Promise.all(primaryDb.map(bringUp)).then(() => Promise.all(otherDbs.map(bringUp))),
  ]);
  for (const n of [...masters, ...puppetdbs, ...standbys]) lab.startTimers(n);

  let converged = 0;
  const agents = lab.byRole("agent").filter((a) => !a.topo.certname.startsWith("spare-"));
  for (const a of agents) {
    await lab.prepareAgent(a);
    const run = await lab.runAgent(a);
    if (run.ok) converged++;
    else
      notes.push(
        `${a.topo.certname}: first run failed: ${run.output.split("\n").slice(-5).join(" | ")}`,
      );
    figures.push({ name: `first run of ${a.topo.certname}`, value: at(), unit: " s" });
  }
  figures.push({
    name: "from nothing to every agent converged",
    value: at(),
    unit: " s",
    target: "< 240 s",
  });
  return { passed: converged === agents.length, figures, notes };
}

/** What the scenarios share: the lab, when it started, and the warm run time of each agent. */
interface Context {
  readonly lab: Lab;
  readonly t0: number;
  readonly warm: Map<string, number>;
  /** The site whose masters the failovers take away. */
  readonly secondary: string;
}

interface LabScenario extends ScenarioEntry {
  /** The scenario's number in the README's list (both failovers are 3). */
  readonly id: number;
  readonly name: (context: Context) => string;
  readonly run: (context: Context) => Promise<Outcome>;
}

const SCENARIOS: readonly LabScenario[] = [
  { key: "cold-start", id: 1, name: () => "cold start", run: (c) => coldStart(c.lab, c.t0) },
  {
    key: "local-preference",
    id: 2,
    name: () => "local preference",
    run: (c) => localPreference(c.lab, c.warm),
  },
  // The failovers measure extra time against the warm runs of local preference.
  {
    key: "failover-stopped",
    id: 3,
    name: (c) => `site failover: ${c.secondary} masters stopped`,
    needs: ["local-preference"],
    run: (c) => siteFailover(c.lab, c.secondary, "stopped", c.warm),
  },
  {
    key: "failover-black-holed",
    id: 3,
    name: (c) => `site failover: ${c.secondary} masters black-holed`,
    needs: ["local-preference"],
    run: (c) => siteFailover(c.lab, c.secondary, "black-holed", c.warm),
  },
  { key: "ca-down", id: 4, name: () => "CA down", run: (c) => caDown(c.lab) },
  {
    key: "puppetdb-host-down",
    id: 5,
    name: () => "the primary's PuppetDB stopped",
    run: (c) => puppetdbHostDown(c.lab),
  },
  {
    key: "puppetdb-black-holed",
    id: 13,
    needs: ["local-preference"],
    name: () => "the primary's PuppetDB black-holed",
    run: (c) => puppetdbBlackHoled(c.lab, c.warm),
  },
  {
    key: "every-puppetdb-down",
    id: 14,
    name: () => "every PuppetDB down, then back",
    run: (c) => everyPuppetdbDown(c.lab),
  },
  {
    key: "database-down",
    id: 15,
    name: () => "the database down for 150 s",
    run: (c) => databaseDown(c.lab),
  },
  {
    key: "new-master-writes",
    id: 16,
    name: () => "a master added to a pool stores its first agent's report",
    run: (c) => newMasterWrites(c.lab),
  },
  { key: "same-code", id: 6, name: () => "same code everywhere", run: (c) => sameCode(c.lab) },
  { key: "bad-actors", id: 7, name: () => "bad actors", run: (c) => badActors(c.lab) },
  {
    key: "replace-master",
    id: 8,
    name: () => "a master replaced under its own name",
    run: (c) => replaceMaster(c.lab),
  },
  {
    key: "impersonation",
    id: 9,
    name: () => "CSRs asking for a server's identity",
    run: (c) => impersonation(c.lab),
  },
  {
    key: "replace-ca",
    id: 10,
    name: () => "the CA rebuilt on its kept volume",
    run: (c) => replaceCa(c.lab),
  },
  {
    key: "standby-sync",
    id: 21,
    name: () => "the standby CA copies the active one and signs nothing",
    run: (c) => standbySync(c.lab),
  },
  {
    key: "replace-puppetdb",
    id: 11,
    name: (c) => `a PuppetDB rebuilt with commands queued (${c.secondary})`,
    run: (c) => replacePuppetdb(c.lab, c.secondary),
  },
  {
    key: "core-types",
    id: 17,
    name: () => "cron, host and mount applied from the control repository",
    run: (c) => coreTypes(c.lab),
  },
  {
    key: "plugin-reload",
    id: 18,
    name: () => "a changed Ruby function and type served without a restart",
    run: (c) => pluginReload(c.lab),
  },
  {
    key: "atomic-deploy",
    id: 19,
    name: () => "deploys under continuous agent runs never mix two commits",
    run: (c) => atomicDeploy(c.lab),
  },
  {
    key: "ssh-control-repo",
    id: 20,
    name: () => "masters deploy from an SSH URL with a deploy key",
    run: (c) => sshControlRepo(c.lab),
  },
  {
    key: "boot-retry",
    id: 12,
    name: (c) => `a first boot retried until its cause is gone (${c.secondary})`,
    run: (c) => bootRetry(c.lab, c.secondary),
  },
  // Last: the primary site does not come back.
  {
    key: "site-loss",
    id: 22,
    name: () => "the primary site lost: the standby CA promoted",
    run: (c) => siteLoss(c.lab),
  },
  {
    key: "site-return",
    id: 23,
    needs: ["site-loss"],
    name: () => "the primary site back: the promotion recorded, then the fail-back",
    run: (c) => siteReturn(c.lab),
  },
];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      keep: { type: "boolean", default: false },
      strict: { type: "boolean", default: false },
      down: { type: "boolean", default: false },
      "wan-delay": { type: "string", default: "30" },
      agents: { type: "string", default: "2" },
      "sync-interval": { type: "string", default: "20" },
      "crl-refresh": { type: "string", default: "10" },
      "ca-sync": { type: "string", default: "5" },
      heap: { type: "string", default: "512" },
      "boot-retry": { type: "string", default: "10" },
      report: { type: "string", default: join(ROOT, "lab-report.json") },
      only: { type: "string" },
    },
  });
  if (process.getuid?.() !== 0)
    throw new Error("the lab creates network namespaces: run it as root");
  if (values.down) return down();
  const scenarios = selectScenarios(SCENARIOS, values.only);
  await down(); // what an interrupted run left behind
  ensurePackages();
  rmSync(STATE_DIR, { recursive: true, force: true });

  const plans = await planAll();
  const topo = labTopology([...plans.values()], { agentsPerSite: Number(values.agents) });
  const project = readProjectName();
  const primary = topo.primarySite;
  const lab = new Lab(
    topo,
    {
      wanDelayMs: Number(values["wan-delay"]),
      syncIntervalSeconds: Number(values["sync-interval"]),
      crlRefreshSeconds: Number(values["crl-refresh"]),
      caSyncSeconds: Number(values["ca-sync"]),
      heapMb: Number(values.heap),
      bootRetrySeconds: Number(values["boot-retry"]),
    },
    "production",
    {
      caKey: secretName(project, primary, "ca-key"),
      serverChallenge: secretName(project, primary, "server-challenge"),
      agentChallenge: secretName(project, primary, "agent-challenge"),
      database: secretName(project, primary, "database"),
    },
  );

  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    console.error("\ninterrupted: tearing the lab down");
    void down().finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const t0 = Date.now();
  const context: Context = {
    lab,
    t0,
    warm: new Map(),
    secondary: topo.sites.find((site) => site.name !== primary)!.name,
  };
  const results: ScenarioResult[] = [];
  try {
    for (const s of scenarios) {
      // Nothing runs on a lab that did not come up.
      if (results.length > 0 && !results[0].passed) break;
      results.push(await timed(s.key, s.id, s.name(context), () => s.run(context)));
    }
  } finally {
    const report: LabReport = {
      startedAt: new Date(t0).toISOString(),
      machine: { cores: cpus().length, memoryGb: Math.round(totalmem() / 2 ** 30) },
      options: { ...values, stacks: [...plans.keys()].sort() },
      scenarios: results,
    };
    writeFileSync(values.report, JSON.stringify(report, null, 2) + "\n");
    process.stdout.write(renderTable(report));
    if (!values.keep) await down();
    else console.log(`lab left running (state in ${STATE_DIR}); npm run lab:down removes it`);
  }
  const failed = results.filter((r) => !r.passed).length;
  if (values.strict && (failed > 0 || results.length < scenarios.length)) process.exitCode = 1;
  if (!existsSync(values.report)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(`lab failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});

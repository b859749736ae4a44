// The lab's scenarios, run in order on a lab that is up (scenario 1 is the bring-up itself). Each
// returns pass/fail with its figures; targets are reported, never asserted.
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { basename } from "node:path";
import { AgentRun } from "./agents";
import { hostPath } from "./host";
import { Lab, Node } from "./lab";
import { pushCommit } from "./material";
import { blackhole, restore } from "./net";
import { AUTOSIGN_LOG } from "./probes";
import { puppetdbRequest, queryPuppetdb } from "./puppetdb-client";
import { Figure, ScenarioResult } from "./report";
import { sleep } from "./sleep";

export interface Outcome {
  readonly passed: boolean;
  readonly figures: Figure[];
  readonly notes: string[];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)];
}

/** The site of the master that compiled a run (`master_used` is `host:port`). */
export function siteOfMaster(lab: Lab, masterUsed: string | undefined): string | undefined {
  const name = masterUsed?.split(":")[0];
  if (!name) return undefined;
  // A master's own name (from SRV), or a pool's (`pool.<site>.<domain>`, from server_list).
  return (
    lab.nodes.get(name)?.topo.site ??
    lab.topo.sites.find((s) => name.endsWith(`.${s.srvDomain}`))?.name
  );
}

export async function timed(
  key: string,
  id: number,
  name: string,
  fn: () => Promise<Outcome>,
): Promise<ScenarioResult> {
  const started = Date.now();
  try {
    const o = await fn();
    return { key, id, name, ...o, seconds: (Date.now() - started) / 1000 };
  } catch (e) {
    return {
      key,
      id,
      name,
      passed: false,
      figures: [],
      notes: [`error: ${e instanceof Error ? e.message : String(e)}`],
      seconds: (Date.now() - started) / 1000,
    };
  }
}

/** Runs every agent of the list, one after the other (they share two cores with the servers). */
export async function runAll(lab: Lab, agents: Node[]): Promise<Map<string, AgentRun>> {
  const runs = new Map<string, AgentRun>();
  for (const a of agents) runs.set(a.topo.certname, await lab.runAgent(a));
  return runs;
}

/** 2. Every agent is served by its own site, and its report and facts are in PuppetDB. */
export async function localPreference(lab: Lab, warm: Map<string, number>): Promise<Outcome> {
  const notes: string[] = [];
  let passed = true;
  const runs = await runAll(lab, lab.agents());
  for (const [certname, run] of runs) {
    const own = lab.node(certname).topo.site;
    const served = siteOfMaster(lab, run.master);
    warm.set(certname, run.seconds);
    if (!run.ok || served !== own) {
      passed = false;
      notes.push(
        `${certname}: ok=${run.ok} compiled by ${run.master ?? "?"} (site ${served ?? "?"}, expected ${own})`,
      );
    }
  }
  const master = lab.byRole("compile-master")[0];
  const db = lab.byRole("puppetdb", master.topo.site)[0];
  for (const certname of runs.keys()) {
    const nodes = (await queryPuppetdb(
      master.host,
      `https://${db.topo.certname}:8081`,
      "nodes",
      JSON.stringify(["=", "certname", certname]),
    )) as {
      report_timestamp?: string | null;
      facts_timestamp?: string | null;
    }[];
    if (!nodes[0]?.report_timestamp || !nodes[0]?.facts_timestamp) {
      passed = false;
      notes.push(
        `${certname}: no report or facts in PuppetDB (${JSON.stringify(nodes[0] ?? null)})`,
      );
    }
  }
  const seconds = [...runs.values()].map((r) => r.seconds);
  return {
    passed,
    figures: [
      {
        name: "agents served by their own site",
        value: `${[...runs].filter(([c, r]) => siteOfMaster(lab, r.master) === lab.node(c).topo.site).length}/${runs.size}`,
      },
      { name: "warm agent run, median", value: median(seconds), unit: " s", target: "< 5 s" },
      { name: "warm agent run, max", value: Math.max(...seconds), unit: " s" },
    ],
    notes,
  };
}

/** 3. Every master of `site` out (stopped, or black-holed): its agents fail over, then come back. */
export async function siteFailover(
  lab: Lab,
  site: string,
  mode: "stopped" | "black-holed",
  warm: Map<string, number>,
): Promise<Outcome> {
  const masters = lab.byRole("compile-master", site);
  const local = lab.agents(site);
  const notes: string[] = [];
  let passed = true;
  if (mode === "stopped") {
    await Promise.all(masters.map((m) => lab.stopServer(m)));
  } else {
    for (const m of masters) blackhole(m.topo.ns, m.topo.address);
  }
  const extra: number[] = [];
  try {
    for (const [certname, run] of await runAll(lab, local)) {
      const served = siteOfMaster(lab, run.master);
      extra.push(run.seconds - (warm.get(certname) ?? 0));
      if (!run.ok || served === site) {
        passed = false;
        notes.push(`${certname}: ok=${run.ok}, compiled by ${run.master ?? "?"}`);
      } else {
        notes.push(`${certname}: served by ${run.master} in ${run.seconds.toFixed(1)} s`);
      }
    }
  } finally {
    if (mode === "stopped") {
      for (const m of masters) lab.startServer(m);
      await Promise.all(masters.map((m) => lab.waitReady(m)));
    } else {
      for (const m of masters) restore(m.topo.ns, m.topo.address, lab.site(site), lab.topo.sites);
    }
  }
  const back = await runAll(lab, local);
  const returned = [...back.values()].filter(
    (r) => r.ok && siteOfMaster(lab, r.master) === site,
  ).length;
  if (returned !== back.size) {
    passed = false;
    notes.push(`after the masters came back, ${returned}/${back.size} agents returned to ${site}`);
  }
  return {
    passed,
    figures: [
      {
        name: "extra time per run, median",
        value: median(extra),
        unit: " s",
        target: mode === "stopped" ? "< 2 s" : "< 10 s",
      },
      { name: "extra time per run, max", value: Math.max(...extra), unit: " s" },
      { name: `agents back on ${site}`, value: `${returned}/${back.size}` },
    ],
    notes,
  };
}

/** 4. CA down: agents keep converging; a new agent cannot get a certificate until the CA is back. */
export async function caDown(lab: Lab): Promise<Outcome> {
  const ca = lab.byRole("ca")[0];
  const spare = lab.byRole("agent").find((a) => a.topo.certname.startsWith("spare-1."))!;
  const notes: string[] = [];
  await lab.stopServer(ca);
  let existingOk = 0;
  let newAgentRefused = false;
  const all = lab.agents();
  try {
    for (const run of (await runAll(lab, all)).values()) if (run.ok) existingOk++;
    await lab.prepareAgent(spare);
    const attempt = await lab.runAgent(spare);
    newAgentRefused = !attempt.ok;
    // The CA's SRV records list the standby next: the agent's request reaches it, which signs
    // nothing and drops it, so the agent's next attempt goes to whichever CA answers then.
    for (const standby of lab.byRole("standby-ca")) {
      const log = hostPath(standby.host, AUTOSIGN_LOG);
      const line = (existsSync(log) ? readFileSync(log, "utf8") : "")
        .split("\n")
        .find((l) => l.includes(`rejected ${spare.topo.certname}:`));
      notes.push(
        `new agent's request at the standby ${standby.topo.certname}: ${line?.replace(/^\S+ autosign /, "") ?? "never reached it"}`,
      );
    }
    const reason = attempt.output
      .split("\n")
      .find((l) => /Error|Could not|Failed|refused|certificate/i.test(l));
    notes.push(
      `new agent while the CA is down: ${attempt.ok ? "joined?!" : `failed: ${reason?.trim() ?? "(no message)"}`}`,
    );
  } finally {
    lab.startServer(ca);
    await lab.waitReady(ca);
  }
  const joined = await lab.runAgent(spare);
  notes.push(
    `new agent after the CA came back: ${joined.ok ? `joined in ${joined.seconds.toFixed(1)} s` : "failed"}`,
  );
  return {
    passed: existingOk === all.length && newAgentRefused && joined.ok,
    figures: [
      { name: "existing agents converged with the CA down", value: `${existingOk}/${all.length}` },
    ],
    notes,
  };
}

export function deployedCommit(master: Node): string | undefined {
  // The link points at a path as the host sees it: read the link itself, never follow it here.
  const live = hostPath(master.host, "/etc/puppet/code/environments/production");
  try {
    return basename(readlinkSync(live));
  } catch {
    return undefined;
  }
}

/** 6. Every master serves the control repository's commit; a new commit reaches all within the sync interval. */
export async function sameCode(lab: Lab): Promise<Outcome> {
  const masters = lab.byRole("compile-master");
  const notes: string[] = [];
  const before = masters.map((m) => deployedCommit(m));
  const consistent = new Set(before).size === 1 && before[0] !== undefined;
  notes.push(
    `before: ${masters.map((m, i) => `${m.topo.certname.split(".")[0]}.${m.topo.site}=${before[i]?.slice(0, 12)}`).join(", ")}`,
  );
  const commit = pushCommit(lab.material, lab.branch, "lab: scenario 6");
  const started = Date.now();
  const limitMs = (lab.options.syncIntervalSeconds * 2 + 30) * 1000;
  const reached = new Map<string, number>();
  while (reached.size < masters.length && Date.now() - started < limitMs) {
    for (const m of masters) {
      if (!reached.has(m.topo.certname) && deployedCommit(m) === commit)
        reached.set(m.topo.certname, (Date.now() - started) / 1000);
    }
    await sleep(1000);
  }
  const runs = await runAll(lab, lab.agents());
  const versions = new Set([...runs.values()].map((r) => r.configVersion?.split(" ")[0]));
  const served = versions.size === 1 && commit.startsWith([...versions][0] ?? "-");
  notes.push(`agents' catalogs carry config_version ${[...versions].join(", ")}`);
  return {
    passed: consistent && reached.size === masters.length && served,
    figures: [
      { name: "masters on the new commit", value: `${reached.size}/${masters.length}` },
      {
        name: "time for the last master",
        value: Math.max(0, ...reached.values()),
        unit: " s",
        target: `<= sync interval ${lab.options.syncIntervalSeconds} s`,
      },
    ],
    notes,
  };
}

/** 7. A CSR without the right challenge is refused and logged; a host off PuppetDB's allowlist cannot write. */
export async function badActors(lab: Lab): Promise<Outcome> {
  const rogue = lab.byRole("agent").find((a) => a.topo.certname.startsWith("spare-2."))!;
  const notes: string[] = [];
  await lab.prepareAgent(rogue, "not-the-challenge");
  const attempt = await lab.runAgent(rogue);
  const ca = lab.byRole("ca")[0];
  const logPath = hostPath(ca.host, "/var/log/puppet-multisite/autosign.log");
  const log = existsSync(logPath) ? readFileSync(logPath, "utf8") : "";
  const logged = log.split("\n").filter((l) => l.includes(rogue.topo.certname));
  notes.push(
    `rogue CSR: ${attempt.ok ? "signed?!" : "refused"}; CA log: ${logged.at(-1)?.trim() ?? "(nothing)"}`,
  );

  // An agent's certificate is signed by the same CA, but agents are not on PuppetDB's allowlist.
  const agent = lab.agents()[0];
  const db = lab.byRole("puppetdb", agent.topo.site)[0];
  const command = {
    certname: agent.topo.certname,
    environment: "production",
    producer_timestamp: new Date().toISOString(),
    producer: agent.topo.certname,
    values: { rogue: true },
  };
  const write = await puppetdbRequest(
    agent.host,
    `https://${db.topo.certname}:8081/pdb/cmd/v1?command=replace_facts&version=5&certname=${agent.topo.certname}`,
    { method: "POST", json: command },
  );
  const status = String(write.status);
  notes.push(`write to PuppetDB with ${agent.topo.certname}'s certificate: HTTP ${status}`);
  return {
    passed: !attempt.ok && logged.length > 0 && status === "403",
    figures: [{ name: "PuppetDB answer to a host off the allowlist", value: status }],
    notes,
  };
}

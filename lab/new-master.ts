// `new-master-writes`: a master added to a pool stores its first agent's report. The master's name
// is new to the PuppetDBs (it left the pool, and their allowlists, before it comes back as a new
// host with a new key): its first boot waits until every PuppetDB that answers lets it in, which
// their allowlist refresh does from the SRV records at its own pace.
import { existsSync, readFileSync } from "node:fs";
import { hostPath } from "./host";
import { Lab, Node } from "./lab";
import { spooledOn, waitStored } from "./puppetdb-faults";
import { loggedAt } from "./probes";
import { Outcome } from "./scenarios";
import { sleep } from "./sleep";
import { Zone } from "./topology";

function withoutTarget(zone: Zone, certname: string): Zone {
  return {
    a: zone.a,
    srv: new Map(
      [...zone.srv].map(([name, targets]) => [
        name,
        targets.filter((t) => t.target.replace(/\.$/, "") !== certname),
      ]),
    ),
  };
}

function allowed(db: Node, certname: string): boolean {
  const file = hostPath(db.host, "/etc/puppetdb/certificate-allowlist");
  return existsSync(file) && readFileSync(file, "utf8").split("\n").includes(certname);
}

async function until(what: string, test: () => boolean, timeoutMs: number): Promise<void> {
  const started = Date.now();
  while (!test()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(1000);
  }
}

export async function newMasterWrites(lab: Lab): Promise<Outcome> {
  const site = lab.topo.primarySite;
  const master = lab.byRole("compile-master", site).at(-1)!;
  const name = master.topo.certname;
  const dbs = lab.byRole("puppetdb");
  const notes: string[] = [];

  // It leaves the pool: gone from the SRV records, then from every allowlist (the refresh loops).
  await lab.wipe(master);
  await lab.serveZones((zone) => withoutTarget(zone, name));
  await until(`${name} off every allowlist`, () => dbs.every((d) => !allowed(d, name)), 180_000);
  await sleep(2000);
  await Promise.all(dbs.map((d) => lab.waitReady(d)));

  // It joins as a new host: listed again, its first boot runs while the refresh loops catch up.
  await lab.serveZones();
  const joined = Date.now();
  const boot = await lab.prepare(master);
  const log = `${master.host.root}/log/prepare.log`;
  const waited = loggedAt(log, /\[pdb-spool\] waiting for .* to let this master in/, joined);
  const letIn = loggedAt(log, /\[pdb-spool\] PuppetDB access: /, joined);
  const allowedEverywhere = dbs.every((d) => allowed(d, name));
  lab.startServer(master);
  await lab.waitReady(master);
  lab.startTimers(master);
  const servingAt = Date.now();

  // Its first agent: one of the site's, sent to this master alone.
  const agent = lab.agents(site).find((a) => a !== lab.collector())!;
  const run = await lab.runAgent(agent, ["--no-use_srv_records", `--server_list=${name}:8140`]);
  const { stored } = run.transactionUuid
    ? await waitStored(lab, [run.transactionUuid], 60_000)
    : { stored: 0 };
  const spooled = spooledOn(master);
  notes.push(
    `first boot ${boot.ok ? "completed" : "FAILED"}; ${waited ? "waited" : "did not wait"} for the PuppetDBs to let it in`,
    `first agent run: ${run.ok ? "ok" : "FAILED"}, compiled by ${run.master ?? "?"}; its commands spooled on the master: ${spooled}`,
  );
  const seconds = (t: number | undefined) => (t === undefined ? NaN : (t - joined) / 1000);
  return {
    passed:
      boot.ok &&
      allowedEverywhere &&
      run.ok &&
      run.master?.startsWith(name) === true &&
      stored === 1 &&
      spooled === 0,
    figures: [
      { name: "runs", value: 1 },
      { name: "reportsStored", value: stored, target: "= runs (1)" },
      { name: "joining to let in by every PuppetDB", value: seconds(letIn), unit: " s" },
      {
        name: "joining to serving",
        value: seconds(servingAt),
        unit: " s",
      },
      { name: "commands of its first run spooled (written directly: 0)", value: spooled },
    ],
    notes,
  };
}

// 23. After site-loss: the promotions recorded in the configuration, the primary site back, and the
// CA's fail-back, each as the README's runbook gives it. Recording the promotions replaces no host
// (every host's user data is the same in the new plans) and moves every site's CA record to the
// promoted CA; the old CA, fenced, refuses a request and says why; the old database and the primary
// site's PuppetDB stay stopped; agents of both sites converge, their reports stored in the promoted
// database; a new agent and a replaced master of the primary site get certificates from the
// promoted CA. Then the CA goes
// back: the promoted CA steps down, the old CA is promoted again with --force, and the records are
// set back: every certificate the promoted CA signed is known to the old CA, and new certificates
// come from it, in a new epoch.
import { existsSync, readFileSync, statSync } from "node:fs";
import { CA_DIR, LIB_DIR } from "../infra/hostconfig/paths";
import { diffPlans } from "../tools/preview/diff";
import { Plan } from "../tools/plan/plan";
import { prepareAgent } from "./agents";
import { hostPath, runInHost } from "./host";
import { Lab } from "./lab";
import { planAll } from "./plans";
import {
  AUTOSIGN_LOG,
  askToSign,
  describeAnswer,
  inventorySerials,
  loggedAt,
  refusalReason,
  secondsUntil,
} from "./probes";
import { uuidsOf, waitStored } from "./puppetdb-faults";
import { Outcome, runAll } from "./scenarios";
import { puppetTls } from "./services";
import { labTopology } from "./topology";
import { serialEpoch, serialOf } from "./x509";

/** What a plan change does, as the preview reports it: "kind name" of every change, per stack. */
function planChanges(before: Map<string, Plan>, after: Map<string, Plan>): string[] {
  return [...after.keys()].flatMap((stack) =>
    diffPlans(stack, before.get(stack), after.get(stack)).changes.map(
      (c) => `${stack}: ${c.kind} ${c.name}`,
    ),
  );
}

export async function siteReturn(lab: Lab): Promise<Outcome> {
  const notes: string[] = [];
  const ca = lab.byRole("ca")[0];
  const promoted = lab.byRole("standby-ca")[0];
  if (!promoted) return { passed: false, figures: [], notes: ["the plans have no standby CA"] };
  const primary = lab.topo.primarySite;
  const primaryDomain = lab.site(primary).srvDomain;
  const stamp = Date.now().toString(36);

  // 1. The promotions recorded: certificates.activeCa and database.active failover, planned and
  //    applied to the records (the replica's own change is RDS's, which the lab has made).
  const original = await planAll();
  const recorded = await planAll({
    certificates: { activeCa: "failover" },
    database: { active: "failover" },
  });
  const recording = planChanges(original, recorded);
  const replaced = recording.filter((c) => / (replace|delete) /.test(c));
  notes.push(`recording the promotion: ${recording.join("; ") || "no change"}`);
  const originalTopo = lab.topo;
  await lab.adoptPlans(
    labTopology([...recorded.values()], { agentsPerSite: lab.agents(primary).length }),
  );

  // 2. The primary site's masters come back, their state as it was (the old CA is back already).
  //    Its old database and its PuppetDB stay stopped, as the runbook fences them: the old
  //    database misses everything since the loss. The masters use the failover site's PuppetDB.
  const backAt = Date.now();
  const returning = lab.byRole("compile-master", primary);
  for (const n of returning) lab.startServer(n);
  await Promise.all(returning.map((n) => lab.waitReady(n)));
  returning.forEach((n) => lab.startTimers(n));
  const backIn = (Date.now() - backAt) / 1000;

  // 3. The old CA, fenced, refuses a request and logs why.
  const prober = lab.agents(primary)[0];
  const refusedName = `return-${stamp}-fenced.${primaryDomain}`;
  const atOld = await askToSign(lab, prober, ca, refusedName);
  const oldReason = refusalReason(ca, refusedName);
  const fenced = atOld.status === 404 && oldReason?.includes(": fenced:") === true;
  notes.push(`the old CA: ${refusedName} ${describeAnswer(atOld)}; log: ${oldReason ?? "none"}`);

  // 4. A new agent of the primary site, through its site's SRV records: the promoted CA signs.
  const newcomer = lab
    .byRole("agent", primary)
    .find((a) => a.topo.certname.startsWith("spare-2."))!;
  const join = async (certname: string) => {
    await prepareAgent(newcomer.host, {
      puppetConf: lab.site(primary).agentPuppetConf,
      challenge: lab.material.agentChallenge,
      extraMain: { certname, crl_refresh_interval: `${lab.options.crlRefreshSeconds}s` },
    });
    const run = await lab.runAgent(newcomer);
    const path = hostPath(newcomer.host, puppetTls(certname).cert);
    const serial = existsSync(path) ? serialOf(readFileSync(path, "utf8")) : undefined;
    return { run, serial };
  };
  const firstName = `return-${stamp}-1.${primaryDomain}`;
  const first = await join(firstName);
  const firstFromPromoted =
    first.run.ok && first.serial !== undefined && serialEpoch(first.serial) === 1;
  notes.push(
    `${firstName}: ${first.run.ok ? "converged" : "failed"}, serial ${first.serial ?? "none"}`,
  );

  // 5. Agents of both sites converge, and their reports are stored in the promoted database.
  const agents = lab.agents();
  const returnRuns = await runAll(lab, agents);
  const converged = [...returnRuns.values()].filter((r) => r.ok).length;
  const failoverSite = promoted.topo.site;
  const { stored, seconds: storedIn } = await waitStored(
    lab,
    uuidsOf(returnRuns),
    60_000,
    failoverSite,
  );

  // 6. A master of the primary site replaced: its first boot asks each CA until one signs.
  const master = lab.byRole("compile-master", primary).at(-1)!;
  await lab.wipe(master);
  const bootAt = Date.now();
  const boot = await lab.prepare(master);
  let masterSigner: string | undefined;
  if (boot.ok) {
    lab.startServer(master);
    await lab.waitReady(master);
    lab.startTimers(master);
    masterSigner = /certificate for \S+ signed by (\S+)/.exec(boot.output)?.[1];
  }
  const masterRefused = [...boot.output.matchAll(/no certificate from (\S+)/g)].map((m) => m[1]);
  const masterIn = (Date.now() - bootAt) / 1000;
  notes.push(
    `${master.topo.certname} replaced: ${boot.ok ? `refused by ${masterRefused.join(", ") || "none"}, signed by ${masterSigner ?? "?"}, serving after ${masterIn.toFixed(1)} s` : `first boot failed: ${boot.output.split("\n").slice(-4).join(" | ")}`}`,
  );

  // 7. Fail-back, as the README gives it: the promoted CA steps down, the old one is promoted with
  //    --force (its last copy misses nothing), and the configuration goes back to the primary's CA.
  const failbackAt = Date.now();
  const stepDown = await runInHost(promoted.host, [`${LIB_DIR}/ca-promote.rb`, "--step-down"], {
    logName: "ca-promote",
    timeoutMs: 60_000,
  });
  const back = await runInHost(ca.host, [`${LIB_DIR}/ca-promote.rb`, "--force"], {
    logName: "ca-promote",
    timeoutMs: 120_000,
  });
  const failback = (Date.now() - failbackAt) / 1000;
  notes.push(
    `--step-down: exit ${stepDown.code}, ${stepDown.seconds.toFixed(1)} s; --force on the old CA: exit ${back.code}, ${back.seconds.toFixed(1)} s: ${back.output.trim().split("\n").at(-1) ?? ""}`,
  );
  await lab.adoptPlans(originalTopo);
  // Every certificate the promoted CA signed (its epoch's serials) is in the old CA's inventory.
  const signedThere = inventorySerials(promoted).filter((s) => serialEpoch(s) === 1);
  const knownBack = signedThere.filter((s) => inventorySerials(ca).includes(s));
  notes.push(`signed by the promoted CA: ${signedThere.join(" ") || "none"}`);

  const secondName = `return-${stamp}-2.${primaryDomain}`;
  const second = await join(secondName);
  const secondEpoch = second.serial === undefined ? undefined : serialEpoch(second.serial);
  notes.push(
    `${secondName}: ${second.run.ok ? "converged" : "failed"}, serial ${second.serial ?? "none"}`,
  );

  // 8. The stepped-down CA refuses, saying why, and copies from the CA it handed over to.
  const stoodDownName = `return-${stamp}-refused.${primaryDomain}`;
  const atPromoted = await askToSign(lab, prober, promoted, stoodDownName);
  const stoodDownReason = refusalReason(promoted, stoodDownName);
  notes.push(
    `the stepped-down CA: ${stoodDownName} ${describeAnswer(atPromoted)}; log: ${stoodDownReason ?? "none"}`,
  );
  // From the old CA's signature (its log) to the copy's file on the stepped-down CA.
  const copiedPath = hostPath(promoted.host, `${CA_DIR}/signed/${secondName}.pem`);
  const copied = await secondsUntil(
    () => existsSync(copiedPath),
    (4 * lab.options.caSyncSeconds + 30) * 1000,
  );
  const signedAt = loggedAt(
    hostPath(ca.host, AUTOSIGN_LOG),
    new RegExp(`signed ${secondName.replace(/\./g, "\\.")} \\(agent\\)`),
    failbackAt,
  );
  const copiedIn =
    copied === undefined || signedAt === undefined
      ? undefined
      : (statSync(copiedPath).mtimeMs - signedAt) / 1000;
  const convergedAfter = [...(await runAll(lab, agents)).values()].filter((r) => r.ok).length;

  return {
    passed:
      replaced.length === 0 &&
      recording.length > 0 &&
      fenced &&
      firstFromPromoted &&
      converged === agents.length &&
      stored === returnRuns.size &&
      boot.ok &&
      masterSigner === promoted.topo.certname &&
      stepDown.ok &&
      back.ok &&
      knownBack.length === signedThere.length &&
      second.run.ok &&
      secondEpoch === 2 &&
      atPromoted.status === 404 &&
      stoodDownReason?.includes("stepped down for") === true &&
      copiedIn !== undefined &&
      convergedAfter === agents.length,
    figures: [
      {
        name: "recording the promotion: resources replaced or deleted",
        value: `${replaced.length} (${recording.filter((c) => / update /.test(c)).length} of ${recording.length} changes updated in place)`,
      },
      { name: "the primary site's servers back", value: backIn, unit: " s" },
      { name: "the old CA, back: fenced, signs nothing", value: fenced ? "yes" : "no" },
      {
        name: "a new agent of the primary site signed by the promoted CA",
        value: firstFromPromoted ? "yes" : "no",
      },
      { name: "agents of both sites converging", value: `${converged}/${agents.length}` },
      {
        name: `their reports stored through ${failoverSite}'s PuppetDB in the promoted database`,
        value: `${stored}/${returnRuns.size}`,
        unit: stored === returnRuns.size ? ` (within ${storedIn.toFixed(1)} s)` : "",
      },
      {
        name: "a replaced master of the primary site: first boot to serving",
        value: boot.ok ? masterIn : "failed",
        unit: boot.ok ? " s" : "",
      },
      { name: "fail-back: --step-down, then --force on the old CA", value: failback, unit: " s" },
      {
        name: "certificates the promoted CA signed, known to the old CA after the fail-back",
        value: `${knownBack.length}/${signedThere.length}`,
      },
      {
        name: "the old CA's epoch after the fail-back (new agent's serial)",
        value: secondEpoch ?? "none",
      },
      {
        name: "the stepped-down CA copies from the old one (new agent's certificate there)",
        value: copiedIn ?? "never",
        unit: copiedIn === undefined ? "" : " s",
        target: `< ${2 * lab.options.caSyncSeconds} s`,
      },
      {
        name: "agents of both sites converging after the fail-back",
        value: `${convergedAfter}/${agents.length}`,
      },
    ],
    notes,
  };
}

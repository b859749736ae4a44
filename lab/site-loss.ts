// 22. The primary site lost: the WAN cut and every host of the primary stopped, after certificates
// were signed and one revoked there. The failover site's agents keep converging, a new agent there
// waits, the standby CA is promoted with the command the README gives, and the new agent gets its
// certificate from it. Then the old CA alone comes back, with the WAN: it finds the promoted CA's
// newer epoch and refuses a request (fenced), saying why, and then copies the promoted CA's records
// as a standby does. The database's replica is promoted too, and the failover site's PuppetDB stores
// in it the reports of the outage. Run last: the rest of the primary stays down.
import { existsSync, readFileSync, statSync } from "node:fs";
import { LIB_DIR, PUPPETDB_DIR, SSL_DIR } from "../infra/hostconfig/paths";
import { PUPPET_PORT } from "../infra/ports";
import { hostPath, runInHost } from "./host";
import { httpsRequest } from "./https";
import { primaryAtLoss, promoteDatabase } from "./database-failover";
import { Lab, Node } from "./lab";
import { cutWan, joinWan } from "./net";
import {
  AUTOSIGN_LOG,
  askToSign,
  caFile,
  describeAnswer,
  inventorySerials,
  loggedAt,
  refusalReason,
  secondsUntil,
} from "./probes";
import { Outcome, runAll } from "./scenarios";
import { puppetTls } from "./services";
import { sleep } from "./sleep";
import { crlNumber, revokedSerials, serialEpoch, serialOf } from "./x509";

/** The CRL number a first promotion signs its CRL with (ca-promote.rb: epoch * 2^32). */
const PROMOTED_CRL_NUMBER = 1n << 32n;

export async function siteLoss(lab: Lab): Promise<Outcome> {
  const notes: string[] = [];
  const ca = lab.byRole("ca")[0];
  const standby = lab.byRole("standby-ca")[0];
  if (!standby) return { passed: false, figures: [], notes: ["the plans have no standby CA"] };
  const site = standby.topo.site;
  const interval = lab.options.caSyncSeconds;
  const prober = lab.agents(site)[0];
  const { cacert } = puppetTls(prober.topo.certname);
  const api = (node: Node) => `https://${node.topo.certname}:${PUPPET_PORT}/puppet-ca/v1`;
  const primaryDomain = lab.site(lab.topo.primarySite).srvDomain;
  const stamp = Date.now().toString(36);

  // 1. Certificates signed at the primary before the loss: two at least one copy interval before
  //    it, one just before it (inside the window the standby cannot know), and a revocation.
  const sign = async (certname: string) => {
    const cert = await askToSign(lab, prober, ca, certname);
    return cert.status === 200 ? serialOf(cert.body) : undefined;
  };
  const early = [1, 2].map((i) => `loss-${stamp}-${i}.${primaryDomain}`);
  const earlySerials = await Promise.all(early.map(sign));
  const revoke = await httpsRequest(ca.host, `${api(ca)}/certificate_status/${early[0]}`, {
    method: "PUT",
    body: JSON.stringify({ desired_state: "revoked" }),
    contentType: "application/json",
    ...puppetTls(ca.topo.certname),
  });
  notes.push(
    `signed before the loss: ${early.map((n, i) => `${n} (serial ${earlySerials[i]})`).join(", ")}; ${early[0]} revoked: ${describeAnswer(revoke)}`,
  );
  await sleep((interval + 2) * 1000);
  const late = `loss-${stamp}-late.${primaryDomain}`;
  const lateSerial = await sign(late);
  const lateSignedAt = Date.now();

  // 2. The loss: the WAN cut, then every program host of the primary and its database stopped.
  const atLoss = await primaryAtLoss(lab);
  const lossAt = Date.now();
  cutWan(lab.topo);
  const lost = [...lab.nodes.values()].filter(
    (n) => n.topo.site === lab.topo.primarySite && n.topo.role !== "agent",
  );
  for (const n of lost) await lab.stopTimers(n);
  await Promise.all(lost.map((n) => lab.stopServer(n)));
  await lab.stopDatabase();
  const lastCopy = JSON.parse(caFile(standby, "puppet-multisite-sync.json") ?? "{}") as {
    synced_at?: string;
  };
  const window = lastCopy.synced_at ? (lossAt - Date.parse(lastCopy.synced_at)) / 1000 : undefined;
  notes.push(
    `the standby's last copy before the loss: ${lastCopy.synced_at ?? "none"} (${window?.toFixed(1) ?? "?"} s before it); ${late} signed ${((lossAt - lateSignedAt) / 1000).toFixed(1)} s before it`,
  );

  // 3. The failover site's agents keep converging; a new agent there cannot get a certificate.
  const agents = lab.agents(site);
  const outageRuns = await runAll(lab, agents);
  const converged = [...outageRuns.values()].filter((r) => r.ok).length;
  const newAgent = lab.byRole("agent", site).find((a) => a.topo.certname.startsWith("spare-"))!;
  await lab.prepareAgent(newAgent);
  const waiting = await lab.runAgent(newAgent);
  notes.push(
    `${newAgent.topo.certname} before the promotion: ${waiting.ok ? "got a certificate?!" : "no certificate"}`,
  );

  // 4. Promotion, as the README documents it; RTO up to the new agent's signed certificate.
  const promotedAt = Date.now();
  const promote = await runInHost(standby.host, [`${LIB_DIR}/ca-promote.rb`], {
    logName: "ca-promote",
    timeoutMs: 120_000,
  });
  notes.push(
    `ca-promote.rb: exit ${promote.code}, ${promote.seconds.toFixed(1)} s: ${promote.output.trim().split("\n").at(-1) ?? ""}`,
  );
  const joined = await lab.runAgent(newAgent);
  outageRuns.set(newAgent.topo.certname, joined);
  const signedAt = loggedAt(
    hostPath(standby.host, AUTOSIGN_LOG),
    new RegExp(`signed ${newAgent.topo.certname.replace(/\./g, "\\.")} \\(agent\\)`),
    promotedAt,
  );
  const rto = signedAt === undefined ? undefined : (signedAt - promotedAt) / 1000;
  const certPath = hostPath(newAgent.host, puppetTls(newAgent.topo.certname).cert);
  const newSerial = existsSync(certPath) ? serialOf(readFileSync(certPath, "utf8")) : undefined;
  notes.push(
    `${newAgent.topo.certname} after the promotion: ${joined.ok ? `converged in ${joined.seconds.toFixed(1)} s` : "failed"}, serial ${newSerial ?? "none"}`,
  );

  // 4b. The failover site's masters and PuppetDB serve with the promoted CA's CRL, which their CRL
  //     refresh takes from the next CA it lists once the lost one does not answer.
  const consumers = lab.topo.hosts
    .filter((h) => h.site === site && (h.role === "compile-master" || h.role === "puppetdb"))
    .map((h) => lab.nodes.get(h.certname)!);
  const crlPath = (n: Node) =>
    hostPath(
      n.host,
      n.topo.role === "puppetdb" ? `${PUPPETDB_DIR}/ssl/crl.pem` : `${SSL_DIR}/crl.pem`,
    );
  const promotedCrl = async (n: Node) => {
    const path = crlPath(n);
    const came = await secondsUntil(
      () => existsSync(path) && crlNumber(readFileSync(path, "utf8")) >= PROMOTED_CRL_NUMBER,
      promotedAt + (3 * lab.options.crlRefreshSeconds + 30) * 1000 - Date.now(),
    );
    // The refresh renames a complete file into place: its modification time is when it came.
    return came === undefined ? undefined : (statSync(path).mtimeMs - promotedAt) / 1000;
  };
  const crlTimes = await Promise.all(consumers.map(promotedCrl));
  const crlFollowed = crlTimes.filter((t) => t !== undefined).length;
  const crlSlowest =
    crlFollowed === consumers.length ? Math.max(...(crlTimes as number[])) : undefined;
  notes.push(
    `the promoted CA's CRL on ${site}'s servers: ${consumers.map((n, i) => `${n.topo.certname} ${crlTimes[i]?.toFixed(1) ?? "never"} s`).join(", ")}`,
  );

  // 5. RPO: which certificates signed before the loss the promoted CA knows.
  const knows = (certname: string) => caFile(standby, `signed/${certname}.pem`) !== undefined;
  const earlyKnown = early.filter(knows).length;
  const inventory = inventorySerials(standby);

  // 6. The revocation survives the promotion, in the CRL the promoted CA serves.
  const crl = await httpsRequest(prober.host, `${api(standby)}/certificate_revocation_list/ca`, {
    cacert,
  });
  const stillRevoked =
    crl.status === 200 &&
    earlySerials[0] !== undefined &&
    revokedSerials(crl.body).includes(earlySerials[0]);
  const newInEpoch = newSerial !== undefined && serialEpoch(newSerial) >= 1;
  const twice = inventory.filter((s) => s !== "" && s === newSerial).length > 1;

  // 7. The database replica promoted; the reports of the outage's runs stored in it.
  const database = await promoteDatabase(lab, site, atLoss, outageRuns);
  notes.push(...database.notes);

  // 8. The old CA comes back with the WAN, its state volume as it was: fenced at its first request.
  joinWan(lab.topo);
  lab.startServer(ca);
  await lab.waitReady(ca);
  const returning = `loss-${stamp}-return.${primaryDomain}`;
  const fencedAnswer = await askToSign(lab, prober, ca, returning);
  const fenceReason = refusalReason(ca, returning);
  const fenced = fencedAnswer.status === 404 && fenceReason?.includes(": fenced:") === true;
  notes.push(
    `the old CA back: ${returning} ${describeAnswer(fencedAnswer)}; log: ${fenceReason ?? "(no fence)"}`,
  );

  // 9. Fenced, the old CA copies from the promoted one on its own timer, as a standby does: the
  //    new agent's certificate reaches it, and it lists what only it signed (the late certificate,
  //    if the standby never copied it).
  lab.startTimers(ca);
  let copied: { source?: string; signed_only_here?: string[] } = {};
  const copiedIn = await secondsUntil(
    () => {
      copied = JSON.parse(caFile(ca, "puppet-multisite-sync.json") ?? "{}") as typeof copied;
      return (
        copied.source === standby.topo.certname &&
        caFile(ca, `signed/${newAgent.topo.certname}.pem`) !== undefined
      );
    },
    (4 * interval + 30) * 1000,
  );
  notes.push(
    `the old CA's copy: from ${copied.source ?? "nowhere"}${copiedIn === undefined ? "" : ` within ${copiedIn.toFixed(1)} s`}; signed only there: ${copied.signed_only_here?.join(" ") || "none"}`,
  );

  return {
    passed:
      earlySerials.every((s) => s !== undefined) &&
      revoke.status === 204 &&
      converged === agents.length &&
      !waiting.ok &&
      promote.ok &&
      joined.ok &&
      rto !== undefined &&
      earlyKnown === early.length &&
      stillRevoked &&
      newInEpoch &&
      !twice &&
      fenced &&
      copiedIn !== undefined &&
      crlFollowed === consumers.length &&
      database.passed,
    figures: [
      {
        name: `agents of ${site} converging with the primary lost`,
        value: `${converged}/${agents.length}`,
      },
      {
        name: "RTO: promotion command to the new agent's signed certificate",
        value: rto ?? "never",
        unit: rto === undefined ? "" : " s",
        target: "< 120 s",
      },
      { name: "promotion command", value: promote.seconds, unit: " s" },
      {
        name: `${site}'s servers serving with the promoted CA's CRL (slowest after the promotion)`,
        value: crlSlowest ?? `${crlFollowed}/${consumers.length}`,
        unit: crlSlowest === undefined ? "" : " s",
        // One refresh interval, after the connect timeout to the lost CA.
        target: `< ${lab.options.crlRefreshSeconds + 10} s`,
      },
      {
        name: "RPO: certificates signed over a copy interval before the loss, known after promotion",
        value: `${earlyKnown}/${early.length}`,
      },
      {
        name: `certificate signed ${((lossAt - lateSignedAt) / 1000).toFixed(1)} s before the loss, known`,
        value: lateSerial !== undefined && knows(late) ? "yes" : "no (inside the window)",
      },
      {
        name: "copy window at the loss",
        value: window ?? "unknown",
        unit: window === undefined ? "" : " s",
        target: `<= ${interval} s`,
      },
      {
        name: "revoked before the loss, still in the promoted CA's CRL",
        value: stillRevoked ? "yes" : "no",
      },
      {
        name: "new serial past every serial of the lost CA",
        value: newInEpoch && !twice ? "yes" : "no",
      },
      ...database.figures,
      { name: "the old CA back: fenced, signs nothing", value: fenced ? "yes" : "no" },
      {
        name: "the fenced CA copies from the promoted one (new agent's certificate there)",
        value: copiedIn ?? "never",
        unit: copiedIn === undefined ? "" : " s",
        // The timer's next run (one interval at most), then the copy itself.
        target: `< ${2 * interval} s`,
      },
    ],
    notes,
  };
}

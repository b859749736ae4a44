// 8. A server replaced under its own name rejoins with no person, and its old certificate stops
// working everywhere: every PuppetDB, every other master, the CA and the agents' CRLs.
import { existsSync, readFileSync } from "node:fs";
import { PUPPETDB_PORT, PUPPET_PORT } from "../infra/ports";
import { seedHost } from "./first-boot";
import { ExecHost, hostPath } from "./host";
import { HttpsAnswer, httpsRequest } from "./https";
import { Lab, Node } from "./lab";
import { PROBE_DIR, autosignLog, describeAnswer, give, loggedAt, refused, spare } from "./probes";
import { queryPuppetdb } from "./puppetdb-client";
import { Outcome, runAll } from "./scenarios";
import { puppetTls } from "./services";
import { sleep } from "./sleep";
import { revokedSerials, serialOf } from "./x509";

/**
 * When crl-refresh.sh last installed a new CRL on `node` at or after `since` (its log, kept by the
 * lab's timer loop); undefined for a host that runs none (the CA publishes its own).
 */
function crlInstalledAt(node: Node, since: number): number | undefined {
  return loggedAt(`${node.host.root}/log/crl-refresh.log`, /\[crl-refresh\] CRL updated/, since);
}

/** The URL on which a consumer of client certificates shows whether it accepts `certname`. */
function acceptanceUrl(node: Node, certname: string): string {
  return node.topo.role === "puppetdb"
    ? `https://${node.topo.certname}:${PUPPETDB_PORT}/status/v1/simple`
    : // A node may read its own node object (auth.conf): 200 for a valid identity.
      `https://${node.topo.certname}:${PUPPET_PORT}/puppet/v3/node/${certname}?environment=production`;
}

/**
 * 8. A master's host wiped and booted again from the same user data: it gets a certificate for a new
 * key with no person, and serves catalogs; its old certificate is refused by the PuppetDBs, the
 * other masters and the CA, and agents have the revocation in their CRL, within the refresh interval.
 */
export async function replaceMaster(lab: Lab): Promise<Outcome> {
  const notes: string[] = [];
  const interval = lab.options.crlRefreshSeconds;
  const victim = lab.byRole("compile-master", lab.topo.primarySite).at(-1)!;
  const name = victim.topo.certname;
  const oldTls = puppetTls(name);
  const oldCert = readFileSync(hostPath(victim.host, oldTls.cert), "utf8");
  const oldSerial = serialOf(oldCert);
  // The old identity, kept by a prober: what someone holding the old host's disk would present.
  const prober = spare(lab, 1);
  await seedHost(prober.host);
  const old = {
    cacert: give(prober.host, `${PROBE_DIR}/ca.pem`, lab.material.caCertificatePem),
    cert: give(prober.host, `${PROBE_DIR}/old.pem`, oldCert),
    key: give(
      prober.host,
      `${PROBE_DIR}/old.key`,
      readFileSync(hostPath(victim.host, oldTls.key), "utf8"),
    ),
  };
  const consumers = [
    ...lab.byRole("puppetdb"),
    ...lab.byRole("compile-master").filter((m) => m !== victim),
    ...lab.byRole("ca"),
  ];
  const before = await Promise.all(
    consumers.map((c) => httpsRequest(prober.host, acceptanceUrl(c, name), old)),
  );
  const acceptedBefore = before.filter((a) => a.status === 200).length;
  notes.push(
    `old certificate (serial ${oldSerial}) accepted by ${acceptedBefore}/${consumers.length} before the replacement`,
  );

  await lab.wipe(victim);
  const logFrom = autosignLog(lab).length;
  const booted = Date.now();
  // Watched while the new host boots, from the moment the CA revokes the old certificate.
  const stopWatching = new AbortController();
  const revocationLine = () =>
    autosignLog(lab, logFrom).find(
      (l) => l.includes(name) && l.includes("revoked the previous certificate"),
    );
  const refusals = watchRefusals(
    prober.host,
    consumers,
    name,
    old,
    () => revocationLine() !== undefined,
    (interval * 3 + 300) * 1000,
    stopWatching.signal,
  );
  const agent = lab.agents(victim.topo.site)[0];
  const boot = (async () => {
    const prepared = await lab.prepare(victim);
    if (!prepared.ok) {
      throw new Error(
        `first boot of the replaced ${name} failed: ${prepared.output.split("\n").slice(-6).join(" | ")}`,
      );
    }
    lab.startServer(victim);
    await lab.waitReady(victim);
    lab.startTimers(victim);
    // Its first catalog, asked of it directly (SRV would pick either master of the site).
    const run = await lab.runAgent(agent, [
      "--no-use_srv_records",
      "--server_list",
      `${name}:${PUPPET_PORT}`,
    ]);
    return { run, seconds: (Date.now() - booted) / 1000 };
  })();
  const { run, seconds: bootToCatalog } = await boot.catch((e: unknown) => {
    stopWatching.abort();
    throw e;
  });
  const served = run.ok && run.master?.split(":")[0] === name;
  notes.push(
    `${agent.topo.certname}: ${served ? `catalog compiled by the new ${name}` : `ok=${run.ok}, compiled by ${run.master ?? "?"}`}`,
  );
  const log = autosignLog(lab, logFrom).filter((l) => l.includes(name));
  notes.push(...log.map((l) => `CA: ${l}`));
  const revokedLine = revocationLine();
  // The CA logs the revocation with milliseconds, after the CRL is written.
  const revokedAt = revokedLine ? Date.parse(revokedLine.split(" ")[0]) : Date.now();

  const refusedAt = new Map<string, number>();
  const installedAt: number[] = [];
  for (const [consumer, seen] of await refusals) {
    const installed = crlInstalledAt(lab.node(consumer), revokedAt);
    if (installed !== undefined) installedAt.push((installed - revokedAt) / 1000);
    const fetched =
      installed === undefined
        ? ""
        : `its CRL installed after ${((installed - revokedAt) / 1000).toFixed(1)} s, `;
    if (seen) {
      refusedAt.set(consumer, (seen.at - revokedAt) / 1000);
      notes.push(
        `${consumer}: ${fetched}the old certificate refused after ${((seen.at - revokedAt) / 1000).toFixed(1)} s (${describeAnswer(seen.answer)})`,
      );
    } else {
      notes.push(`${consumer}: ${fetched}still accepts the old certificate`);
    }
  }
  // The new identity is accepted everywhere: the probe tells a revoked certificate from a broken one.
  const newTls = puppetTls(name);
  const fresh = await Promise.all(
    consumers.map((c) => httpsRequest(victim.host, acceptanceUrl(c, name), newTls)),
  );
  const freshOk = fresh.filter((a) => a.status === 200).length;

  // Agents have the revocation in their CRL at their first run after one interval.
  await sleep(Math.max(0, revokedAt + interval * 1000 - Date.now()));
  const all = lab.agents();
  const runs = await runAll(lab, all);
  const withRevocation = all.filter((a) => {
    const crl = hostPath(a.host, "/var/lib/puppet/ssl/crl.pem");
    return existsSync(crl) && revokedSerials(readFileSync(crl, "utf8")).includes(oldSerial);
  });
  const runsOk = [...runs.values()].filter((r) => r.ok).length;

  // PuppetDB stores what the new master sends.
  const db = lab.byRole("puppetdb", victim.topo.site)[0];
  const reports = (await queryPuppetdb(
    victim.host,
    `https://${db.topo.certname}:${PUPPETDB_PORT}`,
    "reports",
    JSON.stringify([
      "and",
      ["=", "certname", agent.topo.certname],
      ["=", "producer", name],
      [">", "receive_time", new Date(booted).toISOString()],
    ]),
  )) as unknown[];

  const slowest = Math.max(0, ...refusedAt.values());
  return {
    passed:
      acceptedBefore === consumers.length &&
      revokedLine !== undefined &&
      served &&
      refusedAt.size === consumers.length &&
      freshOk === consumers.length &&
      withRevocation.length === all.length &&
      runsOk === all.length &&
      reports.length > 0,
    figures: [
      { name: "boot to first catalog", value: bootToCatalog, unit: " s", target: "< 120 s" },
      {
        name: "revocation to the new CRL on every master and PuppetDB",
        value: Math.max(0, ...installedAt),
        unit: " s",
        target: `<= refresh interval ${interval} s`,
      },
      {
        name: "revocation to refused everywhere",
        value: slowest,
        unit: " s",
        target: `<= refresh interval ${interval} s`,
      },
      {
        name: "consumers refusing the old certificate",
        value: `${refusedAt.size}/${consumers.length}`,
      },
      { name: "consumers accepting the new certificate", value: `${freshOk}/${consumers.length}` },
      {
        name: "agents with the revocation in their CRL",
        value: `${withRevocation.length}/${all.length}`,
      },
      { name: "reports from the new master in PuppetDB", value: reports.length },
    ],
    notes,
  };
}

/**
 * Once `revoked()` is true (the CA logged the revocation), asks every consumer twice a second, all at
 * once, whether it still accepts the identity `tls`, until all refuse it or `windowMs` has passed;
 * the moment and the answer of each one's first refusal. Nothing is asked before: until then every
 * consumer accepts the identity (checked before the host was wiped), and asking would only take
 * CPU from the booting host.
 */
async function watchRefusals(
  prober: ExecHost,
  consumers: readonly Node[],
  certname: string,
  tls: { cacert: string; cert: string; key: string },
  revoked: () => boolean,
  windowMs: number,
  signal: AbortSignal,
): Promise<Map<string, { at: number; answer: HttpsAnswer } | undefined>> {
  const seen = new Map<string, { at: number; answer: HttpsAnswer } | undefined>(
    consumers.map((c) => [c.topo.certname, undefined]),
  );
  const deadline = Date.now() + windowMs;
  while (!revoked() && Date.now() < deadline && !signal.aborted) await sleep(250);
  while ([...seen.values()].includes(undefined) && Date.now() < deadline && !signal.aborted) {
    const pending = consumers.filter((x) => seen.get(x.topo.certname) === undefined);
    await Promise.all(
      pending.map(async (c) => {
        const answer = await httpsRequest(prober, acceptanceUrl(c, certname), {
          ...tls,
          timeoutSeconds: 5,
        });
        if (refused(answer)) seen.set(c.topo.certname, { at: Date.now(), answer });
      }),
    );
    await sleep(500);
  }
  return seen;
}

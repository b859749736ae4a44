// 10, 11. The hosts that keep state rebuilt on their kept state volumes: the CA continues its serial
// numbers and keeps every revocation; a PuppetDB processes the commands its predecessor had queued.
import { existsSync, readFileSync } from "node:fs";
import { PUPPETDB_PORT, PUPPET_PORT } from "../infra/ports";
import { hostPath } from "./host";
import { httpsRequest } from "./https";
import { Lab, Node } from "./lab";
import { reachable, unreachable } from "./net";
import { describeAnswer, refused, spare } from "./probes";
import { puppetdbRequest, queryPuppetdb } from "./puppetdb-client";
import { Outcome } from "./scenarios";
import { puppetTls } from "./services";
import { sleep } from "./sleep";
import { normalSerial, revokedSerials, serialOf } from "./x509";

/** The CA's inventory on its volume: the serial (as serialOf gives it) of every certificate signed. */
function inventorySerials(ca: Node): string[] {
  const path = `${ca.host.volume!.dir}/inventory.txt`;
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => normalSerial(l.split(" ")[0]));
}

const serialValue = (serial: string) => BigInt(`0x${serial}`);

/**
 * 10. The CA host wiped and booted again on its kept volume: it answers within 60 s of its boot,
 * the next certificate it signs has a serial above every earlier one, a certificate revoked before
 * the rebuild is still revoked (in its CRL, refused by it), and a new agent joins.
 */
export async function replaceCa(lab: Lab): Promise<Outcome> {
  const notes: string[] = [];
  const ca = lab.byRole("ca")[0];
  const caUrl = `https://${ca.topo.certname}:${PUPPET_PORT}`;
  // The first spare joined while the CA was down (scenario 4) or joins now: its certificate is revoked.
  const revokedAgent = spare(lab, 1);
  const revokedCert = hostPath(
    revokedAgent.host,
    `/var/lib/puppet/ssl/certs/${revokedAgent.topo.certname}.pem`,
  );
  if (!existsSync(revokedCert)) {
    await lab.prepareAgent(revokedAgent);
    const joined = await lab.runAgent(revokedAgent);
    if (!joined.ok)
      throw new Error(`${revokedAgent.topo.certname} could not join before the rebuild`);
  }
  const revokedSerial = serialOf(readFileSync(revokedCert, "utf8"));
  const caTls = puppetTls(ca.topo.certname);
  const revoke = await httpsRequest(
    ca.host,
    `${caUrl}/puppet-ca/v1/certificate_status/${revokedAgent.topo.certname}?environment=production`,
    { ...caTls, method: "PUT", body: JSON.stringify({ desired_state: "revoked" }) },
  );
  notes.push(
    `revoked ${revokedAgent.topo.certname} (serial ${revokedSerial}) before the rebuild: ${describeAnswer(revoke)}`,
  );
  const before = inventorySerials(ca);
  const highestBefore = before.map(serialValue).reduce((m, v) => (v > m ? v : m), 0n);

  await lab.wipe(ca);
  const booted = Date.now();
  const prepared = await lab.prepare(ca);
  if (!prepared.ok) {
    throw new Error(
      `first boot of the rebuilt CA failed: ${prepared.output.split("\n").slice(-6).join(" | ")}`,
    );
  }
  const imported = /CA already imported/.test(prepared.output);
  notes.push(
    imported
      ? `rebuilt CA found its directory on the volume: ${prepared.output.match(/CA already imported[^\n]*/)![0]}`
      : "rebuilt CA imported the CA afresh: its volume did not keep the CA directory",
  );
  lab.startServer(ca);
  await lab.waitReady(ca);
  const answering = (Date.now() - booted) / 1000;

  // Its CRL still revokes the certificate, and it refuses that certificate itself.
  const crl = await httpsRequest(ca.host, `${caUrl}/puppet-ca/v1/certificate_revocation_list/ca`, {
    cacert: caTls.cacert,
  });
  const stillRevoked = crl.status === 200 && revokedSerials(crl.body).includes(revokedSerial);
  const refusal = await httpsRequest(
    revokedAgent.host,
    `${caUrl}/puppet/v3/node/${revokedAgent.topo.certname}?environment=production`,
    puppetTls(revokedAgent.topo.certname),
  );
  const stillRefused = refused(refusal);
  notes.push(`the revoked certificate at the rebuilt CA: ${describeAnswer(refusal)}`);

  // A new agent joins; its serial, and the CA's own new host certificate's, continue the sequence.
  const newcomer = spare(lab, 2);
  await lab.prepareAgent(newcomer);
  const joined = await lab.runAgent(newcomer);
  const newPem = hostPath(newcomer.host, `/var/lib/puppet/ssl/certs/${newcomer.topo.certname}.pem`);
  const newSerial = existsSync(newPem) ? serialOf(readFileSync(newPem, "utf8")) : undefined;
  const issuedSince = inventorySerials(ca).slice(before.length);
  const continues =
    newSerial !== undefined &&
    issuedSince.length > 0 &&
    issuedSince.every((s) => serialValue(s) > highestBefore) &&
    !before.includes(newSerial);
  notes.push(
    `serials before the rebuild up to ${highestBefore.toString(16).toUpperCase()}; issued since: ${issuedSince.join(", ") || "none"}`,
  );
  return {
    passed:
      revoke.status === 204 && imported && stillRevoked && stillRefused && joined.ok && continues,
    figures: [
      { name: "rebuilt CA boot to answering", value: answering, unit: " s", target: "< 60 s" },
      { name: "certificates signed before the rebuild", value: before.length },
      {
        name: "new serials above every earlier one",
        value: `${issuedSince.filter((s) => serialValue(s) > highestBefore).length}/${issuedSince.length}`,
      },
      {
        name: "revocation kept (in the CRL, refused)",
        value: `${stillRevoked ? "yes" : "no"}, ${stillRefused ? "yes" : "no"}`,
      },
      { name: "new agent joined", value: joined.ok ? "yes" : "no" },
    ],
    notes,
  };
}

/**
 * 11. A PuppetDB cut off from its database takes commands into its queue; its host is stopped and
 * wiped, the database comes back, and the host is booted again on its kept volume: it processes
 * every command its predecessor had queued.
 */
export async function replacePuppetdb(lab: Lab, site: string): Promise<Outcome> {
  const notes: string[] = [];
  const db = lab.byRole("puppetdb", site)[0];
  const database = lab.byRole("database")[0];
  const master = lab.byRole("compile-master", site)[0];
  const pdbUrl = `https://${db.topo.certname}:${PUPPETDB_PORT}`;
  const marker = `queued-${Date.now()}`;
  const nodes = [1, 2, 3, 4, 5].map((i) => `queued-${i}.${lab.site(site).srvDomain}`);

  unreachable(db.topo.ns, database.topo.address);
  let accepted = 0;
  try {
    for (const certname of nodes) {
      const r = await puppetdbRequest(
        master.host,
        `${pdbUrl}/pdb/cmd/v1?command=replace_facts&version=5&certname=${certname}`,
        {
          method: "POST",
          json: {
            certname,
            environment: "production",
            producer_timestamp: new Date().toISOString(),
            producer: master.topo.certname,
            values: { lab_queued: marker },
          },
        },
      );
      if (r.status === 200) accepted++;
      else notes.push(`${certname}: HTTP ${r.status} ${r.body.trim()}`);
    }
    // Give the queue a moment to try (and fail) against the unreachable database.
    await sleep(5000);
    const queue = await queueDepth(db);
    notes.push(`queue of ${db.topo.certname} before the stop: ${queue ?? "?"} command(s)`);
    await lab.wipe(db);
  } finally {
    reachable(db.topo.ns, database.topo.address);
  }

  const booted = Date.now();
  const prepared = await lab.prepare(db);
  if (!prepared.ok) {
    throw new Error(
      `first boot of the rebuilt ${db.topo.certname} failed: ${prepared.output.split("\n").slice(-6).join(" | ")}`,
    );
  }
  lab.startServer(db);
  await lab.waitReady(db);
  lab.startTimers(db);
  const answering = (Date.now() - booted) / 1000;

  let processed = 0;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const facts = (await queryPuppetdb(
      master.host,
      pdbUrl,
      "facts",
      JSON.stringify(["and", ["=", "name", "lab_queued"], ["=", "value", marker]]),
    )) as unknown[];
    processed = facts.length;
    if (processed >= nodes.length) break;
    await sleep(2000);
  }
  const sinceBoot = (Date.now() - booted) / 1000;
  return {
    passed: accepted === nodes.length && processed === nodes.length,
    figures: [
      {
        name: "commands accepted while the database was cut off",
        value: `${accepted}/${nodes.length}`,
      },
      {
        name: "queued commands processed after the rebuild",
        value: `${processed}/${nodes.length}`,
        target: "all",
      },
      { name: "rebuilt PuppetDB boot to answering", value: answering, unit: " s" },
      { name: "boot to the last queued command stored", value: sinceBoot, unit: " s" },
    ],
    notes,
  };
}

/** Commands in a PuppetDB's queue, from its metrics on the local port (undefined if it does not say). */
async function queueDepth(db: Node): Promise<number | undefined> {
  const r = await httpsRequest(
    db.host,
    `https://${db.topo.certname}:${PUPPETDB_PORT}/metrics/v2/read/puppetlabs.puppetdb.mq:name=global.depth`,
    puppetTls(db.topo.certname),
  );
  if (r.status !== 200) return undefined;
  const value = (JSON.parse(r.body) as { value?: { Count?: number } }).value?.Count;
  return typeof value === "number" ? value : undefined;
}

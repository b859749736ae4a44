// 9. CSRs that ask for a server's identity, sent to the CA from an agent's network the way a new
// host would send its own: refused and logged, signing nothing and revoking nothing.
import { readFileSync } from "node:fs";
import { PUPPET_PORT } from "../infra/ports";
import { seedHost } from "./first-boot";
import { hostPath } from "./host";
import { httpsRequest } from "./https";
import { Lab, Node } from "./lab";
import { PROBE_DIR, autosignLog, describeAnswer, give, spare } from "./probes";
import { Outcome } from "./scenarios";
import { puppetTls } from "./services";
import { CsrOptions, makeCsr, revokedSerials, serialOf } from "./x509";

interface Attempt {
  readonly what: string;
  readonly certname: string;
  readonly csr: CsrOptions;
  /** The certificate the name holds already, which must stay valid. */
  readonly existing?: Node;
}

/**
 * 9. CSRs sent to the CA from an agent's network: with the agent challenge, a server role, the alt
 * names puppet.<domain> or ca.<domain>, a master's certname or an existing agent's; with the server
 * challenge, a master asking for ca.<domain>. Each is refused and logged, signs nothing and revokes nothing; a plain
 * agent with the agent challenge is signed, so the refusals are the policy's.
 */
export async function impersonation(lab: Lab): Promise<Outcome> {
  const notes: string[] = [];
  const { domain } = lab.topo;
  const site = lab.topo.sites.find((s) => s.name === lab.topo.primarySite)!;
  const other = lab.topo.sites.find((s) => s.name !== site.name)!;
  const agentChallenge = lab.material.agentChallenge;
  const masterA = lab.byRole("compile-master", site.name)[0];
  const masterB = lab.byRole("compile-master", other.name)[0];
  const agentA = lab.agents(site.name)[0];
  const bAltNames = [masterB.topo.certname, `pool.${other.srvDomain}`, `puppet.${domain}`];
  const attempts: Attempt[] = [
    {
      what: "a server role with the agent challenge",
      certname: `rogue-1.${site.srvDomain}`,
      csr: { challenge: agentChallenge, role: "puppet-compile-master" },
    },
    {
      what: `puppet.${domain} with the agent challenge`,
      certname: `rogue-2.${site.srvDomain}`,
      csr: {
        challenge: agentChallenge,
        altNames: [`rogue-2.${site.srvDomain}`, `puppet.${domain}`],
      },
    },
    {
      what: `ca.${domain} with the agent challenge`,
      certname: `rogue-3.${site.srvDomain}`,
      csr: { challenge: agentChallenge, altNames: [`rogue-3.${site.srvDomain}`, `ca.${domain}`] },
    },
    {
      what: "a master's certname with the agent challenge",
      certname: masterA.topo.certname,
      csr: { challenge: agentChallenge },
      existing: masterA,
    },
    {
      what: "an existing agent's certname with a new key and the agent challenge",
      certname: agentA.topo.certname,
      csr: { challenge: agentChallenge },
      existing: agentA,
    },
    {
      what: `a master asking for ca.${domain} with the server challenge`,
      certname: masterB.topo.certname,
      csr: {
        challenge: lab.material.serverChallenge,
        role: "puppet-compile-master",
        altNames: [...bAltNames, `ca.${domain}`],
      },
      existing: masterB,
    },
  ];
  const prober = spare(lab, 2);
  await seedHost(prober.host);
  const cacert = give(prober.host, `${PROBE_DIR}/ca.pem`, lab.material.caCertificatePem);
  const ca = `https://${lab.byRole("ca")[0].topo.certname}:${PUPPET_PORT}/puppet-ca/v1`;
  const submit = (certname: string, csr: string) =>
    httpsRequest(prober.host, `${ca}/certificate_request/${certname}?environment=production`, {
      method: "PUT",
      body: csr,
      contentType: "text/plain",
      cacert,
    });
  const certificateOf = (certname: string) =>
    httpsRequest(prober.host, `${ca}/certificate/${certname}?environment=production`, { cacert });

  let refusedCount = 0;
  for (const a of attempts) {
    const serialBefore = a.existing
      ? serialOf(
          readFileSync(hostPath(a.existing.host, puppetTls(a.existing.topo.certname).cert), "utf8"),
        )
      : undefined;
    const from = autosignLog(lab).length;
    const put = await submit(a.certname, makeCsr(a.certname, a.csr));
    const cert = await certificateOf(a.certname);
    const reason = autosignLog(lab, from).find((l) => l.includes(`rejected ${a.certname}:`));
    const crl = await httpsRequest(prober.host, `${ca}/certificate_revocation_list/ca`, { cacert });
    const revoked =
      serialBefore !== undefined &&
      crl.status === 200 &&
      revokedSerials(crl.body).includes(serialBefore);
    const signedNothing = a.existing
      ? cert.status === 200 && serialOf(cert.body) === serialBefore && !revoked
      : cert.status === 404;
    const ok = reason !== undefined && signedNothing;
    if (ok) refusedCount++;
    notes.push(
      `${a.what} (${a.certname}): ${ok ? "refused" : "NOT refused"}; CSR ${describeAnswer(put)}, certificate ${a.existing ? (signedNothing ? "unchanged and not revoked" : "CHANGED or revoked") : describeAnswer(cert)}; CA log: ${reason?.replace(/^\S+ autosign /, "") ?? "(nothing)"}`,
    );
  }

  const probe = `probe-1.${site.srvDomain}`;
  await submit(probe, makeCsr(probe, { challenge: agentChallenge }));
  const signed = await certificateOf(probe);
  notes.push(
    `a plain agent with the agent challenge (${probe}): certificate ${describeAnswer(signed)}`,
  );
  return {
    passed: refusedCount === attempts.length && signed.status === 200,
    figures: [
      {
        name: "impersonating CSRs refused and logged",
        value: `${refusedCount}/${attempts.length}`,
      },
      { name: "plain agent CSR signed", value: signed.status === 200 ? "yes" : "no" },
    ],
    notes,
  };
}

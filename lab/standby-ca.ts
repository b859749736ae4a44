// 21. The standby CA keeps up with the active one: a certificate signed there and a revocation made
// there reach the standby within its copy interval, the standby serves them to agents, continues the
// active CA's serial numbers, and signs nothing itself.
import { existsSync, readFileSync } from "node:fs";
import { PUPPET_PORT } from "../infra/ports";
import { hostPath } from "./host";
import { httpsRequest } from "./https";
import { Lab, Node } from "./lab";
import { AUTOSIGN_LOG, caFile, describeAnswer, inventorySerials, secondsUntil } from "./probes";
import { Outcome } from "./scenarios";
import { puppetTls } from "./services";
import { sleep } from "./sleep";
import { makeCsr, normalSerial, revokedSerials, serialOf } from "./x509";

export async function standbySync(lab: Lab): Promise<Outcome> {
  const notes: string[] = [];
  const ca = lab.byRole("ca")[0];
  const standby = lab.byRole("standby-ca")[0];
  if (!standby) return { passed: false, figures: [], notes: ["the plans have no standby CA"] };
  const interval = lab.options.caSyncSeconds;
  // A copy takes an interval at most, then the time the copy itself runs.
  const limitMs = (interval * 3 + 30) * 1000;
  const prober = lab.agents(standby.topo.site)[0];
  const { cacert } = puppetTls(prober.topo.certname);
  const api = (node: Node) => `https://${node.topo.certname}:${PUPPET_PORT}/puppet-ca/v1`;
  const submit = (node: Node, certname: string) =>
    httpsRequest(prober.host, `${api(node)}/certificate_request/${certname}`, {
      method: "PUT",
      body: makeCsr(certname, { challenge: lab.material.agentChallenge }),
      contentType: "text/plain",
      cacert,
    });
  const certificate = (node: Node, certname: string) =>
    httpsRequest(prober.host, `${api(node)}/certificate/${certname}`, { cacert });
  const srvDomain = lab.site(standby.topo.site).srvDomain;
  const stamp = Date.now().toString(36);

  // A certificate signed by the active CA, as an agent gets one.
  const probe = `standby-probe-${stamp}.${srvDomain}`;
  await submit(ca, probe);
  const signed = await certificate(ca, probe);
  const serial = signed.status === 200 ? serialOf(signed.body) : undefined;
  notes.push(`${probe} at the active CA: ${describeAnswer(signed)}, serial ${serial ?? "none"}`);
  const copied = await secondsUntil(
    () => caFile(standby, `signed/${probe}.pem`) === signed.body,
    limitMs,
  );
  const served = (await certificate(standby, probe)).status === 200;
  const inventoried = serial !== undefined && inventorySerials(standby).includes(serial);

  // Revoked at the active CA (with its own certificate, which carries pp_cli_auth).
  const revoke = await httpsRequest(ca.host, `${api(ca)}/certificate_status/${probe}`, {
    method: "PUT",
    body: JSON.stringify({ desired_state: "revoked" }),
    contentType: "application/json",
    ...puppetTls(ca.topo.certname),
  });
  notes.push(`revoking ${probe} at the active CA: ${describeAnswer(revoke)}`);
  const inStandbyCrl = await secondsUntil(async () => {
    const crl = await httpsRequest(prober.host, `${api(standby)}/certificate_revocation_list/ca`, {
      cacert,
    });
    return crl.status === 200 && serial !== undefined && revokedSerials(crl.body).includes(serial);
  }, limitMs);

  // The standby signs nothing, and keeps no request for after a promotion.
  const refusedProbe = `standby-refused-${stamp}.${srvDomain}`;
  const put = await submit(standby, refusedProbe);
  const notSigned = (await certificate(standby, refusedProbe)).status === 404;
  const logPath = hostPath(standby.host, AUTOSIGN_LOG);
  const reason = (existsSync(logPath) ? readFileSync(logPath, "utf8") : "")
    .split("\n")
    .find((l) => l.includes(`rejected ${refusedProbe}:`));
  const requestKept = caFile(standby, `requests/${refusedProbe}.pem`) !== undefined;
  notes.push(
    `CSR sent to the standby: ${describeAnswer(put)}; certificate ${notSigned ? "not signed" : "SIGNED"}; request ${requestKept ? "KEPT" : "dropped"}; log: ${reason?.replace(/^\S+ autosign /, "") ?? "(nothing)"}`,
  );

  // The standby's next serial is the active CA's once it has copied everything.
  await sleep((interval + 2) * 1000);
  const nextActive = normalSerial(caFile(ca, "serial") ?? "");
  const nextStandby = normalSerial(caFile(standby, "serial") ?? "");
  notes.push(`next serial: active ${nextActive}, standby ${nextStandby}`);

  const withinLimit = (s: number | undefined) => s !== undefined;
  return {
    passed:
      serial !== undefined &&
      withinLimit(copied) &&
      served &&
      inventoried &&
      revoke.status === 204 &&
      withinLimit(inStandbyCrl) &&
      notSigned &&
      reason !== undefined &&
      !requestKept &&
      nextActive !== "" &&
      nextActive === nextStandby,
    figures: [
      {
        name: "signed at the active CA to copied by the standby",
        value: copied ?? "never",
        unit: copied === undefined ? "" : " s",
        target: `<= copy interval ${interval} s`,
      },
      {
        name: "revoked at the active CA to in the standby's CRL",
        value: inStandbyCrl ?? "never",
        unit: inStandbyCrl === undefined ? "" : " s",
        target: `<= copy interval ${interval} s`,
      },
      { name: "certificates the standby signed", value: notSigned ? 0 : 1 },
      {
        name: "standby's next serial equals the active CA's",
        value: nextActive === nextStandby ? "yes" : "no",
      },
    ],
    notes,
  };
}

// What the certificate scenarios share: a spare agent host that probes the servers from the agents'
// network with identities the lab gives it, the CA's autosign log and its directory, and the wait
// for a condition that times it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { CA_DIR } from "../infra/hostconfig/paths";
import { PUPPET_PORT } from "../infra/ports";
import { ExecHost, hostPath } from "./host";
import { HttpsAnswer, httpsRequest } from "./https";
import { Lab, Node } from "./lab";
import { puppetTls } from "./services";
import { sleep } from "./sleep";
import { makeCsr, normalSerial } from "./x509";

export const AUTOSIGN_LOG = "/var/log/puppet-multisite/autosign.log";
/** Where a probing host keeps what the lab gives it (CA certificate, an old identity, CSRs). */
export const PROBE_DIR = "/var/lib/puppet-multisite/probe";

/** Spare agent `n` of the primary site: a host the lab has not prepared as an agent yet. */
export function spare(lab: Lab, n: number): Node {
  return lab.byRole("agent").find((a) => a.topo.certname.startsWith(`spare-${n}.`))!;
}

/** Writes `content` where `host` sees `path`; returns `path`. */
export function give(host: ExecHost, path: string, content: string): string {
  const dest = hostPath(host, path);
  mkdirSync(dirname(dest), { recursive: true });
  writeFileSync(dest, content, { mode: 0o600 });
  return path;
}

/** Lines of the CA's autosign log, from `from` on (a line count taken earlier). */
export function autosignLog(lab: Lab, from = 0): string[] {
  const path = hostPath(lab.byRole("ca")[0].host, AUTOSIGN_LOG);
  return existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean).slice(from) : [];
}

/** Refused: no TLS session at all, or an HTTP refusal of the identity. */
export function refused(a: HttpsAnswer): boolean {
  return a.status === undefined || a.status === 401 || a.status === 403;
}

/**
 * When the first line of a host script's log (lines start with its millisecond timestamp) at or
 * after `since` matches `pattern`; undefined while none does.
 */
export function loggedAt(log: string, pattern: RegExp, since = 0): number | undefined {
  if (!existsSync(log)) return undefined;
  return readFileSync(log, "utf8")
    .split("\n")
    .filter((l) => pattern.test(l))
    .map((l) => Date.parse(l.split(" ")[0]))
    .find((t) => t >= since);
}

/** An answer in a few words, for the notes. */
export function describeAnswer(a: HttpsAnswer): string {
  return a.status === undefined
    ? `no answer (curl ${a.failure?.curlExit}: ${a.failure?.message.split("\n")[0]})`
    : `HTTP ${a.status}`;
}

/** Seconds from now until `check` holds, polling every 250 ms; undefined when `limitMs` passes. */
export async function secondsUntil(
  check: () => boolean | Promise<boolean>,
  limitMs: number,
): Promise<number | undefined> {
  const start = Date.now();
  while (Date.now() - start < limitMs) {
    if (await check()) return (Date.now() - start) / 1000;
    await sleep(250);
  }
  return undefined;
}

/** A file of a CA host's CA directory, as the host sees it (through its state volume). */
export function caFile(node: Node, name: string): string | undefined {
  const path = hostPath(node.host, `${CA_DIR}/${name}`);
  return existsSync(path) ? readFileSync(path, "utf8") : undefined;
}

/** Serials (as serialOf gives them) of a CA host's inventory, in signing order. */
export function inventorySerials(node: Node): string[] {
  return (caFile(node, "inventory.txt") ?? "")
    .split("\n")
    .filter(Boolean)
    .map((l) => normalSerial(l.split(" ")[0]));
}

/**
 * What an agent's first run asks of a CA, sent from `from`: a CSR for `certname` with the agent
 * challenge, then its certificate. The second answer: 200 with the certificate once signed, 404
 * when the CA refused (and dropped) the request.
 */
export async function askToSign(
  lab: Lab,
  from: Node,
  ca: Node,
  certname: string,
): Promise<HttpsAnswer> {
  const { cacert } = puppetTls(from.topo.certname);
  const api = `https://${ca.topo.certname}:${PUPPET_PORT}/puppet-ca/v1`;
  await httpsRequest(from.host, `${api}/certificate_request/${certname}`, {
    method: "PUT",
    body: makeCsr(certname, { challenge: lab.material.agentChallenge }),
    contentType: "text/plain",
    cacert,
  });
  return httpsRequest(from.host, `${api}/certificate/${certname}`, { cacert });
}

/** The reason a CA's autosigner logged for refusing `certname`, without its timestamp. */
export function refusalReason(ca: Node, certname: string): string | undefined {
  const log = hostPath(ca.host, AUTOSIGN_LOG);
  return (existsSync(log) ? readFileSync(log, "utf8") : "")
    .split("\n")
    .find((l) => l.includes(`rejected ${certname}: `))
    ?.replace(/^\S+ autosign /, "");
}

// The order in which a server's first boot asks the CAs for its certificate (lib.sh's ca_order, and
// bootstrap_certificate's round of requests),
// run for real against the fake CA: by the epoch of each CA's CRL verified against the CA
// certificate (CRL number / 2^32, which a promotion moves on), highest first, list order among
// equals, then the CAs that do not answer. 127.0.0.1 stands for a lost CA: the fake CA's
// certificate does not name it, so no verified connection is made.
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { describe, expect } from "vitest";
import { SCRIPTS_DIR } from "../../infra/hostconfig";
import { PEER_CA, ScriptRun, Standby, TOOLS, runScript, useFakeCa } from "./fake-ca";
import { itWithTools } from "./helpers";

const ca = useFakeCa("pm-ca-order-");
const EPOCH = 2 ** 32;

/**
 * Runs lib.sh's `fn` on `host` with its host.env and the CA certificate as argument, as the first
 * boot does; `path` before the system's PATH.
 */
function libCall(host: Standby, fn: string, path?: string): Promise<ScriptRun> {
  // lib.sh sets Debian's ssldir before it reads host.env: the environment moves it.
  return runScript("-c", host, {
    interpreter: "bash",
    args: [
      `source ${join(SCRIPTS_DIR, "lib.sh")} && load_settings && ${fn} "$1"`,
      fn,
      join(host.ssldir, "certs/ca.pem"),
    ],
    env: {
      PUPPET_SSLDIR: host.ssldir,
      ...(path !== undefined && { PATH: `${path}:${process.env.PATH}` }),
    },
  });
}

/** What ca_order prints, one CA a line, on a host listing `servers`. */
async function caOrder(servers: string): Promise<string[]> {
  const host = ca.standby({ ROLE: "compile-master", CA_SERVERS: servers });
  const r = await libCall(host, "ca_order");
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim().split("\n");
}

describe("ca_order (lib.sh)", () => {
  const tools = [...TOOLS, "bash", "curl"];

  itWithTools(tools, "keeps the list order when both serve the same epoch", async () => {
    expect(await caOrder(`localhost ${PEER_CA}`)).toEqual(["localhost", PEER_CA]);
  });

  itWithTools(tools, "puts a promoted CA before the one it fenced", async () => {
    ca.peerCrl = ca.crl(EPOCH + 1, [11]);
    expect(await caOrder(`localhost ${PEER_CA}`)).toEqual([PEER_CA, "localhost"]);
  });

  itWithTools(tools, "puts a CA that does not answer last", async () => {
    expect(await caOrder(`127.0.0.1 ${PEER_CA}`)).toEqual([PEER_CA, "127.0.0.1"]);
  });

  itWithTools(tools, "ignores a newer epoch in a CRL the CA certificate did not sign", async () => {
    ca.peerCrl = ca.crl(2 * EPOCH, [], ca.otherCa);
    expect(await caOrder(`${PEER_CA} localhost`)).toEqual(["localhost", PEER_CA]);
  });

  itWithTools(tools, "keeps the list order when none answers", async () => {
    expect(await caOrder("127.0.0.1 localhost.invalid")).toEqual([
      "127.0.0.1",
      "localhost.invalid",
    ]);
  });
});

describe("bootstrap_certificate (lib.sh)", () => {
  /**
   * One round on a host listing `servers`, with a `puppet` on PATH that logs its arguments and
   * signs only at `signer`: as a standby or a fenced CA, the others refuse.
   */
  async function round(servers: string, signer: string) {
    const host = ca.standby({ ROLE: "compile-master", CA_SERVERS: servers, CERTNAME: "m.test" });
    const bin = mkdtempSync(join(host.root, "bin-"));
    const calls = join(host.root, "calls");
    writeFileSync(calls, "");
    writeFileSync(
      join(bin, "puppet"),
      `#!/bin/bash\necho "$*" >> ${calls}\n[[ " $* " == *" --ca_server ${signer} "* ]]\n`,
    );
    chmodSync(join(bin, "puppet"), 0o755);
    const r = await libCall(host, "bootstrap_certificate", bin);
    const asked = readFileSync(calls, "utf8")
      .trim()
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => / --ca_server (\S+)/.exec(l)?.[1]);
    return { ...r, asked };
  }

  itWithTools([...TOOLS, "bash", "curl"], "asks each CA in turn until one signs", async () => {
    const r = await round(`localhost ${PEER_CA}`, PEER_CA);
    expect(r.status, r.stderr).toBe(0);
    expect(r.asked).toEqual(["localhost", PEER_CA]);
    expect(r.stderr).toMatch(/no certificate from localhost/);
    expect(r.stderr).toMatch(new RegExp(`certificate for m\\.test signed by ${PEER_CA}`));
  });

  itWithTools([...TOOLS, "bash", "curl"], "asks the promoted CA first", async () => {
    ca.peerCrl = ca.crl(EPOCH + 1, []);
    const r = await round(`localhost ${PEER_CA}`, PEER_CA);
    expect(r.status, r.stderr).toBe(0);
    expect(r.asked).toEqual([PEER_CA]);
  });

  itWithTools([...TOOLS, "bash", "curl"], "fails the attempt when no CA signs", async () => {
    const r = await round(`localhost ${PEER_CA}`, "nowhere");
    expect(r.status).not.toBe(0);
    expect(r.asked).toEqual(["localhost", PEER_CA]);
  });
});

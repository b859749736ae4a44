// How a server's first boot picks the CA to ask for its certificate (lib.sh's active_ca), run for
// real against the fake CA: of the CAs of CA_SERVERS, the one whose CRL, verified against the CA
// certificate, has the highest epoch (CRL number / 2^32, which a promotion moves on).
import { join } from "path";
import { describe, expect } from "vitest";
import { SCRIPTS_DIR } from "../../infra/hostconfig";
import { PEER_CA, Standby, TOOLS, runScript, useFakeCa } from "./fake-ca";
import { itWithTools } from "./helpers";

const ca = useFakeCa("pm-active-ca-");
const EPOCH = 2 ** 32;

/** What active_ca answers on a host listing `servers`; 127.0.0.1 stands for a CA that is lost. */
async function activeCa(servers: string): Promise<string> {
  const host: Standby = ca.standby({ ROLE: "compile-master", CA_SERVERS: servers });
  // lib.sh sets Debian's ssldir before it reads host.env: the environment moves it.
  const r = await runScript("-c", host, {
    interpreter: "bash",
    args: [
      `source ${join(SCRIPTS_DIR, "lib.sh")} && load_settings && active_ca "$1"`,
      "active-ca",
      join(host.ssldir, "certs/ca.pem"),
    ],
    env: { PUPPET_SSLDIR: host.ssldir },
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

describe("active_ca (lib.sh)", () => {
  const tools = [...TOOLS, "bash", "curl"];

  itWithTools(tools, "takes the first CA listed when both serve the same epoch", async () => {
    expect(await activeCa(`localhost ${PEER_CA}`)).toBe("localhost");
  });

  itWithTools(tools, "takes a promoted CA, listed second, over the fenced one", async () => {
    ca.peerCrl = ca.crl(EPOCH + 1, [11]);
    expect(await activeCa(`localhost ${PEER_CA}`)).toBe(PEER_CA);
  });

  itWithTools(tools, "takes the only CA that answers while the other is lost", async () => {
    expect(await activeCa(`127.0.0.1 ${PEER_CA}`)).toBe(PEER_CA);
  });

  itWithTools(tools, "ignores a newer epoch in a CRL the CA certificate did not sign", async () => {
    ca.peerCrl = ca.crl(2 * EPOCH, [], ca.otherCa);
    expect(await activeCa(`localhost ${PEER_CA}`)).toBe("localhost");
  });

  itWithTools(tools, "names the first CA listed when none answers", async () => {
    expect(await activeCa("127.0.0.1 localhost.invalid")).toBe("127.0.0.1");
  });
});

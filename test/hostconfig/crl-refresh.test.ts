// The CRL refresh of masters and PuppetDB hosts (scripts/crl-refresh.sh) run for real against the
// fake CA (fake-ca.ts), which serves its CRL as Puppet Server does: the CAs of CA_SERVERS in order,
// the first CRL that verifies and is not older than the one in use.
import { readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { describe, expect } from "vitest";
import { SCRIPTS_DIR } from "../../infra/hostconfig";
import { ScriptRun, Standby, TOOLS, runScript, useFakeCa } from "./fake-ca";
import { itWithTools } from "./helpers";

const ca = useFakeCa("pm-crl-refresh-");

/**
 * A master whose CRL in use has `number`, asking `servers` in order. 127.0.0.1 stands for a CA that
 * cannot be reached over verified TLS (the fake CA's certificate names localhost only), without
 * traffic beyond loopback.
 */
function master(number: number, servers: string): Standby {
  const host = ca.standby({ ROLE: "compile-master", CA_SERVERS: servers });
  writeFileSync(join(host.ssldir, "crl.pem"), ca.crl(number, []));
  return host;
}

const refresh = (host: Standby): Promise<ScriptRun> =>
  // lib.sh sets Debian's ssldir before it reads host.env: the environment moves it.
  runScript(join(SCRIPTS_DIR, "crl-refresh.sh"), host, {
    interpreter: "bash",
    env: { PUPPET_SSLDIR: host.ssldir },
  });

const inUse = (host: Standby) => readFileSync(join(host.ssldir, "crl.pem"), "utf8");

describe("crl-refresh.sh", () => {
  itWithTools(
    [...TOOLS, "curl"],
    "takes the next CA's CRL when the first cannot be reached",
    async () => {
      const host = master(1, "127.0.0.1 localhost");
      const r = await refresh(host);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/CA 127\.0\.0\.1 unreachable/);
      expect(r.stderr).toMatch(/CRL updated to number 1 from localhost \(2 revoked\)/);
      expect(inUse(host)).toBe(ca.active.crl);
    },
  );

  itWithTools(
    [...TOOLS, "curl"],
    "keeps a newer CRL than a CA serves (a fenced CA's)",
    async () => {
      const host = master(5, "localhost");
      const before = inUse(host);
      const r = await refresh(host);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(
        /the CRL from localhost \(number 1\) is older than the one in use \(5\)/,
      );
      expect(inUse(host)).toBe(before);
    },
  );

  itWithTools([...TOOLS, "curl"], "skips an older CRL for a newer one further on", async () => {
    ca.active.crl = ca.crl(7, [11]);
    const host = master(5, "127.0.0.1 localhost");
    const r = await refresh(host);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/CRL updated to number 7 from localhost \(1 revoked\)/);
  });

  itWithTools([...TOOLS, "curl"], "refuses a CRL another CA signed", async () => {
    ca.active.crl = ca.crl(9, [11], ca.otherCa);
    const host = master(1, "localhost");
    const before = inUse(host);
    const r = await refresh(host);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/the CRL from localhost does not verify against the CA certificate/);
    expect(inUse(host)).toBe(before);
  });

  itWithTools([...TOOLS, "curl"], "keeps the CRL in use while no CA answers", async () => {
    const host = master(1, "127.0.0.1");
    const before = inUse(host);
    const r = await refresh(host);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/no CA answered: keeping the current CRL/);
    expect(inUse(host)).toBe(before);
  });
});

// 12. A first boot that fails is retried by the host itself: a master booted while its control
// repository is unreachable fails, and finishes with no person once the repository is back.
import { existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { STATE_DIR as HOST_STATE_DIR } from "../infra/hostconfig";
import { PUPPET_PORT } from "../infra/ports";
import { startBoot } from "./first-boot";
import { hostPath } from "./host";
import { Lab } from "./lab";
import { loggedAt } from "./probes";
import { STATE_DIR } from "./processes";
import { Outcome } from "./scenarios";
import { sleep } from "./sleep";

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`gave up waiting for ${what} after ${timeoutMs / 1000} s`);
    await sleep(500);
  }
}

export async function bootRetry(lab: Lab, site: string): Promise<Outcome> {
  const notes: string[] = [];
  const interval = lab.options.bootRetrySeconds;
  const victim = lab.byRole("compile-master", site).at(-1)!;
  const name = victim.topo.certname;
  // The repository's URL for this boot points where nothing is yet; a link put there later is the
  // repository coming back.
  const outageDir = join(STATE_DIR, "outage");
  mkdirSync(outageDir, { recursive: true });
  const outageRepo = join(outageDir, "control-repo.git");
  await lab.wipe(victim);
  const started = Date.now();
  const boot = await startBoot(victim.host, {
    userData: lab.userData(victim),
    secretsDir: lab.material.secretsDir,
    scriptsDir: lab.material.scriptsDir,
    env: { ...lab.bootEnv(), CONTROL_REPO_URL: `file://${outageRepo}` },
  });
  try {
    const failedAt = await waitFor("the first failed attempt", 10 * 60_000, () =>
      loggedAt(boot.log, /\[boot\] first boot of compile-master: attempt 1 failed/),
    );
    const why = readFileSync(boot.log, "utf8")
      .split("\n")
      .filter((l) => /giving up|ERROR/.test(l))
      .at(-1);
    notes.push(
      `attempt 1 failed after ${((failedAt - started) / 1000).toFixed(1)} s: ${why?.trim() ?? "(no reason logged)"}`,
    );

    // The repository is back.
    symlinkSync(new URL(lab.material.controlRepoUrl).pathname, outageRepo);
    const back = Date.now();
    const nextAttempt = await waitFor("the next attempt", (interval + 60) * 1000, () =>
      loggedAt(boot.log, /\[boot\] first boot of compile-master: attempt \d+$/, back),
    );
    const done = await waitFor("the first boot to complete", 10 * 60_000, () =>
      loggedAt(boot.log, /\[boot\] first boot of compile-master complete/, back),
    );
    const marker = existsSync(hostPath(victim.host, `${HOST_STATE_DIR}/first-boot.done`));
    const attempts = readFileSync(boot.log, "utf8").match(/complete after (\d+) attempt/)?.[1];
    await boot.wait();

    lab.startServer(victim);
    await lab.waitReady(victim);
    lab.startTimers(victim);
    const serving = Date.now();
    const agent = lab.agents(site)[0];
    const run = await lab.runAgent(agent, [
      "--no-use_srv_records",
      "--server_list",
      `${name}:${PUPPET_PORT}`,
    ]);
    const served = run.ok && run.master?.split(":")[0] === name;
    notes.push(
      `${agent.topo.certname}: ${served ? `catalog compiled by ${name}` : `ok=${run.ok}, compiled by ${run.master ?? "?"}`}`,
    );
    return {
      passed: marker && served,
      figures: [
        {
          name: "repository back to the next attempt",
          value: (nextAttempt - back) / 1000,
          unit: " s",
          target: `<= retry interval ${interval} s`,
        },
        { name: "repository back to first boot complete", value: (done - back) / 1000, unit: " s" },
        { name: "repository back to serving", value: (serving - back) / 1000, unit: " s" },
        { name: "attempts", value: attempts ?? "?" },
      ],
      notes,
    };
  } finally {
    await boot.stop(5_000);
  }
}

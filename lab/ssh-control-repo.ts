// Masters deploying the control repository from an SSH URL with a deploy key, as a team whose
// repository is private sets them up: host.env's CONTROL_REPO_URL (ssh://), CONTROL_REPO_SECRET_NAME
// and _REGION (the secret holds the OpenSSH private key) and CONTROL_REPO_KNOWN_HOSTS, which
// code-sync.sh reads (the lab passes them by environment, which host.env's values give way to).
import { dirname, join, resolve } from "node:path";
import { LIB_DIR } from "../infra/hostconfig";
import { PUPPET_PORT } from "../infra/ports";
import { lastLines, names } from "./code-scenarios";
import { startGitSsh } from "./git-ssh";
import { ADAPTER_ENV, RunResult, runInHost } from "./host";
import { Lab, Node } from "./lab";
import { pushCommit, writeSecret } from "./material";
import { STATE_DIR } from "./processes";
import { Outcome, deployedCommit } from "./scenarios";
import { plannedSetting } from "./truststore";

/** The deploy key's secret, named like the deployment's other secrets (`<project>/<site>/...`). */
function deployKeySecret(lab: Lab): string {
  return `${dirname(lab.secretNames.caKey)}/control-repo-deploy-key`;
}

/** The Region the master reads its secrets in, from its planned host.env. */
function secretRegion(master: Node): string {
  const region = plannedSetting(master.topo.userData!, "SERVER_CHALLENGE_SECRET_REGION");
  if (!region)
    throw new Error(`${master.topo.certname}: host.env has no SERVER_CHALLENGE_SECRET_REGION`);
  return region;
}

/** One run of the master's code sync, as its timer runs it, with `env` on top. */
function codeSync(master: Node, env: Record<string, string>): Promise<RunResult> {
  return runInHost(master.host, [`${LIB_DIR}/code-sync.sh`], {
    env: { ...ADAPTER_ENV, ...env },
    logName: "code-sync-ssh",
    timeoutMs: 6 * 60_000,
  });
}

/**
 * A master of each site deploys from an SSH URL served in the lab: refused while the server's host
 * key is unknown (production stays), served once it is known, and an agent's catalog from that
 * master carries the commit. The masters go back to the lab's file:// URL afterwards.
 */
export async function sshControlRepo(lab: Lab): Promise<Outcome> {
  const masters = lab.topo.sites.map((s) => lab.byRole("compile-master", s.name)[0]);
  // The database host stands for the Git host: a lab host no scenario here stops.
  const gitHost = lab.byRole("database")[0];
  const notes: string[] = [];
  const problems: string[] = [];
  const count = { refused: 0, fetched: 0, served: 0, restored: 0 };
  const secret = deployKeySecret(lab);
  const server = await startGitSsh({
    dir: join(STATE_DIR, "material", "git-ssh"),
    netns: gitHost.topo.ns,
    address: gitHost.topo.address,
    name: gitHost.topo.certname,
  });
  writeSecret(lab.material.secretsDir, secret, server.deployKey);
  // The bare repository the file:// URL names: both URLs serve the same commits.
  const url = `${server.origin}${new URL(lab.material.controlRepoUrl).pathname}`;
  const sshEnv = (m: Node, knownHosts: string) => ({
    PUPPET_MULTISITE_SECRETS_DIR: resolve(lab.material.secretsDir),
    CONTROL_REPO_URL: url,
    CONTROL_REPO_SECRET_NAME: secret,
    CONTROL_REPO_SECRET_REGION: secretRegion(m),
    CONTROL_REPO_KNOWN_HOSTS: knownHosts,
  });
  // Their sync loops fetch the file:// URL: paused, so only this scenario's runs move production.
  await Promise.all(masters.map((m) => lab.stopTimers(m)));
  try {
    const before = masters.map((m) => deployedCommit(m));
    const commit = pushCommit(lab.material, lab.branch, "lab: ssh-control-repo");
    notes.push(`${url}, deploy key in secret ${secret}, commit ${commit.slice(0, 12)}`);

    // One attempt: retrying cannot make an unknown host key known, and each retry waits longer.
    const unknown = await Promise.all(
      masters.map((m) =>
        codeSync(m, {
          ...sshEnv(m, server.strangerKnownHosts),
          PUPPET_MULTISITE_GIT_ATTEMPTS: "1",
        }),
      ),
    );
    masters.forEach((m, i) => {
      const r = unknown[i];
      const said = r.output.split("\n").find((l) => /host key/i.test(l));
      notes.push(
        `${m.topo.certname}, host key unknown: exit ${r.code}: ${said?.trim() ?? lastLines(r.output, 2)}`,
      );
      if (!r.ok && deployedCommit(m) === before[i]) count.refused++;
      else problems.push(`${m.topo.certname}: synced (exit ${r.code}) with an unknown host key`);
    });

    const known = await Promise.all(masters.map((m) => codeSync(m, sshEnv(m, server.knownHosts))));
    masters.forEach((m, i) => {
      const accepted = server.acceptedFrom(m.topo.address).length;
      const live = deployedCommit(m);
      if (known[i].ok && live === commit && accepted > 0) count.fetched++;
      else
        problems.push(
          `${m.topo.certname}, host key known: exit ${known[i].code}, production ${live?.slice(0, 12)}, deploy key accepted ${accepted} time(s): ${lastLines(known[i].output)}`,
        );
    });

    for (const m of masters) {
      const agent = lab.agents(m.topo.site)[0];
      const run = await lab.runAgent(agent, [
        "--no-use_srv_records",
        `--server_list=${m.topo.certname}:${PUPPET_PORT}`,
      ]);
      const from = run.master?.split(":")[0];
      if (run.ok && from === m.topo.certname && names(run.configVersion, commit)) count.served++;
      else
        problems.push(
          `${agent.topo.certname}: ok=${run.ok}, compiled by ${from}, config_version ${run.configVersion}`,
        );
    }

    // Back to the lab's URL with sshd gone: a master still fetching over SSH fails here.
    await server.process.stop(5_000);
    const back = await Promise.all(
      masters.map((m) => codeSync(m, { CONTROL_REPO_URL: lab.material.controlRepoUrl })),
    );
    masters.forEach((m, i) => {
      if (back[i].ok && deployedCommit(m) === commit) count.restored++;
      else
        problems.push(
          `${m.topo.certname}, back on ${lab.material.controlRepoUrl}: exit ${back[i].code}, production ${deployedCommit(m)?.slice(0, 12)}: ${lastLines(back[i].output)}`,
        );
    });
  } finally {
    await server.process.stop(5_000);
    for (const m of masters) lab.startTimers(m);
  }
  const of = (n: number) => `${n}/${masters.length}`;
  return {
    passed: problems.length === 0,
    figures: [
      { name: "masters refusing an unknown host key", value: of(count.refused) },
      { name: "masters deploying over SSH", value: of(count.fetched) },
      { name: "agents served the commit by those masters", value: of(count.served) },
      { name: "masters back on the file:// URL", value: of(count.restored) },
    ],
    notes: [...notes, ...problems],
  };
}

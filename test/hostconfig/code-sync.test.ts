// code-sync.sh's credentials and cache flushes, run for real. git and ssh-keygen are the real ones;
// a `git` wrapper first on PATH records what the clone would be given (its arguments, and what git
// itself resolves from the GIT_CONFIG_* variables for the repository's URL and for another server),
// then fails the clone with the message a server would cause. A `curl` stand-in records the admin
// API calls the deploys make.
import { execFileSync } from "child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { describe, expect } from "vitest";
import { SCRIPTS_DIR } from "../../infra/hostconfig";
import { renderEnvFile } from "../../infra/hostconfig/envfile";
import { SSH_HOST_KEY } from "../fixtures";
import { itWithTools, run } from "./helpers";

const work = mkdtempSync(join(tmpdir(), "pm-code-sync-"));
const REAL_GIT = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim();
const TOKEN = "ghp_FAKE-token-never-in-argv-7c1d";

interface Host {
  readonly dir: string;
  readonly bin: string;
  readonly secrets: string;
  readonly envs: string;
}

function newHost(): Host {
  const dir = mkdtempSync(join(work, "host-"));
  for (const sub of ["conf", "bin", "secrets", "envs", "state"]) mkdirSync(join(dir, sub));
  return {
    dir,
    bin: join(dir, "bin"),
    secrets: join(dir, "secrets"),
    envs: join(dir, "envs"),
  };
}

function tool(host: Host, name: string, script: string): void {
  const path = join(host.bin, name);
  writeFileSync(path, `#!/usr/bin/env bash\n${script}`);
  chmodSync(path, 0o755);
}

/** A git that records the clone's view, then fails it with `stderr` (exit 128). */
function failingClone(host: Host, stderr: string): string {
  const record = join(host.dir, "clone.txt");
  tool(
    host,
    "git",
    `if [[ $1 == clone ]]; then
  {
    printf 'ARGS %s\\n' "$*"
    printf 'SSH %s\\n' "\${GIT_SSH_COMMAND:-}"
    printf 'REPO %s\\n' "$(${REAL_GIT} config --get-urlmatch http.extraHeader "\${@: -2:1}")"
    printf 'OTHER %s\\n' "$(${REAL_GIT} config --get-urlmatch http.extraHeader https://elsewhere.example/m.git)"
    printf 'LOWSPEED %s\\n' "$(${REAL_GIT} config http.lowSpeedLimit)"
  } >"${record}"
  printf '%s\\n' "${stderr}" >&2
  exit 128
fi
exec ${REAL_GIT} "$@"
`,
  );
  return record;
}

function sync(host: Host, settings: Record<string, string>, env: NodeJS.ProcessEnv = {}) {
  writeFileSync(
    join(host.dir, "conf", "host.env"),
    renderEnvFile({ CONTROL_REPO_BRANCH: "production", CERTNAME: "m1.test", ...settings }),
  );
  return run("bash", [join(SCRIPTS_DIR, "code-sync.sh")], {
    env: {
      PATH: `${host.bin}:${process.env.PATH}`,
      PUPPET_MULTISITE_CONF_DIR: join(host.dir, "conf"),
      PUPPET_MULTISITE_STATE_DIR: join(host.dir, "state"),
      PUPPET_MULTISITE_SECRETS_DIR: host.secrets,
      PUPPET_MULTISITE_GIT_ATTEMPTS: "1",
      PUPPET_ENVIRONMENTPATH: host.envs,
      PUPPET_SSLDIR: join(host.dir, "ssl"),
      ...env,
    },
  });
}

const line = (record: string, tag: string) =>
  readFileSync(record, "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${tag} `))
    ?.slice(tag.length + 1);

describe("code-sync.sh over HTTPS", () => {
  itWithTools(
    ["bash", "git", "flock"],
    "sends the token to the repository's server only, never in an argument, and names the setting when refused",
    () => {
      const host = newHost();
      writeFileSync(join(host.secrets, "repo-token"), TOKEN);
      const record = failingClone(
        host,
        "fatal: Authentication failed for 'https://git.example.com:8443/puppet/control.git/'",
      );
      const r = sync(host, {
        CONTROL_REPO_URL: "https://git.example.com:8443/puppet/control.git",
        CONTROL_REPO_SECRET_NAME: "repo-token",
        CONTROL_REPO_SECRET_REGION: "us-east-1",
        CONTROL_REPO_TOKEN_USER: "deploy",
      });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(
        "git.example.com refused the credentials for https://git.example.com:8443/puppet/control.git (set or check controlRepo.tokenSecret)",
      );
      const basic = Buffer.from(`deploy:${TOKEN}`).toString("base64");
      expect(line(record, "REPO")).toBe(`Authorization: Basic ${basic}`);
      expect(line(record, "OTHER")).toBe("");
      expect(line(record, "LOWSPEED")).toBe("1000");
      expect(line(record, "ARGS")).not.toContain(TOKEN);
      expect(line(record, "ARGS")).not.toContain(basic);
      expect(r.stderr + r.stdout).not.toContain(TOKEN);
      expect(r.stderr + r.stdout).not.toContain(basic);
    },
  );

  itWithTools(["bash", "git", "flock"], "names the secret when it cannot be read", () => {
    const host = newHost();
    failingClone(host, "unused");
    const r = sync(host, {
      CONTROL_REPO_URL: "https://git.example.com/puppet/control.git",
      CONTROL_REPO_SECRET_NAME: "missing-token",
      CONTROL_REPO_SECRET_REGION: "us-east-1",
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("missing-token (controlRepo.tokenSecret)");
  });
});

describe("code-sync.sh over SSH", () => {
  const KNOWN = `git.example.com ${SSH_HOST_KEY}`;

  /** A host with a deploy key in its secrets and the server's key in a known_hosts file. */
  function sshHost(): { host: Host; knownHosts: string } {
    const host = newHost();
    const key = join(host.dir, "deploy");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
    // Secrets Manager gives the value back without a final newline; so does the lab's adapter.
    writeFileSync(join(host.secrets, "deploy-key"), readFileSync(key, "utf8").trimEnd());
    const knownHosts = join(host.dir, "conf", "known_hosts");
    writeFileSync(knownHosts, `${KNOWN}\n`);
    return { host, knownHosts };
  }

  itWithTools(
    ["bash", "git", "flock", "ssh-keygen"],
    "uses only the deploy key and the configured host keys, and says when the server's key is unknown",
    () => {
      const { host, knownHosts } = sshHost();
      const record = failingClone(host, "Host key verification failed.");
      const r = sync(host, {
        CONTROL_REPO_URL: "git@git.example.com:puppet/control.git",
        CONTROL_REPO_SECRET_NAME: "deploy-key",
        CONTROL_REPO_SECRET_REGION: "eu-west-1",
        CONTROL_REPO_KNOWN_HOSTS: knownHosts,
      });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(
        `the SSH host key of git.example.com is not in controlRepo.knownHosts (${knownHosts})`,
      );
      const ssh = line(record, "SSH") ?? "";
      const key = join(host.dir, "state", "control-repo.key");
      for (const option of [
        `-i ${key}`,
        "-o IdentitiesOnly=yes",
        `-o UserKnownHostsFile=${knownHosts}`,
        "-o StrictHostKeyChecking=yes",
        "-o BatchMode=yes",
        "-F /dev/null",
      ]) {
        expect(ssh).toContain(option);
      }
      // The key file is the secret's, readable by root only, and valid for ssh.
      expect(run("stat", ["-c", "%a", key]).stdout.trim()).toBe("600");
      expect(run("ssh-keygen", ["-y", "-f", key]).status).toBe(0);
    },
  );

  itWithTools(
    ["bash", "git", "flock", "ssh-keygen"],
    "says when the server refuses the key",
    () => {
      const { host, knownHosts } = sshHost();
      failingClone(host, "git@git.example.com: Permission denied (publickey).");
      const r = sync(host, {
        CONTROL_REPO_URL: "ssh://git@git.example.com:2222/puppet/control.git",
        CONTROL_REPO_SECRET_NAME: "deploy-key",
        CONTROL_REPO_KNOWN_HOSTS: knownHosts,
      });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(
        "git.example.com refused the deploy key in secret deploy-key (controlRepo.sshKeySecret)",
      );
    },
  );

  const refusals: ReadonlyArray<
    [string, (h: Host, knownHosts: string) => Record<string, string>, string]
  > = [
    [
      "no deploy key configured",
      (_h, knownHosts) => ({ CONTROL_REPO_KNOWN_HOSTS: knownHosts }),
      "an SSH URL needs a deploy key: set controlRepo.sshKeySecret",
    ],
    [
      "no known_hosts configured",
      () => ({ CONTROL_REPO_SECRET_NAME: "deploy-key" }),
      "an SSH URL needs the server's host keys: set controlRepo.knownHosts (file: none)",
    ],
    [
      "a secret that is not a key",
      (h, knownHosts) => {
        writeFileSync(join(h.secrets, "not-a-key"), "hunter2");
        return { CONTROL_REPO_SECRET_NAME: "not-a-key", CONTROL_REPO_KNOWN_HOSTS: knownHosts };
      },
      "secret not-a-key (controlRepo.sshKeySecret) is not an OpenSSH private key without passphrase",
    ],
    [
      "a missing secret",
      (_h, knownHosts) => ({
        CONTROL_REPO_SECRET_NAME: "no-such-secret",
        CONTROL_REPO_KNOWN_HOSTS: knownHosts,
      }),
      "secret no-such-secret not found",
    ],
  ];
  for (const [what, settings, message] of refusals) {
    itWithTools(
      ["bash", "git", "flock", "ssh-keygen"],
      `stops before any fetch with ${what}`,
      () => {
        const { host, knownHosts } = sshHost();
        const record = failingClone(host, "unused");
        const r = sync(host, {
          CONTROL_REPO_URL: "git@git.example.com:puppet/control.git",
          ...settings(host, knownHosts),
        });
        expect(r.status).not.toBe(0);
        expect(r.stderr).toContain(message);
        expect(existsSync(record)).toBe(false);
        expect(r.stderr).not.toContain("hunter2");
      },
    );
  }
});

describe("code-sync.sh cache flushes", () => {
  /** A control repository with a module whose files the commits change. */
  function repo(): { path: string; commit: (file: string, text: string) => string } {
    const path = mkdtempSync(join(work, "repo-"));
    const git = (...args: string[]) =>
      execFileSync(REAL_GIT, ["-C", path, ...args], { encoding: "utf8" }).trim();
    git("init", "-q", "-b", "production");
    const commit = (file: string, text: string) => {
      mkdirSync(join(path, file, ".."), { recursive: true });
      writeFileSync(join(path, file), text);
      git("add", "-A");
      git("-c", "user.email=t@example.internal", "-c", "user.name=t", "commit", "-qm", file);
      return git("rev-parse", "HEAD");
    };
    commit("manifests/site.pp", "node default {}\n");
    return { path, commit };
  }

  /** A curl that logs `METHOD URL` per call and exits with the code in `host.dir/curl.rc`. */
  function recordingCurl(host: Host): () => string[] {
    const log = join(host.dir, "curl.log");
    tool(
      host,
      "curl",
      `url=\${!#}; method=GET
for ((i = 1; i < $#; i++)); do [[ \${!i} == -X ]] && { j=$((i + 1)); method=\${!j}; }; done
echo "$method $url" >>"${log}"
exit "$(cat "${join(host.dir, "curl.rc")}" 2>/dev/null || echo 0)"
`,
    );
    return () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []);
  }

  const API = "https://m1.test:8140/puppet-admin-api/v1";
  const ENV_CACHE = `DELETE ${API}/environment-cache?environment=production`;
  const POOL = `DELETE ${API}/jruby-pool`;

  itWithTools(
    ["bash", "git", "flock"],
    "flushes nothing at the first deploy, the environments after a new commit, the JRuby pool too when a type changed",
    () => {
      const host = newHost();
      const calls = recordingCurl(host);
      const { path, commit } = repo();
      const settings = { CONTROL_REPO_URL: path };
      const ok = (r: ReturnType<typeof sync>) => expect(r.status, r.stderr).toBe(0);

      ok(sync(host, settings));
      expect(calls()).toEqual([]);

      commit("site-modules/profile/manifests/init.pp", "class profile {}\n");
      ok(sync(host, settings));
      expect(calls()).toEqual([ENV_CACHE]);

      const typed = commit(
        "site-modules/profile/lib/puppet/type/thing.rb",
        "Puppet::Type.newtype(:thing) {}\n",
      );
      ok(sync(host, settings));
      expect(calls()).toEqual([ENV_CACHE, ENV_CACHE, POOL]);
      expect(readlinkSync(join(host.envs, "production"))).toBe(join(host.envs, ".deploys", typed));

      commit("site-modules/profile/lib/puppet/functions/profile/value.rb", "# a function\n");
      ok(sync(host, settings));
      expect(calls()).toEqual([ENV_CACHE, ENV_CACHE, POOL, ENV_CACHE]);
    },
  );

  itWithTools(["bash", "git", "flock"], "makes a failed flush at the next sync", () => {
    const host = newHost();
    const calls = recordingCurl(host);
    const { path, commit } = repo();
    const settings = { CONTROL_REPO_URL: path };
    expect(sync(host, settings).status).toBe(0);
    commit("site-modules/x/lib/puppet_x/x.rb", "module X; end\n");
    writeFileSync(join(host.dir, "curl.rc"), "7");
    const failed = sync(host, settings);
    expect(failed.status, failed.stderr).toBe(0);
    expect(failed.stderr).toContain("could not flush puppetserver's caches (jruby)");

    writeFileSync(join(host.dir, "curl.rc"), "0");
    const again = sync(host, settings);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toContain("flushed puppetserver's caches (jruby)");
    expect(calls()).toEqual([ENV_CACHE, ENV_CACHE, POOL]);
    // Nothing left to do.
    expect(sync(host, settings).status).toBe(0);
    expect(calls()).toHaveLength(3);
  });
});

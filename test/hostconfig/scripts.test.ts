// The host scripts run for real in temporary directories: the secrets adapter, idempotent installs,
// and the code sync against a local git repository (the autosigner has a file of its own).
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { describe, expect, it } from "vitest";
import { SCRIPTS_DIR } from "../../infra/hostconfig";
import { FAKE_DB_PASSWORD } from "./fixtures";
import { itWithTools, run } from "./helpers";

const work = mkdtempSync(join(tmpdir(), "pm-scripts-"));

/** Writes an executable bash script `name` into `dir` (a stub of a command, or a role script). */
function script(dir: string, name: string, body: string): void {
  writeFileSync(join(dir, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
}

/** Runs bash with lib.sh sourced and the host's settings in a fresh conf dir. */
function bashWithLib(snippet: string, settings: string, extraEnv: NodeJS.ProcessEnv = {}) {
  const dir = mkdtempSync(join(work, "host-"));
  mkdirSync(join(dir, "conf"));
  writeFileSync(join(dir, "conf", "host.env"), settings);
  const env = {
    PATH: process.env.PATH,
    PUPPET_MULTISITE_CONF_DIR: join(dir, "conf"),
    PUPPET_MULTISITE_STATE_DIR: join(dir, "state"),
    ...extraEnv,
  };
  const r = run(
    "bash",
    [
      "--norc",
      "--noprofile",
      "-c",
      `set -euo pipefail; source "${SCRIPTS_DIR}/lib.sh"; ${snippet}`,
    ],
    {
      env,
    },
  );
  return { ...r, dir };
}

describe("lib.sh", () => {
  itWithTools(
    ["bash"],
    "reads a secret through PUPPET_MULTISITE_SECRETS_DIR into a 0600 file, logging no value",
    () => {
      const secrets = mkdtempSync(join(work, "secrets-"));
      mkdirSync(join(secrets, "puppet-multisite"));
      writeFileSync(join(secrets, "puppet-multisite", "db"), `${FAKE_DB_PASSWORD}\n`);
      const r = bashWithLib(
        'secret_to_file puppet-multisite/db us-east-1 "$PUPPET_MULTISITE_STATE_DIR/pw"; log done',
        "",
        { PUPPET_MULTISITE_SECRETS_DIR: secrets },
      );
      expect(r.status, r.stderr).toBe(0);
      const file = join(r.dir, "state", "pw");
      expect(readFileSync(file, "utf8")).toBe(FAKE_DB_PASSWORD);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(r.stdout + r.stderr).not.toContain(FAKE_DB_PASSWORD);
    },
  );

  itWithTools(
    ["bash"],
    "fails with the secret's name, not a value, when the secret is missing",
    () => {
      const secrets = mkdtempSync(join(work, "secrets-"));
      const r = bashWithLib('secret_to_file nope us-east-1 "$PUPPET_MULTISITE_STATE_DIR/x"', "", {
        PUPPET_MULTISITE_SECRETS_DIR: secrets,
      });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/secret nope not found/);
    },
  );

  itWithTools(
    ["bash"],
    "loads settings, quoted values intact, with the environment winning",
    () => {
      const r = bashWithLib(
        'load_settings; printf "%s|%s" "$CERTNAME" "$SITE"',
        "CERTNAME='it'\\''s.example'\nSITE='site-a'\n",
        { SITE: "site-b" },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe("it's.example|site-b");
    },
  );

  itWithTools(["bash"], "installs a file once: the second run changes nothing", () => {
    const r = bashWithLib(
      'echo a >"$PUPPET_MULTISITE_CONF_DIR/f"; d="$PUPPET_MULTISITE_CONF_DIR/../out/f"; ' +
        'install_file "$PUPPET_MULTISITE_CONF_DIR/f" "$d" 0640; first=$CHANGED; CHANGED=0; ' +
        'install_file "$PUPPET_MULTISITE_CONF_DIR/f" "$d" 0640; echo "$first$CHANGED"',
      "",
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe("10");
    expect(statSync(join(r.dir, "out", "f")).mode & 0o777).toBe(0o640);
  });

  itWithTools(
    ["bash"],
    "retries with a doubling backoff, capped, and says what it waits for",
    () => {
      // A stub sleep prints each wait instead of taking it.
      const r = bashWithLib(
        'n=0; f() { n=$((n+1)); ((n >= 5)); }; sleep() { printf "%s " "$1"; }; ' +
          'retry 5 1 4 "waiting for the CA" -- f; echo "$n"',
        "",
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe("1 2 4 4 5");
      expect(r.stderr).toMatch(
        /^\d{4}-\d\d-\d\dT[\d:]+\.\d{3}Z \[puppet-multisite\] waiting for the CA: attempt 1\/5 failed \(exit 1\), retrying in 1s$/m,
      );
      expect(r.stderr).toMatch(
        /waiting for the CA: attempt 4\/5 failed \(exit 1\), retrying in 4s$/m,
      );
    },
  );
});

describe("boot.sh", () => {
  const BUCKET = "scripts-site-a-20261203083000000000000001";

  /**
   * A host whose role script fails `failures` times, then succeeds; the SSM agent's install always
   * fails. `sleep` is a stub that records each wait. The role's scripts are in a store directory
   * (the lab's adapter for S3) under their SHA-256, and the manifest lists them; `tamper` puts other
   * bytes under a script's key.
   */
  function host(failures: number, opts: { tamper?: string } = {}) {
    const dir = mkdtempSync(join(work, "boot-"));
    const lib = join(dir, "lib");
    const bin = join(dir, "bin");
    const store = join(dir, "store", BUCKET, "scripts");
    for (const d of [lib, bin, store, join(dir, "conf")]) mkdirSync(d, { recursive: true });
    for (const f of ["lib.sh", "boot.sh"]) {
      writeFileSync(join(lib, f), readFileSync(join(SCRIPTS_DIR, f)), { mode: 0o755 });
    }
    const fetched: Record<string, string> = {
      "compile-master.sh":
        `#!/bin/bash\nn=$(( $(cat "${dir}/count" 2>/dev/null || echo 0) + 1 ))\necho $n >"${dir}/count"\n` +
        `(( n > ${failures} )) || { echo "ERROR: control repository unreachable" >&2; exit 3; }\n`,
      "ruby/puppet_multisite/helper.rb": "# a library in a directory of its own\n",
    };
    const manifest = Object.entries(fetched).map(([name, content]) => {
      const sha = createHash("sha256").update(content).digest("hex");
      writeFileSync(join(store, sha), name === opts.tamper ? `${content}exit 0\n` : content);
      return `${sha}  ${name}\n`;
    });
    writeFileSync(join(dir, "conf", "scripts.sha256"), manifest.join(""));
    script(lib, "ssm-agent.sh", "exit 1");
    script(bin, "sleep", `echo "$1" >>"${dir}/sleeps"`);
    writeFileSync(
      join(dir, "conf", "host.env"),
      "ROLE='compile-master'\nREGION='us-east-1'\nBOOT_RETRY_FIRST_SECONDS='30'\nBOOT_RETRY_MAX_SECONDS='100'\n" +
        `SCRIPTS_BUCKET='${BUCKET}'\n`,
    );
    const boot = (arg: string) =>
      run("bash", [join(lib, "boot.sh"), arg], {
        env: {
          PATH: `${bin}:${process.env.PATH}`,
          PUPPET_MULTISITE_CONF_DIR: join(dir, "conf"),
          PUPPET_MULTISITE_STATE_DIR: join(dir, "state"),
          PUPPET_MULTISITE_LIB_DIR: lib,
          PUPPET_MULTISITE_SCRIPTS_DIR: join(dir, "store"),
          PUPPET_MULTISITE_SKIP_INSTALL: "1",
        },
      });
    const read = (f: string) => readFileSync(join(dir, f), "utf8");
    return { dir, lib, boot, read, fetched };
  }

  itWithTools(
    ["bash"],
    "retries the role's script with a doubling, capped backoff until it succeeds",
    () => {
      const h = host(4);
      const r = h.boot("run");
      expect(r.status, r.stderr).toBe(0);
      expect(h.read("count").trim()).toBe("5");
      expect(h.read("sleeps").split("\n").filter(Boolean)).toEqual(["30", "60", "100", "100"]);
      expect(r.stderr).toMatch(
        /first boot of compile-master: attempt 1 failed \(exit 3\); retrying in 30s/,
      );
      expect(r.stderr).toMatch(/ERROR: control repository unreachable/);
      expect(r.stderr).toMatch(/SSM agent not installed .*Session Manager cannot reach this host/);
      expect(r.stderr).toMatch(/first boot of compile-master complete after 5 attempt\(s\)/);
      expect(h.read("state/first-boot.done")).toMatch(/^\d{4}-\d\d-\d\dT/);
    },
  );

  itWithTools(["bash"], "installs the role's scripts from the store, each once", () => {
    const h = host(1);
    const r = h.boot("run");
    expect(r.status, r.stderr).toBe(0);
    for (const [name, content] of Object.entries(h.fetched)) {
      expect(h.read(`lib/${name}`)).toBe(content);
      expect(statSync(join(h.lib, name)).mode & 0o777).toBe(0o755);
    }
    // The second attempt found them installed with their hashes.
    expect(r.stderr.match(/installed compile-master\.sh \([0-9a-f]{64}\)/g)).toHaveLength(1);
  });

  itWithTools(
    ["bash"],
    "never installs or runs a script whose bytes are not the manifest's hash",
    () => {
      const h = host(0, { tamper: "compile-master.sh" });
      // The stubbed sleep ends the loop (boot.sh, its parent) at the second failed attempt.
      script(
        join(h.dir, "bin"),
        "sleep",
        `echo "$1" >>"${h.dir}/sleeps"; (( $(wc -l <"${h.dir}/sleeps") < 2 )) || kill "$PPID"`,
      );
      const r = h.boot("run");
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(
        new RegExp(
          `s3://${BUCKET}/scripts/[0-9a-f]{64} has SHA-256 [0-9a-f]{64}: not installing it as compile-master\\.sh`,
        ),
      );
      expect(r.stderr).toMatch(/first boot of compile-master: attempt 1 failed \(exit 1\)/);
      expect(existsSync(join(h.lib, "compile-master.sh"))).toBe(false);
      expect(existsSync(join(h.dir, "count"))).toBe(false);
    },
  );

  itWithTools(["bash"], "does nothing once a first boot has completed", () => {
    const h = host(0);
    expect(h.boot("run").status).toBe(0);
    const again = h.boot("run");
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/first boot already complete/);
    expect(h.read("count").trim()).toBe("1");
  });

  // With systemd running, `start` would install the unit on this machine.
  it.skipIf(existsSync("/run/systemd/system"))(
    "without systemd, start runs the same loop in the foreground",
    () => {
      const h = host(1);
      const r = h.boot("start");
      expect(r.status, r.stderr).toBe(0);
      expect(h.read("count").trim()).toBe("2");
    },
  );
});

describe("mount_state_volume", () => {
  /** A disk image as the state volume, `mount` and `mountpoint` stubbed, fstab in a file of its own. */
  function volume(opts: { mounted?: boolean } = {}) {
    const dir = mkdtempSync(join(work, "vol-"));
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const image = join(dir, "disk.img");
    writeFileSync(image, Buffer.alloc(16 * 1024 * 1024));
    script(bin, "mount", `echo "$*" >>"${dir}/mounts"`);
    script(bin, "mountpoint", `exit ${opts.mounted ? 0 : 1}`);
    const mount = () =>
      bashWithLib(
        // The disk is attached already: the device is the image.
        `source "${join(SCRIPTS_DIR, "state-volume.sh")}"; load_settings; state_device() { echo "${image}"; }; mount_state_volume`,
        `STATE_VOLUME_ID='vol-0123456789abcdef0'\nSTATE_MOUNT_POINT='${dir}/mnt'\n`,
        { PATH: `${bin}:${process.env.PATH}`, PUPPET_MULTISITE_FSTAB: join(dir, "fstab") },
      );
    const uuid = () => run("blkid", ["-s", "UUID", "-o", "value", image]).stdout.trim();
    const read = (f: string) => readFileSync(join(dir, f), "utf8");
    return { dir, mount, uuid, read };
  }

  itWithTools(
    ["bash", "mkfs.ext4", "blkid"],
    "gives a blank volume a filesystem, mounts it by UUID",
    () => {
      const v = volume();
      const r = v.mount();
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(
        /state volume vol-0123456789abcdef0 \(.*\) is blank: creating its filesystem/,
      );
      const uuid = v.uuid();
      expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
      expect(v.read("fstab")).toBe(`UUID=${uuid} ${v.dir}/mnt ext4 defaults,nofail 0 2\n`);
      expect(v.read("mounts")).toBe(`${v.dir}/mnt\n`);
    },
  );

  itWithTools(
    ["bash", "mkfs.ext4", "blkid"],
    "never formats a volume that holds a filesystem",
    () => {
      const v = volume();
      expect(v.mount().status).toBe(0);
      const uuid = v.uuid();
      // The next host (or a reboot with the mount gone) finds the same filesystem.
      const again = v.mount();
      expect(again.status, again.stderr).toBe(0);
      expect(again.stderr).toMatch(/holds a filesystem: keeping it/);
      expect(v.uuid()).toBe(uuid);
      expect(v.read("fstab").split("\n").filter(Boolean)).toHaveLength(1);
    },
  );

  itWithTools(["bash"], "uses a mount point that is already mounted as it is", () => {
    const v = volume({ mounted: true });
    const r = v.mount();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/state volume already mounted at .*\/mnt/);
    expect(existsSync(join(v.dir, "mounts"))).toBe(false);
  });
});

describe("install_packages and policy-rc.d", () => {
  /** Stubs of dpkg-query (nothing installed), debconf and apt-get, which records whether the policy is there. */
  function stubs(aptExit: number): string {
    const bin = mkdtempSync(join(work, "bin-"));
    script(bin, "dpkg-query", "exit 1");
    script(bin, "debconf-set-selections", "cat >/dev/null");
    script(
      bin,
      "apt-get",
      `[[ -x "$PUPPET_MULTISITE_POLICY_RC" ]] && echo "policy during $1" >>"$APT_LOG"; exit ${aptExit}`,
    );
    return bin;
  }

  function install(aptExit: number, before?: string) {
    const dir = mkdtempSync(join(work, "pkg-"));
    const policy = join(dir, "policy-rc.d");
    if (before !== undefined) writeFileSync(policy, before, { mode: 0o755 });
    const r = bashWithLib(
      // No waiting between apt retries.
      "sleep() { :; }; install_packages puppetserver",
      "",
      {
        PATH: `${stubs(aptExit)}:${process.env.PATH}`,
        PUPPET_MULTISITE_POLICY_RC: policy,
        APT_LOG: join(dir, "apt.log"),
      },
    );
    const read = (f: string) => {
      try {
        return readFileSync(join(dir, f), "utf8");
      } catch {
        return undefined;
      }
    };
    return { ...r, policy: read("policy-rc.d"), apt: read("apt.log") };
  }

  itWithTools(["bash"], "holds services while apt runs and removes the policy after", () => {
    const r = install(0);
    expect(r.status, r.stderr).toBe(0);
    expect(r.apt).toBe("policy during update\npolicy during install\n");
    expect(r.policy).toBeUndefined();
  });

  itWithTools(["bash"], "removes the policy when every apt attempt fails", () => {
    const r = install(100);
    expect(r.status).not.toBe(0);
    expect(r.apt).toBe("policy during update\n".repeat(5));
    expect(r.policy).toBeUndefined();
  });

  itWithTools(["bash"], "removes a policy of its own left by a killed run, then installs", () => {
    const leftover =
      "#!/bin/sh\n# puppet-multisite: no service starts during its package installs\nexit 101\n";
    const r = install(0, leftover);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/removed .*policy-rc\.d left by an interrupted install/);
    expect(r.policy).toBeUndefined();
  });

  itWithTools(["bash"], "leaves a policy that is not its own in place", () => {
    const foreign = "#!/bin/sh\nexit 101\n";
    const r = install(0, foreign);
    expect(r.status, r.stderr).toBe(0);
    expect(r.policy).toBe(foreign);
  });
});

describe("code-sync.sh", () => {
  itWithTools(
    ["bash", "git", "flock"],
    "deploys the branch as production, with config_version, and is idempotent",
    () => {
      const repo = mkdtempSync(join(work, "control-"));
      const git = (...args: string[]) =>
        execFileSync("git", ["-C", repo, ...args], { encoding: "utf8" }).trim();
      git("init", "-q", "-b", "main");
      writeFileSync(
        join(repo, "environment.conf"),
        "modulepath = site-modules:modules:$basemodulepath\n",
      );
      git("add", ".");
      git("-c", "user.email=t@example.internal", "-c", "user.name=t", "commit", "-qm", "first");
      git("branch", "deploy-me");
      const commit = git("rev-parse", "deploy-me");
      const envs = mkdtempSync(join(work, "envs-"));
      const settings = `CONTROL_REPO_URL='${repo}'\nCONTROL_REPO_BRANCH='deploy-me'\n`;
      const sync = `"${SCRIPTS_DIR}/code-sync.sh"`;
      const first = bashWithLib(sync, settings, { PUPPET_ENVIRONMENTPATH: envs });
      expect(first.status, first.stderr).toBe(0);
      const live = join(envs, "production");
      expect(readlinkSync(live)).toBe(join(envs, ".deploys", commit));
      const envConf = readFileSync(join(live, "environment.conf"), "utf8");
      expect(envConf).toContain("modulepath = site-modules:modules:$basemodulepath");
      const versionCmd = /^config_version = (.+)$/m.exec(envConf)?.[1] ?? "";
      expect(execFileSync(versionCmd, { encoding: "utf8" }).trim()).toBe(
        `${commit.slice(0, 12)} (deploy-me)`,
      );

      const second = bashWithLib(sync, settings, { PUPPET_ENVIRONMENTPATH: envs });
      expect(second.status, second.stderr).toBe(0);
      expect(second.stderr).toContain(`production already at ${commit}`);
      expect(readFileSync(join(live, "environment.conf"), "utf8")).toBe(envConf);
    },
  );
});

describe("Puppet's core types on the compile masters", () => {
  /** Every package Debian 12 has of the types Puppet 7 moved out of its core into modules. */
  const CORE_TYPE_MODULES = [
    "augeas",
    "cron",
    "host",
    "mailalias",
    "mount",
    "selinux",
    "sshkeys",
  ].map((t) => `puppet-module-puppetlabs-${t}-core`);

  /** The words of the statement of `file` that starts with `command`, as bash expands them. */
  function words(file: string, command: string): string[] {
    const text = readFileSync(file, "utf8").replace(/\\\n/g, " ");
    const line = text.split("\n").find((l) => l.startsWith(`${command} `));
    if (!line) throw new Error(`${file}: no statement starting with ${command}`);
    const args = line.slice(command.length);
    return run("bash", ["-c", `printf '%s\\n' ${args}`])
      .stdout.trim()
      .split("\n");
  }

  it("are installed with puppetserver on every master, and on the lab machine", () => {
    const master = words(join(SCRIPTS_DIR, "compile-master.sh"), "install_packages");
    expect(master).toEqual(expect.arrayContaining(["puppetserver", ...CORE_TYPE_MODULES]));
    const lab = words(join(SCRIPTS_DIR, "../../../scripts/install-lab-deps.sh"), "exec bash");
    expect(lab).toEqual(expect.arrayContaining(["puppetserver", ...CORE_TYPE_MODULES]));
  });

  itWithTools(["apt-cache"], "are every core type module Debian has", () => {
    const found = run("apt-cache", [
      "search",
      "--names-only",
      "^puppet-module-puppetlabs-.*-core$",
    ]).stdout;
    const names = found
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(" ")[0])
      .sort();
    expect(names).toEqual([...CORE_TYPE_MODULES].sort());
  });
});

// The host scripts run for real in temporary directories: the secrets adapter, idempotent installs,
// the code sync against a local git repository, and the autosigner against CSRs made by openssl.
import { execFileSync } from "child_process";
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
import { describe, expect } from "vitest";
import { SCRIPTS_DIR } from "../../infra/hostconfig";
import { DOMAIN, FAKE_CHALLENGE, FAKE_DB_PASSWORD } from "./fixtures";
import { itWithTools, run } from "./helpers";

const work = mkdtempSync(join(tmpdir(), "pm-scripts-"));

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
        /^\d{4}-\d\d-\d\dT[\d:]+Z \[puppet-multisite\] waiting for the CA: attempt 1\/5 failed \(exit 1\), retrying in 1s$/m,
      );
      expect(r.stderr).toMatch(
        /waiting for the CA: attempt 4\/5 failed \(exit 1\), retrying in 4s$/m,
      );
    },
  );
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

describe("autosign.rb", () => {
  const caDir = mkdtempSync(join(work, "autosign-"));
  const policy = {
    domain: DOMAIN,
    authRoles: ["puppet-compile-master", "puppetdb"],
    altNameRoles: ["puppet-compile-master"],
    logFile: join(caDir, "autosign.log"),
  };
  writeFileSync(join(caDir, "policy.json"), JSON.stringify(policy));
  writeFileSync(join(caDir, "challenge"), `${FAKE_CHALLENGE}\n`);
  const env = {
    PATH: process.env.PATH,
    AUTOSIGN_POLICY: join(caDir, "policy.json"),
    AUTOSIGN_CHALLENGE: join(caDir, "challenge"),
  };

  function csr(
    cn: string,
    opts: { challenge?: string; role?: string; altNames?: string[]; ext?: string },
  ): string {
    const ext = [
      opts.altNames ? `subjectAltName = ${opts.altNames.map((n) => `DNS:${n}`).join(",")}` : "",
      opts.role ? `1.3.6.1.4.1.34380.1.3.13 = ASN1:UTF8String:${opts.role}` : "",
      opts.ext ?? "",
    ].filter(Boolean);
    const cnf = [
      "[req]",
      "distinguished_name = dn",
      "attributes = attrs",
      "prompt = no",
      ...(ext.length ? ["req_extensions = ext"] : []),
      "[dn]",
      `CN = ${cn}`,
      "[attrs]",
      ...(opts.challenge ? [`challengePassword = ${opts.challenge}`] : []),
      "[ext]",
      ...ext,
    ].join("\n");
    const file = join(caDir, `req-${Math.random().toString(36).slice(2)}.cnf`);
    writeFileSync(file, `${cnf}\n`);
    return execFileSync(
      "openssl",
      ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "/dev/null", "-config", file],
      {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      },
    );
  }

  function autosign(certname: string, pem: string) {
    return run("ruby", [join(SCRIPTS_DIR, "autosign.rb"), certname], { input: pem, env });
  }

  const master = `master-1.site-a.${DOMAIN}`;
  const masterAltNames = [master, `pool.site-a.${DOMAIN}`, `puppet.${DOMAIN}`];
  const cases: Array<[string, string, Parameters<typeof csr>[1], number, RegExp]> = [
    [
      "an agent with the challenge",
      "web-1.example.internal",
      { challenge: FAKE_CHALLENGE },
      0,
      /signed .* \(agent\)/,
    ],
    [
      "a compile master with its role and alt names",
      master,
      { challenge: FAKE_CHALLENGE, role: "puppet-compile-master", altNames: masterAltNames },
      0,
      /signed .* \(puppet-compile-master\)/,
    ],
    [
      "a PuppetDB with its role",
      `puppetdb.site-a.${DOMAIN}`,
      { challenge: FAKE_CHALLENGE, role: "puppetdb" },
      0,
      /signed/,
    ],
    ["no challenge", "web-1.example.internal", {}, 1, /rejected .*: no challenge password/],
    [
      "a wrong challenge",
      "web-1.example.internal",
      { challenge: "guess" },
      1,
      /challenge password does not match/,
    ],
    [
      "alt names without a server role",
      "web-1.example.internal",
      { challenge: FAKE_CHALLENGE, altNames: [`puppet.${DOMAIN}`] },
      1,
      /subject alt names need pp_auth_role/,
    ],
    [
      "alt names on a PuppetDB",
      `puppetdb.site-a.${DOMAIN}`,
      { challenge: FAKE_CHALLENGE, role: "puppetdb", altNames: [`puppet.${DOMAIN}`] },
      1,
      /subject alt names need pp_auth_role/,
    ],
    [
      "an unknown role",
      master,
      { challenge: FAKE_CHALLENGE, role: "puppet-ca" },
      1,
      /pp_auth_role "puppet-ca" is not one of/,
    ],
    [
      "another auth extension",
      master,
      {
        challenge: FAKE_CHALLENGE,
        role: "puppet-compile-master",
        ext: "1.3.6.1.4.1.34380.1.3.1 = ASN1:UTF8String:x",
      },
      1,
      /authorization extensions not allowed: 1\.3\.6\.1\.4\.1\.34380\.1\.3\.1/,
    ],
    [
      "an alt name outside the domain",
      master,
      {
        challenge: FAKE_CHALLENGE,
        role: "puppet-compile-master",
        altNames: [master, "evil.example.com"],
      },
      1,
      /alt name DNS:evil\.example\.com is not a DNS name under/,
    ],
    [
      "a server role outside the domain",
      "master.example.com",
      { challenge: FAKE_CHALLENGE, role: "puppet-compile-master" },
      1,
      /certname must be under/,
    ],
  ];
  for (const [what, certname, opts, status, message] of cases) {
    itWithTools(["ruby", "openssl"], `${status === 0 ? "signs" : "rejects"} ${what}`, () => {
      const r = autosign(certname, csr(certname, opts));
      expect(r.status, r.stderr).toBe(status);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toContain(FAKE_CHALLENGE);
    });
  }

  itWithTools(
    ["ruby", "openssl"],
    "rejects a CSR whose CN is not the certname, and garbage",
    () => {
      const other = autosign(
        "web-2.example.internal",
        csr("web-1.example.internal", { challenge: FAKE_CHALLENGE }),
      );
      expect(other.status).toBe(1);
      expect(other.stderr).toMatch(/is not the certname/);
      expect(autosign("x", "not a csr").status).toBe(1);
      expect(existsSync(policy.logFile) && readFileSync(policy.logFile, "utf8")).toMatch(
        /rejected x:/,
      );
    },
  );
});

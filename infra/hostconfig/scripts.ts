// The host scripts are real files in ./scripts, read at render time: the lab runs the very same
// files, and shellcheck checks them where they live. User data carries only the few a host needs to
// fetch the others (boot.sh, lib.sh) and to be reached while it cannot (ssm-agent.sh); every other
// script is an object of the site's script store, named by its SHA-256, which user data lists: a
// host runs exactly the bytes its configuration was rendered with, and EC2's 16 KB limit on user
// data no longer bounds what a role may run.
import { createHash } from "crypto";
import { readFileSync } from "fs";
import { join } from "path";
import { LIB_DIR } from "./paths";
import { HostRole } from "./types";

export const SCRIPTS_DIR = join(__dirname, "scripts");

/**
 * Scripts every role carries in its user data: `boot.sh start` fetches the role's scripts, runs the
 * SSM agent's install and the role's `<role>.sh` under a systemd unit until the role's script
 * succeeds.
 */
export const USER_DATA_SCRIPTS = ["lib.sh", "boot.sh", "ssm-agent.sh"] as const;

/** Scripts each role fetches from the script store at first boot. */
const BY_ROLE: Readonly<Record<HostRole, readonly string[]>> = {
  ca: [
    "ca.sh",
    "state-volume.sh",
    "autosign.rb",
    "auth-conf.rb",
    // Every CA carries the copy and the promotion: the standby runs them, and a CA that comes back
    // fenced copies from the promoted one and can be promoted back (README: fail-back).
    "ca-sync.rb",
    "ca-promote.rb",
  ],
  "compile-master": [
    "compile-master.sh",
    "code-sync.sh",
    "auth-conf.rb",
    "crl-refresh.sh",
    "pdb-spool.rb",
    "ruby/puppet_multisite/pdb_spool.rb",
    "ruby/puppet_multisite/pinned_environment.rb",
    "ruby/puppet/indirector/facts/puppetdb_spool.rb",
  ],
  puppetdb: [
    "puppetdb.sh",
    "db-ca-bundle.sh",
    "state-volume.sh",
    "allowlist-refresh.sh",
    "crl-refresh.sh",
    "discard-replay.sh",
    "database-check.sh",
  ],
};

/** Every script file of this module, for tests and the lab. */
export const ALL_SCRIPTS: readonly string[] = [
  ...new Set([...USER_DATA_SCRIPTS, ...Object.values(BY_ROLE).flat()]),
];

/** The script a role's first boot runs, until it succeeds. */
export function roleScript(role: HostRole): string {
  return `${role}.sh`;
}

/** What user data runs: hand the role's first boot to its systemd unit. */
export const BOOT_COMMAND: readonly string[] = [`${LIB_DIR}/boot.sh`, "start"];

/**
 * A script as user data carries it: full-line comments and indentation dropped (the shebang kept),
 * since they are most of the bytes and EC2 caps user data at 16 KB. Shell and Ruby alike: no script
 * has a heredoc whose lines are indented or start with `#`, and their multi-line strings are Ruby
 * programs (tests check both). Fetched scripts and the files in ./scripts keep both.
 */
export function shipScript(name: string, content: string): string {
  if (!/\.(sh|rb)$/.test(name)) return content;
  const [shebang, ...rest] = content.split("\n");
  const code = rest.filter((line) => !/^\s*#(?![!{])/.test(line));
  return [shebang, ...code.map((line) => line.trimStart())].join("\n");
}

function readScript(name: string): string {
  return readFileSync(join(SCRIPTS_DIR, name), "utf8");
}

/** The scripts user data carries, as hosts get them. */
export function userDataScripts(): ReadonlyArray<{ name: string; content: string }> {
  return USER_DATA_SCRIPTS.map((name) => ({ name, content: shipScript(name, readScript(name)) }));
}

/** A script of the store: its path under LIB_DIR, its bytes and their SHA-256 (hex). */
export interface StoredScript {
  readonly name: string;
  readonly content: string;
  readonly sha256: string;
}

/** Where the store keeps a script: its hash, so two versions never share a key. */
export const SCRIPT_KEY_PREFIX = "scripts/";

export function scriptKey(script: Pick<StoredScript, "sha256">): string {
  return `${SCRIPT_KEY_PREFIX}${script.sha256}`;
}

function stored(name: string): StoredScript {
  const content = readScript(name);
  return { name, content, sha256: createHash("sha256").update(content).digest("hex") };
}

/** The scripts a host of `role` fetches at first boot. */
export function fetchedScripts(role: HostRole): readonly StoredScript[] {
  return BY_ROLE[role].map(stored);
}

/** Every script any role fetches, once each: what a site's script store holds. */
export function storedScripts(): readonly StoredScript[] {
  return [...new Set(Object.values(BY_ROLE).flat())].map(stored);
}

/**
 * The list boot.sh fetches and checks, in `sha256sum` format (`<hex>  <path under LIB_DIR>`), so
 * `sha256sum --check` verifies what was fetched.
 */
export function renderScriptManifest(role: HostRole): string {
  return fetchedScripts(role)
    .map((s) => `${s.sha256}  ${s.name}\n`)
    .join("");
}

// The host scripts are real files in ./scripts, read at render time: the lab runs the very same
// files, and shellcheck checks them where they live.
import { readFileSync } from "fs";
import { join } from "path";
import { LIB_DIR } from "./paths";
import { HostRole } from "./types";

export const SCRIPTS_DIR = join(__dirname, "scripts");

/**
 * Scripts every role installs: user data runs `boot.sh start`, which runs the SSM agent's install
 * and the role's `<role>.sh` under a systemd unit until the role's script succeeds.
 */
const COMMON = ["lib.sh", "boot.sh", "ssm-agent.sh"] as const;
const BY_ROLE: Readonly<Record<HostRole, readonly string[]>> = {
  ca: ["ca.sh", "state-volume.sh", "autosign.rb", "auth-conf.rb"],
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
  ],
};

/** What a standby CA runs besides: the copy of the active CA's records, and its promotion. */
export const STANDBY_CA_SCRIPTS = ["ca-sync.rb", "ca-promote.rb"] as const;

/** Every script file of this module, for tests and the lab. */
export const ALL_SCRIPTS: readonly string[] = [
  ...new Set([...COMMON, ...Object.values(BY_ROLE).flat(), ...STANDBY_CA_SCRIPTS]),
];

/** The script a role's first boot runs, until it succeeds. */
export function roleScript(role: HostRole): string {
  return `${role}.sh`;
}

/** What user data runs: hand the role's first boot to its systemd unit. */
export const BOOT_COMMAND: readonly string[] = [`${LIB_DIR}/boot.sh`, "start"];

/**
 * A script as hosts get it: full-line comments and indentation dropped (the shebang kept), since
 * they are most of the bytes and EC2 caps user data at 16 KB. Shell and Ruby alike: no script has
 * a heredoc whose lines are indented or start with `#`, and their multi-line strings are Ruby
 * programs (tests check both). The files in ./scripts keep their comments and indentation.
 */
export function shipScript(name: string, content: string): string {
  if (!/\.(sh|rb)$/.test(name)) return content;
  const [shebang, ...rest] = content.split("\n");
  const code = rest.filter((line) => !/^\s*#(?![!{])/.test(line));
  return [shebang, ...code.map((line) => line.trimStart())].join("\n");
}

/** The scripts a host of `role` ships; a standby CA's include STANDBY_CA_SCRIPTS. */
export function roleScripts(
  role: HostRole,
  standby = false,
): ReadonlyArray<{ name: string; content: string }> {
  return [...COMMON, ...BY_ROLE[role], ...(standby ? STANDBY_CA_SCRIPTS : [])].map((name) => ({
    name,
    content: shipScript(name, readFileSync(join(SCRIPTS_DIR, name), "utf8")),
  }));
}

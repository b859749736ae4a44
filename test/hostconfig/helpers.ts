// Reading rendered user data back, and running the real tools the tests check it with.
import { spawnSync } from "child_process";
import { CONF_DIR, LIB_DIR, decodeUserData } from "../../infra/hostconfig";
import { SCRIPT_MANIFEST } from "../../infra/hostconfig/files";
import { storedScripts } from "../../infra/hostconfig/scripts";
import { it } from "vitest";
import { parse as parseIni } from "ini";

export interface ParsedUserData {
  /** What the host has once its first boot fetched its scripts: user data's files and those. */
  files: Map<string, { content: string; permissions: string }>;
  /** The paths among `files` that came from the script store, not from user data. */
  fetched: Set<string>;
  runcmd: unknown[];
}

/**
 * Parses `#cloud-config` user data with the one decoder, files as UTF-8 text by path, and adds the
 * scripts its manifest names as boot.sh installs them (mode 0755 under LIB_DIR), each looked up by
 * its hash among the scripts a site's store holds: a hash the store lacks fails here, as it would
 * fail the host's boot.
 */
export function parseUserData(userData: string): ParsedUserData {
  const decoded = decodeUserData(userData);
  const files = new Map<string, { content: string; permissions: string }>();
  for (const f of decoded.files) {
    files.set(f.path, { content: f.content.toString("utf8"), permissions: f.permissions });
  }
  const fetched = new Set<string>();
  const manifest = files.get(`${CONF_DIR}/${SCRIPT_MANIFEST}`)?.content ?? "";
  const store = new Map(storedScripts().map((s) => [s.sha256, s.content]));
  for (const line of manifest.split("\n").filter(Boolean)) {
    const [sha, name] = line.split(/ +/);
    const content = store.get(sha);
    if (content === undefined) throw new Error(`the script store has no ${name} of SHA-256 ${sha}`);
    files.set(`${LIB_DIR}/${name}`, { content, permissions: "0755" });
    fetched.add(`${LIB_DIR}/${name}`);
  }
  return { files, fetched, runcmd: [...decoded.runcmd] };
}

export function fileOf(parsed: ParsedUserData, path: string): string {
  const file = parsed.files.get(path);
  if (!file)
    throw new Error(`user data has no ${path}; it has ${[...parsed.files.keys()].join(", ")}`);
  return file.content;
}

/** A parsed INI or JSON document: sections (objects) of settings, typed loosely for assertions. */
export type Doc = Record<string, Record<string, unknown>>;

export function iniDoc(text: string): Doc {
  return parseIni(text);
}

export function jsonDoc(text: string): Doc {
  return JSON.parse(text) as Doc;
}

export function hasTool(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status === 0;
}

/**
 * A test that needs a real tool. In CI a missing tool fails the test (the CI script must install
 * it); elsewhere the test is skipped with the reason in its name.
 */
export function itWithTools(
  tools: readonly string[],
  name: string,
  fn: () => void | Promise<void>,
  timeout = 60_000,
): void {
  const missing = tools.filter((t) => !hasTool(t));
  if (missing.length === 0) {
    it(name, fn, timeout);
  } else if (process.env.CI) {
    it(name, () => {
      throw new Error(
        `${missing.join(", ")} not installed: CI must install the Debian packages (cloud-init, shellcheck, puppet-agent, openssl, ruby, dnsmasq)`,
      );
    });
  } else {
    it.skip(`${name} [skipped: ${missing.join(", ")} not installed]`, fn);
  }
}

export function run(
  cmd: string,
  args: readonly string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
) {
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    input: opts.input,
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

// The server side of the lab: each host is a directory (its own view of the Puppet packages' fixed
// paths, through lab/host-exec.sh) and optionally a network namespace. Whatever the lab runs on a
// host goes through host-exec.sh from here, so that several hosts share one machine side by side.
import { spawn } from "child_process";
import { mkdirSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { Started, killGroup, start } from "./processes";

/** The lab's adapter: what differs from an EC2 instance, as the host scripts' own variables. */
export const ADAPTER_ENV = {
  /** No apt-get: the lab machine has the packages (scripts/install-lab-deps.sh). */
  PUPPET_MULTISITE_SKIP_INSTALL: "1",
  /** No systemctl: the lab starts puppetserver/puppetdb by PID (startPuppetserver, startPuppetdb). */
  PUPPET_MULTISITE_SKIP_START: "1",
} as const;

export const HOST_EXEC = resolve(__dirname, "host-exec.sh");

/** Directories host-exec.sh binds over the machine's: user data may only write below them. */
export const HOST_DIRS = [
  "/etc/puppet",
  "/etc/puppetdb",
  "/etc/default",
  "/etc/puppet-multisite",
  "/usr/local/lib/puppet-multisite",
  "/var/lib/puppet",
  "/var/cache/puppet",
  "/var/lib/puppetserver",
  "/var/lib/puppetdb",
  "/var/lib/puppet-multisite",
  "/var/log/puppet-multisite",
];

export interface ExecHost {
  /** Short name, used for log files. */
  readonly name: string;
  readonly certname: string;
  /** The host's directory (absolute or relative to the working directory). */
  readonly root: string;
  /** Network namespace the host's commands run in; none: the caller's namespace. */
  readonly netns?: string;
  /**
   * The host's state volume: a directory outside its root, bound over the mount point the host's
   * scripts mount their volume at, so it outlives the host. Default none.
   */
  readonly volume?: { readonly dir: string; readonly mountPoint: string };
}

export interface RunResult {
  readonly ok: boolean;
  readonly code: number | null;
  readonly seconds: number;
  readonly output: string;
}

/**
 * Where the host sees `path`: its state volume's directory for a path under the volume's mount
 * point (bound over it inside the host), else `<root>/fs<path>` on the machine.
 */
export function hostPath(host: ExecHost, path: string): string {
  const volume = host.volume;
  if (volume && (path === volume.mountPoint || path.startsWith(`${volume.mountPoint}/`))) {
    return join(resolve(volume.dir), path.slice(volume.mountPoint.length));
  }
  return join(resolve(host.root), "fs", path);
}

function logDir(host: ExecHost): string {
  const dir = join(resolve(host.root), "log");
  mkdirSync(dir, { recursive: true });
  return dir;
}

function hostExecArgs(host: ExecHost, user: string | undefined, argv: readonly string[]): string[] {
  return [
    ...(host.netns ? ["--netns", host.netns] : []),
    ...(user ? ["--user", user] : []),
    ...(host.volume ? ["--volume", `${resolve(host.volume.dir)}:${host.volume.mountPoint}`] : []),
    resolve(host.root),
    "--",
    ...argv,
  ];
}

/** Runs a command inside the host and waits for it; output is also appended to `<root>/log/<logName>.log`. */
export async function runInHost(
  host: ExecHost,
  argv: readonly string[],
  opts: {
    env?: Record<string, string>;
    user?: string;
    logName?: string;
    timeoutMs?: number;
    input?: string;
  } = {},
): Promise<RunResult> {
  const started = Date.now();
  const child = spawn(HOST_EXEC, hostExecArgs(host, opts.user, argv), {
    env: { ...process.env, ...opts.env },
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
  const chunks: Buffer[] = [];
  child.stdout.on("data", (d: Buffer) => chunks.push(d));
  child.stderr.on("data", (d: Buffer) => chunks.push(d));
  // A command that exits before reading its input closes the pipe: the write fails with EPIPE,
  // which must not crash the lab (an unhandled 'error' event); the exit code tells the outcome.
  child.stdin.on("error", () => undefined);
  child.stdin.end(opts.input ?? "");
  const timer =
    opts.timeoutMs === undefined
      ? undefined
      : setTimeout(() => killGroup(child.pid, "SIGKILL"), opts.timeoutMs);
  const code = await new Promise<number | null>((done) => child.on("close", (c) => done(c)));
  if (timer) clearTimeout(timer);
  const output = Buffer.concat(chunks).toString("utf8");
  if (opts.logName) {
    writeFileSync(join(logDir(host), `${opts.logName}.log`), output, { flag: "a" });
  }
  return { ok: code === 0, code, seconds: (Date.now() - started) / 1000, output };
}

/** Starts a long-running command inside the host, in its own process group, output to `<root>/log/<name>.log`. */
export function startInHost(
  host: ExecHost,
  name: string,
  argv: readonly string[],
  opts: {
    env?: Record<string, string>;
    user?: string;
    cwd?: string;
    stopSignal?: NodeJS.Signals;
  } = {},
): Started {
  return start(
    `${name} ${host.name}`,
    HOST_EXEC,
    hostExecArgs(host, opts.user, argv),
    join(logDir(host), `${name}.log`),
    { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stopSignal: opts.stopSignal },
  );
}

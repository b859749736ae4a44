// Every process the lab starts, by PID, in a state file: stopped by PID at the end, on Ctrl-C, or by
// `npm run lab:down` from another shell.
import { ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export const STATE_DIR = join(__dirname, "..", "lab-state");
const REGISTRY = join(STATE_DIR, "processes.json");

export interface Tracked {
  readonly name: string;
  readonly pid: number;
}

function load(): Tracked[] {
  return existsSync(REGISTRY) ? (JSON.parse(readFileSync(REGISTRY, "utf8")) as Tracked[]) : [];
}

function save(list: Tracked[]): void {
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(REGISTRY, JSON.stringify(list, null, 2));
}

export function register(name: string, pid: number): void {
  save([...load().filter((t) => t.pid !== pid), { name, pid }]);
}

export function unregister(pid: number): void {
  save(load().filter((t) => t.pid !== pid));
}

export interface Started {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Stops the process and its group: TERM, then KILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts a process in its own process group, output to `logFile`, tracked by PID. */
export function start(
  name: string,
  command: string,
  args: readonly string[],
  logFile: string,
  env?: NodeJS.ProcessEnv,
): Started {
  mkdirSync(dirname(logFile), { recursive: true });
  const out = openSync(logFile, "a");
  const child = spawn(command, args, {
    detached: true,
    stdio: ["ignore", out, out],
    env: env ?? process.env,
  });
  closeSync(out);
  if (child.pid === undefined) throw new Error(`could not start ${name}: ${command}`);
  const pid = child.pid;
  register(name, pid);
  child.unref();
  return { name, pid, child, stop: (graceMs) => stopPid(pid, graceMs) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops a tracked process group by PID; resolves when it is gone. */
export async function stopPid(pid: number, graceMs = 10_000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, sig);
      } catch {
        // already gone
      }
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) signal("SIGKILL");
  while (alive(pid)) await new Promise((r) => setTimeout(r, 50));
  unregister(pid);
}

/** Stops every process the registry lists (those of an earlier, interrupted lab too). */
export async function stopAll(): Promise<Tracked[]> {
  const list = load();
  await Promise.all(list.map((t) => stopPid(t.pid, 5_000)));
  save([]);
  return list;
}

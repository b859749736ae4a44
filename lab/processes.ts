// Every process the lab starts, by PID and start time, in one state file: stopped by PID (its process
// group) at the end, on Ctrl-C, or by `npm run lab:down` from another shell. A recorded PID whose
// start time differs belongs to someone else now and is left alone.
import { ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export const STATE_DIR = join(__dirname, "..", "lab-state");
const REGISTRY = join(STATE_DIR, "processes.json");

export interface Tracked {
  readonly name: string;
  readonly pid: number;
  /** Start time in clock ticks since boot: tells a reused PID. */
  readonly ticks?: string;
}

function load(): Tracked[] {
  return existsSync(REGISTRY) ? (JSON.parse(readFileSync(REGISTRY, "utf8")) as Tracked[]) : [];
}

function save(list: Tracked[]): void {
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(REGISTRY, JSON.stringify(list, null, 2));
}

/** Start time of a process (/proc/<pid>/stat field 22), or undefined once it is gone (or a zombie). */
function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[0] === "Z" ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

/** Signals a process group (the lab starts each process as the leader of its own). */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, signal);
    } catch {
      // already gone
    }
  }
}

function register(name: string, pid: number): void {
  save([...load().filter((t) => t.pid !== pid), { name, pid, ticks: startTicks(pid) }]);
}

function unregister(pid: number): void {
  save(load().filter((t) => t.pid !== pid));
}

export interface Started {
  readonly name: string;
  readonly pid: number;
  /** Where its output goes. */
  readonly log: string;
  readonly child: ChildProcess;
  /** Whether the process still runs. */
  alive(): boolean;
  /**
   * Resolves with the exit code (or signal name) when the process ends. It does not keep Node
   * running: await `wait()` instead.
   */
  readonly exited: Promise<number | string>;
  /** Waits for the process to end, keeping Node running until it does; its exit code or signal. */
  wait(): Promise<number | string>;
  /** Its stop signal to its process group, SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** The signal that asks it to stop. Default SIGTERM. */
  readonly stopSignal?: NodeJS.Signals;
}

/** Starts a process as the leader of its own process group, output to `log`, tracked by PID. */
export function start(
  name: string,
  command: string,
  args: readonly string[],
  log: string,
  opts: StartOptions = {},
): Started {
  mkdirSync(dirname(log), { recursive: true });
  const out = openSync(log, "a");
  const child = spawn(command, args, {
    detached: true,
    stdio: ["ignore", out, out],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${name}: ${command}`);
  register(name, pid);
  // The lab waits for its processes through `exited`, not through the event loop.
  child.unref();
  let done = false;
  const exited = new Promise<number | string>((resolve) =>
    child.on("exit", (code, signal) => {
      done = true;
      unregister(pid);
      resolve(code ?? signal ?? "unknown");
    }),
  );
  return {
    name,
    pid,
    log,
    child,
    exited,
    alive: () => !done,
    wait() {
      child.ref();
      return exited;
    },
    async stop(graceMs = 20_000) {
      if (done) return;
      // Waited for now: an unreferenced child would let Node exit, silently, while it waits for the
      // exit of a process that needed the SIGKILL.
      child.ref();
      killGroup(pid, opts.stopSignal ?? "SIGTERM");
      const timer = setTimeout(() => killGroup(pid, "SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Stops every process the registry lists that still runs (those of an interrupted lab too). */
export async function stopAll(graceMs = 10_000): Promise<Tracked[]> {
  const live = load().filter((t) => t.ticks !== undefined && startTicks(t.pid) === t.ticks);
  for (const t of live) killGroup(t.pid, "SIGTERM");
  const running = () => live.filter((t) => startTicks(t.pid) === t.ticks);
  const deadline = Date.now() + graceMs;
  while (running().length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const t of running()) killGroup(t.pid, "SIGKILL");
  while (running().length > 0) await new Promise((r) => setTimeout(r, 50));
  save([]);
  return live;
}

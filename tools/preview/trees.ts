// The two source trees a preview compares: a commit, extracted to a temporary directory, and the
// working tree. Each stack is planned inside its own tree by that tree's own `npm run plan`, so the
// base is planned by the program and plan as they were at that commit.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { PlanOutcome } from "./compare";
import { readPlanJson } from "./plan-json";

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(
  cmd: string,
  args: string[],
  cwd: string,
  stdin?: NodeJS.ReadableStream,
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: [stdin ? "pipe" : "ignore", "pipe", "pipe"] });
    if (stdin && child.stdin) stdin.pipe(child.stdin);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on("data", (b: Buffer) => out.push(b));
    child.stderr!.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({
        code: code ?? 1,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      }),
    );
  });
}

async function git(repo: string, ...args: string[]): Promise<string> {
  const r = await run("git", args, repo);
  if (r.code !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** The commit a ref names, or an error that says which ref is wrong. */
export async function resolveCommit(repo: string, ref: string): Promise<string> {
  const r = await run("git", ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], repo);
  if (r.code !== 0 || r.stdout.trim() === "") {
    throw new Error(
      `--base ${ref}: not a commit of the repository at ${repo} (a branch, tag, SHA or HEAD~N; ` +
        "in a shallow clone fetch the base first)",
    );
  }
  return r.stdout.trim();
}

/** A short description of the working tree: its HEAD and whether it has uncommitted changes. */
export async function describeWorkingTree(repo: string): Promise<string> {
  const head = await git(repo, "rev-parse", "--short", "HEAD");
  const dirty = (await git(repo, "status", "--porcelain", "--untracked-files=no")) !== "";
  return `the working tree (\`HEAD\` ${head}${dirty ? " with uncommitted changes" : ""})`;
}

export interface Checkout {
  readonly dir: string;
  /** How its dependencies were provided. */
  readonly dependencies: "shared" | "installed";
  remove(): void;
}

/**
 * The files of a commit in a temporary directory. Its dependencies are the working tree's when the
 * lockfiles agree, otherwise installed from its own lockfile.
 */
export async function checkoutCommit(repo: string, commit: string): Promise<Checkout> {
  const dir = mkdtempSync(join(tmpdir(), "puppet-preview-"));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const archive = spawn("git", ["archive", "--format=tar", commit], {
      cwd: repo,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const archived = new Promise<number | null>((resolve) => archive.on("close", resolve));
    const tar = await run("tar", ["-x", "-C", dir], repo, archive.stdout);
    const code = await archived;
    if (code !== 0 || tar.code !== 0) {
      throw new Error(`extracting ${commit}: git archive exit ${code}; ${tar.stderr.trim()}`);
    }
    const lock = (root: string) => {
      const path = join(root, "package-lock.json");
      return existsSync(path) ? readFileSync(path, "utf8") : undefined;
    };
    const baseLock = lock(dir);
    if (baseLock === undefined) throw new Error(`commit ${commit} has no package-lock.json`);
    if (baseLock === lock(repo) && existsSync(join(repo, "node_modules"))) {
      symlinkSync(join(repo, "node_modules"), join(dir, "node_modules"), "dir");
      return { dir, dependencies: "shared", remove };
    }
    const npm = await run("npm", ["ci", "--no-audit", "--no-fund", "--ignore-scripts"], dir);
    if (npm.code !== 0)
      throw new Error(`npm ci at ${commit}: ${npm.stderr.trim().split("\n").pop()}`);
    return { dir, dependencies: "installed", remove };
  } catch (err) {
    remove();
    throw err;
  }
}

/** Plans stacks in a tree with its own `npm run plan`, one at a time per core. */
export async function planStacks(
  dir: string,
  stacks: readonly string[],
): Promise<Map<string, PlanOutcome>> {
  const outcomes = new Map<string, PlanOutcome>();
  const queue = [...stacks];
  const worker = async () => {
    for (let stack = queue.shift(); stack !== undefined; stack = queue.shift()) {
      const r = await run(
        "npm",
        ["run", "--silent", "plan", "--", "--stack", stack, "--json"],
        dir,
      );
      if (r.code === 0) {
        outcomes.set(stack, { plan: readPlanJson(r.stdout, `${dir}: stack ${stack}`) });
      } else {
        const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
        const failed = lines.find((l) => l.startsWith("plan failed:"));
        outcomes.set(stack, {
          error: (failed ?? lines.pop() ?? `exit ${r.code}`).replace(/^plan failed: /, ""),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, availableParallelism()) }, worker));
  return outcomes;
}

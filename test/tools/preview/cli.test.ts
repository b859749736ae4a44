// `npm run preview:diff` as a reviewer runs it, in a repository made from this one: a commit, then a
// change to a stack file (committed, or left in the working tree).
import { execFileSync, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { lexer } from "marked";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_DIR } from "../../../tools/plan/stack-config";

let repo: string;

function git(...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
    cwd: repo,
    encoding: "utf8",
  });
}

function preview(...args: string[]) {
  const r = spawnSync("npm", ["run", "--silent", "preview:diff", "--", ...args], {
    cwd: repo,
    encoding: "utf8",
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function edit(file: string, from: string, to: string): void {
  const path = join(repo, file);
  const text = readFileSync(path, "utf8");
  expect(text).toContain(from);
  writeFileSync(path, text.replace(from, to));
}

beforeAll(() => {
  repo = mkdtempSync(join(tmpdir(), "preview-cli-"));
  const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], {
    cwd: PROJECT_DIR,
    encoding: "utf8",
  })
    .split("\0")
    .filter((f) => f !== "" && existsSync(join(PROJECT_DIR, f)));
  for (const f of files) {
    mkdirSync(dirname(join(repo, f)), { recursive: true });
    copyFileSync(join(PROJECT_DIR, f), join(repo, f));
  }
  symlinkSync(join(PROJECT_DIR, "node_modules"), join(repo, "node_modules"), "dir");
  git("init", "-q", "-b", "main");
  // The link is no directory, so .gitignore's `node_modules/` would not keep it out.
  writeFileSync(join(repo, ".git", "info", "exclude"), "node_modules\n");
  git("add", "-A");
  git("commit", "-qm", "base");
});

afterAll(() => rmSync(repo, { recursive: true, force: true }));

describe("npm run preview:diff", () => {
  it("reports a committed change to a stack file against HEAD~1", () => {
    edit("Pulumi.site-b.yaml", "count: 2", "count: 3");
    git("commit", "-qam", "one more master in site-b");
    const r = preview("--base", "HEAD~1");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^## Topology preview\n/);
    expect(r.stdout).toContain("compared with `HEAD~1` (");
    expect(r.stdout).toContain("`site-b-masters-3-instance`");
    expect(lexer(r.stdout).filter((t) => t.type === "table").length).toBeGreaterThanOrEqual(4);
    expect(r.stdout).toContain("```mermaid\nflowchart LR\n");
  });

  it("fails for a replaced zone unless --allow-destroy, and still writes the report", () => {
    edit("Pulumi.yaml", "domain: puppet.example.internal", "domain: puppet.example.org");
    const out = join(repo, "preview.md");
    const refused = preview("--base", "HEAD", "--out", out);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(
      /stateful resources would be replaced or deleted \(.*site-a: replace site-a-dns-zone/,
    );
    expect(refused.stdout).toBe("");
    expect(readFileSync(out, "utf8")).toContain("[!CAUTION]");
    expect(readFileSync(out, "utf8")).toContain("with uncommitted changes");
    const allowed = preview("--base", "HEAD", "--out", out, "--allow-destroy");
    expect(allowed.status).toBe(0);
    expect(readFileSync(out, "utf8")).toContain("Allowed with `--allow-destroy`.");
    git("checkout", "--", "Pulumi.yaml");
  });

  it("fails with the stack and the reason when the change does not plan", () => {
    edit("Pulumi.site-b.yaml", "count: 3", "count: -1");
    const r = preview("--base", "HEAD");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/preview: stack site-b fails to plan: .*masters\.count.*-1/);
    expect(r.stdout).toContain("**The plan fails:**");
    git("checkout", "--", "Pulumi.site-b.yaml");
  });

  it("refuses a size no report fits in, naming the flag and what it takes", () => {
    const r = preview("--base", "HEAD", "--max-chars", "12k");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^preview failed: --max-chars: got "12k"; expected a whole number of characters, at least 1000/,
    );
  });

  it("names a base that is not a commit, and writes nothing", () => {
    const r = preview("--base", "no-such-branch");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^preview failed: --base no-such-branch: not a commit/);
    expect(r.stdout).toBe("");
  });

  it("previews against a base from before tools/, whose plan CLI is infra/plan/cli.ts", () => {
    // The base's own `npm run plan` is what plans it: a base with the older layout must still work.
    git("checkout", "-q", "-b", "layout-before-tools");
    git("mv", "tools/plan", "infra/plan");
    for (const file of readdirSync(join(repo, "infra", "plan"))) {
      const path = join(repo, "infra", "plan", file);
      writeFileSync(path, readFileSync(path, "utf8").replaceAll('"../../infra/', '"../'));
    }
    edit("package.json", "tools/plan/cli.ts", "infra/plan/cli.ts");
    git("commit", "-qam", "the layout before tools/");
    git("checkout", "-q", "main");
    expect(existsSync(join(repo, "infra", "plan"))).toBe(false);
    const r = preview("--base", "layout-before-tools");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const rows = r.stdout.split("\n").filter((l) => /^\| site-[ab] /.test(l));
    expect(
      rows.map((l) =>
        l
          .split("|")
          .slice(1, 6)
          .map((c) => c.trim()),
      ),
    ).toEqual([
      ["site-a", "0", "0", "0", "0"],
      ["site-b", "0", "0", "0", "0"],
    ]);
  });
});

// The layout is part of the architecture: `infra/` is what `pulumi up` loads, and nothing else.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { PROJECT_DIR } from "../tools/plan/stack-config";

function tsFiles(dir: string): string[] {
  return readdirSync(join(PROJECT_DIR, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => relative(PROJECT_DIR, join(e.parentPath, e.name)))
    .sort();
}

/** Files reachable from `entry` through relative imports (static and dynamic), by TypeScript's own scanner. */
function reachable(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const info = ts.preProcessFile(readFileSync(join(PROJECT_DIR, file), "utf8"), true, true);
    for (const { fileName } of info.importedFiles) {
      if (!fileName.startsWith(".")) continue;
      const base = resolve(PROJECT_DIR, dirname(file), fileName);
      const target = [`${base}.ts`, join(base, "index.ts")].find((p) => existsSync(p));
      if (target === undefined) throw new Error(`${file}: cannot resolve ${fileName}`);
      visit(relative(PROJECT_DIR, target));
    }
  };
  visit(entry);
  return [...seen].sort();
}

describe("layout", () => {
  it("infra/ holds the program only: every .ts file under it is reachable from infra/index.ts", () => {
    const program = reachable("infra/index.ts");
    expect(tsFiles("infra").filter((f) => !program.includes(f))).toEqual([]);
  });

  it("keeps every source file outside test/ at 400 lines or fewer", () => {
    const sources = ["infra", "tools", "lab", "bench"].flatMap(tsFiles);
    const long = sources
      .map((f) => [f, readFileSync(join(PROJECT_DIR, f), "utf8").split("\n").length - 1] as const)
      .filter(([, lines]) => lines > 400);
    expect(long).toEqual([]);
  });
});

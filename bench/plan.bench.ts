// `npm run bench`: plans both stacks at the default pool size and with 20 and 200 masters per site,
// each beside the floor: the same number of bare resources registered under the same mocks. Each
// case runs in a fresh process (peak memory is per process). Prints a table; asserts nothing.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

interface Figures {
  readonly resources: number;
  readonly ms: number;
  readonly loadMs: number;
  readonly peakRssMb: number;
}

const CASE = join(__dirname, "case.ts");
/** The same Node flags as `npm run plan`. */
const NODE_ARGS = ["--max-semi-space-size=64", "--import", "tsx"];

function run(args: string[]): Figures {
  const out = execFileSync(process.execPath, [...NODE_ARGS, CASE, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  return JSON.parse(out.trim().split("\n").pop()!) as Figures;
}

/** Median of `repeats` runs by wall time: one cold run says little on a busy machine. */
function measure(args: string[], repeats: number): Figures {
  const runs = Array.from({ length: repeats }, () => run(args)).sort((a, b) => a.ms - b.ms);
  return runs[Math.floor(runs.length / 2)];
}

function main(): void {
  const repeats = Number(process.env.BENCH_REPEATS ?? 3);
  const sizes: (number | undefined)[] = [undefined, 20, 200];
  const dir = mkdtempSync(join(tmpdir(), "pm-bench-"));
  const rows: string[][] = [];
  try {
    for (const size of sizes) {
      const masters = size === undefined ? [] : ["--masters", String(size)];
      const outputs = join(dir, `site-a-${size ?? "default"}.json`);
      for (const stack of ["site-a", "site-b"]) {
        const peers = stack === "site-b" ? ["--peers", outputs] : ["--save-outputs", outputs];
        const plan = measure(["--stack", stack, ...masters, ...peers], repeats);
        const floor = measure(["--stack", stack, "--bare", String(plan.resources)], repeats);
        rows.push([
          stack,
          size === undefined ? "default (2)" : String(size),
          String(plan.resources),
          String(plan.ms),
          String(plan.loadMs),
          String(plan.peakRssMb),
          String(floor.ms),
          String(floor.peakRssMb),
          (plan.ms / floor.ms).toFixed(2),
          (plan.ms / plan.resources).toFixed(2),
        ]);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const header = [
    "stack",
    "masters/site",
    "resources",
    "plan ms",
    "load ms",
    "plan MB",
    "floor ms",
    "floor MB",
    "plan/floor",
    "ms/resource",
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join("  ");
  console.log(
    `Offline plan, median of ${repeats} runs per case (floor: as many bare resources, same mocks)`,
  );
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

main();

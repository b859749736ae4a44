// The lab's results: one pass/fail line per scenario with its figures, as a table and as JSON.

export interface Figure {
  readonly name: string;
  readonly value: number | string;
  readonly unit?: string;
  /** The target the issue sets, when there is one (reported, never asserted). */
  readonly target?: string;
}

export interface ScenarioResult {
  /** Stable kebab-case key: what `--only` takes. */
  readonly key: string;
  readonly id: number;
  readonly name: string;
  readonly passed: boolean;
  readonly figures: readonly Figure[];
  /** What the scenario saw, including what went wrong or what was not recorded. */
  readonly notes: readonly string[];
  readonly seconds: number;
}

export interface LabReport {
  readonly startedAt: string;
  readonly machine: { readonly cores: number; readonly memoryGb: number };
  readonly options: Record<string, unknown>;
  readonly scenarios: readonly ScenarioResult[];
}

function figureText(f: Figure): string {
  const value = typeof f.value === "number" ? `${Math.round(f.value * 10) / 10}` : f.value;
  return `${f.name} ${value}${f.unit ?? ""}${f.target ? ` (target ${f.target})` : ""}`;
}

export function renderTable(report: LabReport): string {
  const lines = [
    `Lab run ${report.startedAt} on ${report.machine.cores} cores, ${report.machine.memoryGb} GB`,
    "",
  ];
  for (const s of report.scenarios) {
    lines.push(
      `${s.passed ? "PASS" : "FAIL"}  ${s.id}. ${s.name}  [${s.key}]  (${Math.round(s.seconds)} s)`,
    );
    for (const f of s.figures) lines.push(`        ${figureText(f)}`);
    for (const n of s.notes) lines.push(`        - ${n}`);
  }
  const passed = report.scenarios.filter((s) => s.passed).length;
  lines.push("", `Lab: ${passed} passed, ${report.scenarios.length - passed} failed`);
  return lines.join("\n") + "\n";
}

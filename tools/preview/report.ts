// The Markdown report of a topology change, for a pull request: stateful resources that would be
// replaced or deleted first, under a warning; then per stack what is created, updated, replaced and
// deleted; each site's SRV and latency records before and after; a diagram of every site after.
import { markdownTable } from "markdown-table";
import { ChangeKind, PropertyChange, ResourceChange, StackDiff } from "./diff";
import { renderMermaid } from "./mermaid";
import { hasReplacementRules } from "./forces-replacement";
import { DnsRecordView, SiteView } from "./topology";
import { valueChanges } from "./value-diff";

export interface StackComparison {
  readonly stack: string;
  readonly diff?: StackDiff;
  readonly before?: SiteView;
  readonly after?: SiteView;
  /** The plan at the base failed: nothing is compared. */
  readonly baseError?: string;
  /** The plan of the change failed. */
  readonly headError?: string;
}

export interface ReportInput {
  /** What was compared, e.g. "`HEAD~1` (1a2b3c4)" and "the working tree". */
  readonly base: string;
  readonly head: string;
  readonly stacks: readonly StackComparison[];
  readonly allowDestroy: boolean;
  /** The most characters the report may have; unlimited by default. */
  readonly maxChars?: number;
}

export interface Destruction {
  readonly stack: string;
  readonly change: ResourceChange;
}

/** Stateful resources the change would replace or delete. */
export function destructions(stacks: readonly StackComparison[]): Destruction[] {
  return stacks.flatMap((s) =>
    (s.diff?.changes ?? [])
      .filter((c) => c.stateful && (c.kind === "replace" || c.kind === "delete"))
      .map((change) => ({ stack: s.stack, change })),
  );
}

const ACTION: Record<ChangeKind, string> = {
  create: "+ create",
  update: "~ update",
  replace: "± replace",
  delete: "- delete",
};

/** How much a report shows. One too long for a pull-request comment is rendered again with less. */
interface Detail {
  /** Change rows per stack (and stateful rows in the warning); the rest are counted. */
  readonly rows: number;
  /** Lines per changed property. */
  readonly valueLines: number;
  /** Values per DNS record cell. */
  readonly recordValues: number;
  readonly records: boolean;
  readonly diagram: boolean;
  /** Columns padded to one width: easier to read as text, longer. */
  readonly aligned: boolean;
}

const DETAIL: readonly Detail[] = [
  { rows: 60, valueLines: 4, recordValues: 12, records: true, diagram: true, aligned: true },
  { rows: 60, valueLines: 4, recordValues: 12, records: true, diagram: true, aligned: false },
  { rows: 20, valueLines: 2, recordValues: 6, records: true, diagram: true, aligned: false },
  { rows: 5, valueLines: 1, recordValues: 3, records: true, diagram: true, aligned: false },
  { rows: 0, valueLines: 1, recordValues: 3, records: false, diagram: false, aligned: false },
];

function table(detail: Detail, header: string[], rows: string[][], align?: string[]): string {
  return markdownTable([header, ...rows], { align, alignDelimiters: detail.aligned });
}

/** Text for a table cell: pipes escaped, lines joined with <br>. */
function cell(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, "<br>");
}

function code(text: string): string {
  return "`" + text.replace(/`/g, "'") + "`";
}

function value(v: unknown): string {
  if (v === undefined) return "(unset)";
  if (typeof v === "string" && (v.length > 80 || v.includes("\n"))) return `(${v.length} bytes)`;
  const json = JSON.stringify(v);
  return json.length > 80 ? `${json.slice(0, 77)}...` : json;
}

function describe(p: PropertyChange, detail: Detail): string {
  const forced = p.forcesReplacement ? " **(forces replacement)**" : "";
  if (p.from !== undefined) {
    return `${code(p.property)}${forced}: known after ${code(p.from)} is replaced`;
  }
  const changes = valueChanges(p.before, p.after, p.property);
  const lines = changes.slice(0, detail.valueLines).map((c) => {
    const at = c.path === p.property ? "" : `${code(c.path.slice(p.property.length + 1))} `;
    if (c.kind === "set") return `${at}${code(value(c.before))} → ${code(value(c.after))}`;
    return `${at}${c.kind === "add" ? "+" : "−"} ${code(value(c.value))}`;
  });
  if (changes.length > detail.valueLines)
    lines.push(`… ${changes.length - detail.valueLines} more`);
  return `${code(p.property)}${forced}: ${lines.join(", ")}`;
}

function why(c: ResourceChange, diff: StackDiff, detail: Detail): string {
  if (c.kind === "replace") {
    return c.properties
      .filter((p) => p.forcesReplacement)
      .map((p) => describe(p, detail))
      .join("; ");
  }
  const twin = diff.changes.filter((x) => x.kind === "create" && x.type === c.type);
  const rename =
    twin.length === 1
      ? `; ${code(twin[0].name)} is created instead: if it is the same resource renamed, give it ` +
        `${code(`aliases: ["${c.urn}"]`)} (or alias the renamed component it belongs to)`
      : "";
  return `no longer in the program${rename}`;
}

function warning(list: readonly Destruction[], input: ReportInput, detail: Detail): string[] {
  if (list.length === 0) return [];
  // Every stateful row while they fit; never fewer than 20.
  const shown = list.slice(0, Math.max(detail.rows, 20));
  const rows = shown.map(({ stack, change: c }) => {
    const diff = input.stacks.find((s) => s.stack === stack)!.diff!;
    return [
      stack,
      ACTION[c.kind],
      cell(code(c.name)),
      cell(c.stateful!),
      cell(why(c, diff, detail)),
      c.protect ? "yes: `pulumi up` stops here until it is unprotected" : "no",
    ];
  });
  const verdict = input.allowDestroy
    ? "Allowed with `--allow-destroy`."
    : "This preview fails until that is intended: run it with `--allow-destroy` (in a pull request, " +
      "add the label `allow-destroy`).";
  return [
    "> [!CAUTION]",
    `> **${list.length} stateful resource${list.length === 1 ? "" : "s"} would be replaced or ` +
      `deleted.** What they hold cannot be rebuilt from the program. ${verdict}`,
    "",
    "### Stateful resources replaced or deleted",
    "",
    table(detail, ["stack", "action", "resource", "what is lost", "why", "protected"], rows),
    "",
    ...(list.length > shown.length ? [`… and ${list.length - shown.length} more.`, ""] : []),
  ];
}

function counts(diff: StackDiff): Record<ChangeKind, number> {
  const n: Record<ChangeKind, number> = { create: 0, update: 0, replace: 0, delete: 0 };
  for (const c of diff.changes) n[c.kind]++;
  return n;
}

function summary(stacks: readonly StackComparison[], detail: Detail): string[] {
  const rows = stacks.map((s) => {
    if (s.headError) return [s.stack, "plan fails", "", "", "", ""];
    if (!s.diff) return [s.stack, "not compared", "", "", "", ""];
    const n = counts(s.diff);
    return [s.stack, ...[n.create, n.update, n.replace, n.delete, s.diff.unchanged].map(String)];
  });
  const header = ["stack", "create", "update", "replace", "delete", "unchanged"];
  return [table(detail, header, rows, ["l", "r", "r", "r", "r", "r"]), ""];
}

function changeTable(diff: StackDiff, detail: Detail): string[] {
  const rows = diff.changes.slice(0, detail.rows).map((c) => {
    const details =
      c.kind === "update" || c.kind === "replace"
        ? c.properties.map((p) => describe(p, detail))
        : [];
    if (c.renamedFrom)
      details.unshift(`renamed from ${code(c.renamedFrom.split("::").pop()!)} (alias)`);
    return [ACTION[c.kind], cell(code(c.name)), cell(code(c.type)), cell(details.join("\n"))];
  });
  const more = diff.changes.length - rows.length;
  return [
    ...(rows.length > 0
      ? [table(detail, ["action", "resource", "type", "what changes"], rows), ""]
      : []),
    ...(more > 0 ? [`… and ${more} more: \`npm run preview:diff\` shows them all.`, ""] : []),
  ];
}

/** Values of a record cell: the first few, and how many more. */
function recordValues(values: readonly string[], detail: Detail): string {
  const shown = values.slice(0, detail.recordValues);
  const more = values.length - shown.length;
  return cell(
    [...shown, ...(more > 0 ? [`… ${more} more (${values.length} in all)`] : [])].join("\n"),
  );
}

function recordTable(detail: Detail, before?: SiteView, after?: SiteView): string[] {
  const all = new Map<string, { b?: DnsRecordView; a?: DnsRecordView }>();
  for (const r of before?.records ?? []) all.set(r.key, { b: r });
  for (const r of after?.records ?? []) all.set(r.key, { ...all.get(r.key), a: r });
  if (all.size === 0) return [];
  const rows = [...all.values()].map(({ b, a }) => {
    const r = (a ?? b)!;
    const show = (x?: DnsRecordView) => (x ? recordValues(x.values, detail) : "(none)");
    const changes = a && b ? valueChanges(b.values, a.values, "") : [];
    const change = !b
      ? "new"
      : !a
        ? "removed"
        : changes.length === 0
          ? ""
          : recordValues(
              changes.map((c) =>
                c.kind === "set"
                  ? "reordered"
                  : `${c.kind === "add" ? "+" : "−"} ${String(c.value)}`,
              ),
              detail,
            );
    return [cell(code(r.name)), cell(r.type), show(b), show(a), change];
  });
  return [table(detail, ["record", "type", "before", "after", "change"], rows), ""];
}

function stackSection(s: StackComparison, detail: Detail): string[] {
  const lines = [`### ${s.stack}`, ""];
  if (s.headError) return [...lines, `**The plan fails:** ${cell(s.headError)}`, ""];
  if (s.baseError)
    lines.push(`The base does not plan (${cell(s.baseError)}): nothing to compare.`, "");
  if (s.diff && s.diff.changes.length === 0) {
    lines.push(`No changes (${s.diff.unchanged} resources).`, "");
  } else if (s.diff) {
    const n = counts(s.diff);
    const totals =
      `${n.create} to create, ${n.update} to update, ${n.replace} to replace, ` +
      `${n.delete} to delete, ${s.diff.unchanged} unchanged`;
    if (detail.rows === 0) lines.push(`${totals}.`, "", ...changeTable(s.diff, detail));
    else {
      const open = s.diff.changes.length <= 25 ? " open" : "";
      lines.push(`<details${open}><summary>${totals}</summary>`, "");
      lines.push(...changeTable(s.diff, detail), "</details>", "");
    }
    const unknown = [
      ...new Set(s.diff.changes.filter((c) => c.custom && c.kind !== "create").map((c) => c.type)),
    ].filter((t) => !hasReplacementRules(t));
    if (unknown.length > 0) {
      lines.push(
        `Types without replacement rules (their changes are shown as updates): ${unknown.map(code).join(", ")}.`,
        "",
      );
    }
  }
  const records = detail.records ? recordTable(detail, s.before, s.after) : [];
  if (records.length > 0)
    lines.push(`SRV and latency records of ${(s.after ?? s.before)!.site}:`, "", ...records);
  return lines;
}

/**
 * The report. With `maxChars` (a pull-request comment holds 65,536 characters) it shows less detail
 * until it fits, and says so.
 */
export function renderReport(input: ReportInput): string {
  for (const [level, detail] of DETAIL.entries()) {
    const text = render(input, detail, level > 0);
    if (input.maxChars === undefined || text.length <= input.maxChars) return text;
  }
  return render(input, DETAIL[DETAIL.length - 1], true);
}

function render(input: ReportInput, detail: Detail, shortened: boolean): string {
  const failing = input.stacks.filter((s) => s.headError);
  const pairs = input.stacks
    .filter((s) => s.before || s.after)
    .map((s) => ({ before: s.before, after: s.after }));
  const lines = [
    "## Topology preview",
    "",
    `${input.head} compared with ${input.base}, planned offline (no cloud account involved).`,
    "",
    ...(shortened
      ? [
          `Shortened to fit a pull-request comment (${input.maxChars} characters): ` +
            "`npm run preview:diff` with the same base shows every change.",
          "",
        ]
      : []),
    ...(failing.length > 0
      ? [`> [!WARNING]`, `> The plan fails for ${failing.map((s) => s.stack).join(", ")}.`, ""]
      : []),
    ...warning(destructions(input.stacks), input, detail),
    ...summary(input.stacks, detail),
    ...input.stacks.flatMap((s) => stackSection(s, detail)),
    ...(pairs.length > 0 && detail.diagram
      ? ["### The sites after the change", "", "```mermaid", renderMermaid(pairs), "```", ""]
      : []),
    "<sub>Secret values are compared only as `[secret]`; IDs and addresses are the offline plan's " +
      "stand-ins. A property forces replacement when the provider cannot change it in place " +
      "(`tools/preview/forces-replacement.ts`); a live `pulumi preview` also sees drift.</sub>",
  ];
  return lines.join("\n") + "\n";
}

// The Markdown report of a topology change, for a pull request: stateful resources that would be
// replaced or deleted first, under a warning; then per stack what is created, updated, replaced and
// deleted; each site's SRV and latency records before and after; a diagram of every site after.
import { markdownTable } from "markdown-table";
import { ChangeKind, PropertyChange, ResourceChange, StackDiff } from "./diff";
import { renderMermaid } from "./mermaid";
import { hasReplacementRules } from "./replacement";
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

/** Rows shown per stack; the rest are counted. GitHub keeps comments under 64 KB. */
const MAX_ROWS = 60;

/** Text for a table cell: pipes escaped, lines joined with <br>. */
function cell(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, "<br>");
}

function code(text: string): string {
  return "`" + text.replace(/`/g, "'") + "`";
}

/** At most this many lines per property; the rest are counted. */
const MAX_VALUE_LINES = 4;

function value(v: unknown): string {
  if (v === undefined) return "(unset)";
  if (typeof v === "string" && (v.length > 80 || v.includes("\n"))) return `(${v.length} bytes)`;
  const json = JSON.stringify(v);
  return json.length > 80 ? `${json.slice(0, 77)}...` : json;
}

function describe(p: PropertyChange): string {
  const forced = p.forcesReplacement ? " **(forces replacement)**" : "";
  if (p.from !== undefined) {
    return `${code(p.property)}${forced}: known after ${code(p.from)} is replaced`;
  }
  const changes = valueChanges(p.before, p.after, p.property);
  const lines = changes.slice(0, MAX_VALUE_LINES).map((c) => {
    const at = c.path === p.property ? "" : `${code(c.path.slice(p.property.length + 1))} `;
    if (c.kind === "set") return `${at}${code(value(c.before))} → ${code(value(c.after))}`;
    return `${at}${c.kind === "add" ? "+" : "−"} ${code(value(c.value))}`;
  });
  if (changes.length > MAX_VALUE_LINES) lines.push(`… ${changes.length - MAX_VALUE_LINES} more`);
  return `${code(p.property)}${forced}: ${lines.join(", ")}`;
}

function why(c: ResourceChange, diff: StackDiff): string {
  if (c.kind === "replace") {
    return c.properties
      .filter((p) => p.forcesReplacement)
      .map(describe)
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

function warning(list: readonly Destruction[], input: ReportInput): string[] {
  if (list.length === 0) return [];
  const rows = list.map(({ stack, change: c }) => {
    const diff = input.stacks.find((s) => s.stack === stack)!.diff!;
    return [
      stack,
      ACTION[c.kind],
      cell(code(c.name)),
      cell(c.stateful!),
      cell(why(c, diff)),
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
    markdownTable([["stack", "action", "resource", "what is lost", "why", "protected"], ...rows]),
    "",
  ];
}

function counts(diff: StackDiff): Record<ChangeKind, number> {
  const n: Record<ChangeKind, number> = { create: 0, update: 0, replace: 0, delete: 0 };
  for (const c of diff.changes) n[c.kind]++;
  return n;
}

function summary(stacks: readonly StackComparison[]): string[] {
  const rows = stacks.map((s) => {
    if (s.headError) return [s.stack, "plan fails", "", "", "", ""];
    if (!s.diff) return [s.stack, "not compared", "", "", "", ""];
    const n = counts(s.diff);
    return [s.stack, ...[n.create, n.update, n.replace, n.delete, s.diff.unchanged].map(String)];
  });
  return [
    markdownTable([["stack", "create", "update", "replace", "delete", "unchanged"], ...rows], {
      align: ["l", "r", "r", "r", "r", "r"],
    }),
    "",
  ];
}

function changeTable(diff: StackDiff): string[] {
  const rows = diff.changes.slice(0, MAX_ROWS).map((c) => {
    const details = c.kind === "update" || c.kind === "replace" ? c.properties.map(describe) : [];
    if (c.renamedFrom)
      details.unshift(`renamed from ${code(c.renamedFrom.split("::").pop()!)} (alias)`);
    return [ACTION[c.kind], cell(code(c.name)), cell(code(c.type)), cell(details.join("\n"))];
  });
  const more = diff.changes.length - MAX_ROWS;
  return [
    markdownTable([["action", "resource", "type", "what changes"], ...rows]),
    "",
    ...(more > 0 ? [`… and ${more} more: run \`npm run preview:diff\` to see them all.`, ""] : []),
  ];
}

function recordTable(before?: SiteView, after?: SiteView): string[] {
  const all = new Map<string, { b?: DnsRecordView; a?: DnsRecordView }>();
  for (const r of before?.records ?? []) all.set(r.key, { b: r });
  for (const r of after?.records ?? []) all.set(r.key, { ...all.get(r.key), a: r });
  if (all.size === 0) return [];
  const rows = [...all.values()].map(({ b, a }) => {
    const r = (a ?? b)!;
    const show = (x?: DnsRecordView) => (x ? cell(x.values.join("\n")) : "(none)");
    const change = !b
      ? "new"
      : !a
        ? "removed"
        : b.values.join() === a.values.join()
          ? ""
          : "changed";
    return [cell(code(r.name)), cell(r.type), show(b), show(a), change];
  });
  return [markdownTable([["record", "type", "before", "after", "change"], ...rows]), ""];
}

function stackSection(s: StackComparison): string[] {
  const lines = [`### ${s.stack}`, ""];
  if (s.headError) return [...lines, `**The plan fails:** ${cell(s.headError)}`, ""];
  if (s.baseError)
    lines.push(`The base does not plan (${cell(s.baseError)}): nothing to compare.`, "");
  if (s.diff && s.diff.changes.length === 0) {
    lines.push(`No changes (${s.diff.unchanged} resources).`, "");
  } else if (s.diff) {
    const n = counts(s.diff);
    const open = s.diff.changes.length <= 25 ? " open" : "";
    lines.push(
      `<details${open}><summary>${n.create} to create, ${n.update} to update, ${n.replace} to replace, ` +
        `${n.delete} to delete, ${s.diff.unchanged} unchanged</summary>`,
      "",
      ...changeTable(s.diff),
      "</details>",
      "",
    );
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
  const records = recordTable(s.before, s.after);
  if (records.length > 0)
    lines.push(`SRV and latency records of ${(s.after ?? s.before)!.site}:`, "", ...records);
  return lines;
}

export function renderReport(input: ReportInput): string {
  const failing = input.stacks.filter((s) => s.headError);
  const pairs = input.stacks
    .filter((s) => s.before || s.after)
    .map((s) => ({ before: s.before, after: s.after }));
  const lines = [
    "## Topology preview",
    "",
    `${input.head} compared with ${input.base}, planned offline (no cloud account involved).`,
    "",
    ...(failing.length > 0
      ? [`> [!WARNING]`, `> The plan fails for ${failing.map((s) => s.stack).join(", ")}.`, ""]
      : []),
    ...warning(destructions(input.stacks), input),
    ...summary(input.stacks),
    ...input.stacks.flatMap(stackSection),
    ...(pairs.length > 0
      ? ["### The sites after the change", "", "```mermaid", renderMermaid(pairs), "```", ""]
      : []),
    "<sub>Secret values are compared only as `[secret]`; IDs and addresses are the offline plan's " +
      "stand-ins. A property forces replacement when the provider cannot change it in place " +
      "(`infra/preview/replacement.ts`); a live `pulumi preview` also sees drift.</sub>",
  ];
  return lines.join("\n") + "\n";
}

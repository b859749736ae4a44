// Reads a plan as `npm run plan -- --json` printed it, at any commit: fields added to the plan since
// get their defaults, and URNs are derived again from the parent chain, so that a plan made by an
// older commit (whose URNs carried only the parent's own type) lines up with one made today.
import { Plan, PlannedResource } from "../plan/plan";
import { makeUrn } from "../plan/urn";

function list(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

export function readPlanJson(text: string, origin: string): Plan {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${origin}: the plan is not JSON (${(err as Error).message})`);
  }
  const plan = record(json);
  if (typeof plan.stack !== "string" || !Array.isArray(plan.resources)) {
    throw new Error(`${origin}: not a plan (expected {"stack", "resources", "outputs"})`);
  }
  const root = plan.resources.map(record).find((r) => r.type === "pulumi:pulumi:Stack");
  const [, stack, project] = /^urn:pulumi:(.*?)::(.*?)::/.exec(String(root?.urn)) ?? [];
  if (stack === undefined) throw new Error(`${origin}: the plan has no stack resource`);

  const urns = new Map<string, string>();
  const rename = (urn: unknown): string | null =>
    typeof urn === "string" && urn !== "" ? (urns.get(urn) ?? urn) : null;
  // A provider reference is `<provider URN>::<id>`.
  const renameReference = (ref: string): string => {
    const at = ref.lastIndexOf("::");
    return `${rename(ref.slice(0, at))}${ref.slice(at)}`;
  };
  const resources = plan.resources.map(record).map((r): PlannedResource => {
    const type = String(r.type);
    const name = String(r.name);
    const parent = rename(r.parent);
    // Resources are recorded in registration order: a parent is always renamed before its children.
    const urn = makeUrn(stack, project, parent, type, name);
    urns.set(String(r.urn), urn);
    const propertyDependencies = Object.fromEntries(
      Object.entries(record(r.propertyDependencies)).map(([k, v]) => [
        k,
        list(v).map((u) => rename(u)!),
      ]),
    );
    return {
      urn,
      type,
      name,
      parent,
      dependencies: list(r.dependencies).map((u) => rename(u)!),
      inputs: record(r.inputs),
      id: typeof r.id === "string" ? r.id : null,
      outputs: record(r.outputs),
      protect: r.protect === true,
      custom: r.custom !== false,
      provider: typeof r.provider === "string" ? renameReference(r.provider) : null,
      aliases: list(r.aliases),
      ignoreChanges: list(r.ignoreChanges),
      replaceOnChanges: list(r.replaceOnChanges),
      deleteBeforeReplace: r.deleteBeforeReplace === true,
      propertyDependencies,
    };
  });
  return { stack: plan.stack, resources, outputs: record(plan.outputs) };
}

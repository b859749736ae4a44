// The difference between two plans of one stack, as `pulumi preview` would show it: each resource is
// created, updated, replaced or deleted. Resources are matched the way the engine matches them, by
// URN or by an alias (a parent's alias carries over to its children); a change to a property the
// provider cannot update in place is a replacement, and so is a replace-forcing property whose value
// comes from a resource being replaced (its new ID is known only after the replacement).
import { isDeepStrictEqual } from "node:util";
import { Plan, PlannedResource } from "../plan/plan";
import { makeUrn, parseUrn } from "../plan/urn";
import { forcesReplacement, pathParts } from "./forces-replacement";
import { StackContext, statefulReason } from "./stateful";

export type ChangeKind = "create" | "update" | "replace" | "delete";

export interface PropertyChange {
  readonly property: string;
  readonly before: unknown;
  readonly after: unknown;
  readonly forcesReplacement: boolean;
  /** The replaced resource the new value comes from, when it is known only after the replacement. */
  readonly from?: string;
}

export interface ResourceChange {
  readonly kind: ChangeKind;
  /** The URN after the change (before it, for a deletion). */
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  /** The URN the resource had before, when it was matched through an alias. */
  readonly renamedFrom?: string;
  readonly properties: readonly PropertyChange[];
  /** Why the resource must be kept (the CA key, the database...), when it must. */
  readonly stateful?: string;
  /** Protected in either plan: `pulumi up` refuses to delete it. */
  readonly protect: boolean;
  readonly custom: boolean;
}

export interface StackDiff {
  readonly stack: string;
  /** Creations, updates and replacements in registration order, then deletions. */
  readonly changes: readonly ResourceChange[];
  readonly unchanged: number;
}

/** `before` or `after` is absent when the stack is new or removed. */
export function diffPlans(stack: string, before?: Plan, after?: Plan): StackDiff {
  const base = new Map((before?.resources ?? []).map((r) => [r.urn, r]));
  const head = after?.resources ?? [];
  const headByUrn = new Map(head.map((r) => [r.urn, r]));
  /** Head URN -> the base URN it continues. */
  const matched = new Map<string, string>();
  const taken = new Set<string>();
  const replaced = new Set<string>();
  const kept = new Kept();
  const changes: ResourceChange[] = [];
  let unchanged = 0;
  const headStack = stackContext(after);
  const baseStack = stackContext(before);
  /** Why a resource must be kept, as its own plan says or else as the base's says of what it was. */
  const keep = (r?: PlannedResource, old?: PlannedResource) =>
    (r && statefulReason(r, headStack)) ?? (old && statefulReason(old, baseStack));

  for (const r of head) {
    const previous = candidateUrns(r, headByUrn, matched).find((u) => base.has(u) && !taken.has(u));
    if (previous === undefined) {
      changes.push(change("create", r, undefined, [], keep(r)));
      continue;
    }
    matched.set(r.urn, previous);
    taken.add(previous);
    const old = base.get(previous)!;
    if (previous !== r.urn) kept.remember(old, r);
    const properties = compareInputs(old, r, replaced, headByUrn, kept);
    const replace = properties.some((p) => p.forcesReplacement);
    if (replace) replaced.add(r.urn);
    if (properties.length === 0 && previous === r.urn) unchanged++;
    else {
      const kind = replace ? "replace" : "update";
      changes.push(change(kind, r, old, properties, keep(r, old), previous));
    }
  }
  for (const old of before?.resources ?? []) {
    if (!taken.has(old.urn)) changes.push(change("delete", old, old, [], keep(undefined, old)));
  }
  return { stack, changes, unchanged };
}

/** What the stateful rules ask of the stack a plan is of. */
function stackContext(plan?: Plan): StackContext {
  const role = plan?.outputs.role;
  return { siteRole: typeof role === "string" ? role : undefined };
}

function change(
  kind: ChangeKind,
  r: PlannedResource,
  old: PlannedResource | undefined,
  properties: PropertyChange[],
  stateful: string | undefined,
  previous?: string,
): ResourceChange {
  return {
    kind,
    urn: r.urn,
    type: r.type,
    name: r.name,
    ...(previous !== undefined && previous !== r.urn ? { renamedFrom: previous } : {}),
    properties,
    stateful,
    protect: r.protect || (old?.protect ?? false),
    custom: r.custom,
  };
}

/**
 * What resources kept through an alias are called by others: the same cloud resource keeps its ID
 * and outputs, while the plan's stand-ins for them derive from the logical name.
 */
class Kept {
  private readonly renames = new Map<string, string>();

  remember(old: PlannedResource, r: PlannedResource): void {
    if (old.id && r.id && old.id !== r.id) this.renames.set(r.id, old.id);
    for (const [key, value] of Object.entries(r.outputs)) {
      const was = old.outputs[key];
      if (typeof value === "string" && typeof was === "string" && value !== was) {
        this.renames.set(value, was);
      }
    }
  }

  /** The value with every new stand-in replaced by the one it continues. */
  restore(value: unknown): unknown {
    if (this.renames.size === 0) return value;
    if (typeof value === "string") {
      let s = value;
      for (const [now, was] of [...this.renames].sort((a, b) => b[0].length - a[0].length)) {
        s = s.split(now).join(was);
      }
      return s;
    }
    if (Array.isArray(value)) return value.map((v) => this.restore(v));
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.restore(v)]));
    }
    return value;
  }
}

/**
 * The URNs this resource may have had: its own, its aliases, and those its parent's previous URN
 * implies. As in the engine, a child whose name starts with its parent's name takes the parent's
 * previous name in its own.
 */
function candidateUrns(
  r: PlannedResource,
  headByUrn: ReadonlyMap<string, PlannedResource>,
  matched: ReadonlyMap<string, string>,
): string[] {
  const urns = [r.urn, ...r.aliases];
  const parent = r.parent ? headByUrn.get(r.parent) : undefined;
  const parentBefore = r.parent ? matched.get(r.parent) : undefined;
  if (parent && parentBefore && parentBefore !== parent.urn) {
    const { stack, project, name: oldParentName } = parseUrn(parentBefore);
    const names = [r.name];
    if (r.name.startsWith(parent.name)) {
      names.unshift(oldParentName + r.name.slice(parent.name.length));
    }
    for (const name of names) urns.push(makeUrn(stack, project, parentBefore, r.type, name));
  }
  return urns;
}

function compareInputs(
  old: PlannedResource,
  r: PlannedResource,
  replaced: ReadonlySet<string>,
  headByUrn: ReadonlyMap<string, PlannedResource>,
  kept: Kept,
): PropertyChange[] {
  if (!r.custom) return [];
  const keys = [...new Set([...Object.keys(old.inputs), ...Object.keys(r.inputs)])].sort();
  const changes: PropertyChange[] = [];
  for (const property of keys) {
    if (r.ignoreChanges.includes(property)) continue;
    const before = withoutIgnored(old.inputs[property], property, r.ignoreChanges);
    const after = kept.restore(withoutIgnored(r.inputs[property], property, r.ignoreChanges));
    const from = (r.propertyDependencies[property] ?? []).find((u) => replaced.has(u));
    if (isDeepStrictEqual(before, after) && from === undefined) continue;
    changes.push({
      property,
      before: old.inputs[property],
      after: r.inputs[property],
      forcesReplacement: forcesReplacement(old, r, property),
      ...(from !== undefined ? { from: headByUrn.get(from)?.name ?? from } : {}),
    });
  }
  return changes;
}

/**
 * The value with the parts of it `ignoreChanges` names removed: `tags.Name`, `ingress[0]`.
 */
function withoutIgnored(value: unknown, property: string, ignore: readonly string[]): unknown {
  let result = value;
  for (const path of ignore) {
    const parts = pathParts(path);
    // A whole property ignored is skipped before its value is compared.
    if (parts[0] !== property || parts.length === 1) continue;
    result = removePath(structuredClone(result), parts.slice(1));
  }
  return result;
}

function removePath(value: unknown, path: readonly string[]): unknown {
  if (value === null || typeof value !== "object") return value;
  const [head, ...rest] = path;
  const obj = value as Record<string, unknown>;
  const keys = head === "*" ? Object.keys(obj) : [head];
  for (const key of keys) {
    if (rest.length === 0) delete obj[key];
    else obj[key] = removePath(obj[key], rest);
  }
  return value;
}

// What differs between two values of one input, as a reviewer reads it: the object keys that
// changed, the list items and text lines added or removed, not two truncated JSON blobs.
import { isDeepStrictEqual } from "node:util";

export type ValueChange =
  | {
      readonly path: string;
      readonly kind: "set";
      readonly before: unknown;
      readonly after: unknown;
    }
  | { readonly path: string; readonly kind: "add" | "remove"; readonly value: unknown };

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function isScalar(v: unknown): boolean {
  return v === null || ["string", "number", "boolean"].includes(typeof v);
}

/** Items of `a` that `b` does not have, as often as `a` has more of them. */
function missing<T>(a: readonly T[], b: readonly T[]): T[] {
  const left = [...b];
  return a.filter((x) => {
    const i = left.findIndex((y) => isDeepStrictEqual(x, y));
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
}

export function valueChanges(before: unknown, after: unknown, path: string): ValueChange[] {
  if (isDeepStrictEqual(before, after)) return [];
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => valueChanges(before[k], after[k], `${path}.${k}`));
  }
  const lines = (v: unknown) =>
    typeof v === "string" && v.includes("\n") ? v.split("\n") : undefined;
  const [a, b] = [lines(before), lines(after)];
  const scalars = (v: unknown): unknown[] | undefined =>
    Array.isArray(v) && (v as unknown[]).every(isScalar) ? (v as unknown[]) : undefined;
  const [x, y] = [scalars(before), scalars(after)];
  const items: [unknown[], unknown[]] | undefined =
    a && b ? [a.map((l) => l.trim()), b.map((l) => l.trim())] : x && y ? [x, y] : undefined;
  if (items) {
    const changes: ValueChange[] = [
      ...missing(items[0], items[1]).map((value) => ({ path, kind: "remove" as const, value })),
      ...missing(items[1], items[0]).map((value) => ({ path, kind: "add" as const, value })),
    ];
    // The same items in another order is still a change.
    return changes.length > 0
      ? changes
      : [{ path, kind: "set", before: "(order)", after: "(reordered)" }];
  }
  return [{ path, kind: "set", before, after }];
}

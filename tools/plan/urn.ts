// Pulumi URNs as the engine makes them: `urn:pulumi:<stack>::<project>::<qualified type>::<name>`,
// where the qualified type is the chain of parent types (the root stack excluded) joined by `$`.
// A resource keeps its state across a change only if its URN, or one of its aliases, is unchanged.

export const ROOT_STACK_TYPE = "pulumi:pulumi:Stack";

export interface UrnParts {
  readonly stack: string;
  readonly project: string;
  readonly qualifiedType: string;
  readonly name: string;
}

export function parseUrn(urn: string): UrnParts {
  const m = /^urn:pulumi:(.*?)::(.*?)::(.*?)::(.*)$/.exec(urn);
  if (!m) throw new Error(`not a Pulumi URN: ${urn}`);
  return { stack: m[1], project: m[2], qualifiedType: m[3], name: m[4] };
}

/** The resource's own type: the last link of the qualified type. */
export function urnType(urn: string): string {
  return parseUrn(urn).qualifiedType.split("$").pop()!;
}

export function makeUrn(
  stack: string,
  project: string,
  parent: string | null,
  type: string,
  name: string,
): string {
  const prefix =
    parent && urnType(parent) !== ROOT_STACK_TYPE ? `${parseUrn(parent).qualifiedType}$` : "";
  return `urn:pulumi:${stack}::${project}::${prefix}${type}::${name}`;
}

/** One alias as the SDK sends it: a URN, or a spec whose empty fields mean "as the resource". */
export interface AliasSpec {
  readonly urn?: string;
  readonly name?: string;
  readonly type?: string;
  readonly stack?: string;
  readonly project?: string;
  /** The alias's parent; null for "no parent"; undefined for the resource's own parent. */
  readonly parent?: string | null;
}

/** The URN an alias names, for a resource with this URN and parent. */
export function aliasUrn(alias: AliasSpec, urn: string, parent: string | null): string {
  if (alias.urn) return alias.urn;
  const own = parseUrn(urn);
  return makeUrn(
    alias.stack || own.stack,
    alias.project || own.project,
    alias.parent === undefined ? parent : alias.parent,
    alias.type || urnType(urn),
    alias.name || own.name,
  );
}

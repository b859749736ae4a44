// Whether a change of one input replaces the resource: the provider's replace-forcing properties
// (force-new.ts), narrowed to nested fields where only those force it, the few rules that
// depend on the values, and the resource's own `replaceOnChanges` option.
import { isDeepStrictEqual } from "node:util";
import { PlannedResource } from "../plan/plan";
import { REPLACE_ON_CHANGE } from "./force-new";
import { NESTED_REPLACE_ON_CHANGE } from "./force-new-nested";

/** Whether the rules know the type (the engine's own types need none). */
export function hasReplacementRules(type: string): boolean {
  return type in REPLACE_ON_CHANGE || type.startsWith("pulumi:");
}

/** The parts of a property path as resource options write it: `tags.Name` or `ingress[0].cidr`. */
export function pathParts(path: string): string[] {
  return path.split(/\.|\[(\d+|\*)\]/).filter((p) => p !== undefined && p !== "");
}

function named(paths: readonly string[], property: string): boolean {
  return paths.some((p) => p === "*" || pathParts(p)[0] === property);
}

/** The value at a dotted path of an object, or of each object in a list, at every level. */
function at(value: unknown, path: readonly string[]): unknown {
  if (path.length === 0) return value;
  if (Array.isArray(value)) return value.map((v) => at(v, path));
  if (value === null || typeof value !== "object") return undefined;
  return at((value as Record<string, unknown>)[path[0]], path.slice(1));
}

/** The listed fields (dotted paths) of an object, or of each object in a list. */
function pick(value: unknown, fields: readonly string[]): unknown {
  return fields.map((f) => at(value, f.split(".")));
}

/** A security group rule's source: a CIDR, a prefix list or a group. Switching kind replaces it. */
const RULE_SOURCES = ["cidrIpv4", "cidrIpv6", "prefixListId", "referencedSecurityGroupId"];
const RULE_TYPES = [
  "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
];

/** Whether changing `property` from its value in `before` to its value in `after` replaces it. */
export function forcesReplacement(
  before: PlannedResource,
  after: PlannedResource,
  property: string,
): boolean {
  if (named(after.replaceOnChanges, property)) return true;
  const was = before.inputs[property];
  const now = after.inputs[property];
  // An instance's user data is changed in place (stop, modify, start) unless it asks otherwise.
  if (
    after.type === "aws:ec2/instance:Instance" &&
    (property === "userData" || property === "userDataBase64")
  ) {
    return after.inputs.userDataReplaceOnChange === true;
  }
  if (RULE_TYPES.includes(after.type) && RULE_SOURCES.includes(property)) {
    const kind = (r: PlannedResource) => RULE_SOURCES.filter((k) => r.inputs[k] !== undefined);
    return !isDeepStrictEqual(kind(before), kind(after));
  }
  // A network load balancer gets or loses security groups only by being created again
  // (load_balancer.go's CustomizeDiff); a change of which groups is made in place.
  if (after.type === "aws:lb/loadBalancer:LoadBalancer" && property === "securityGroups") {
    const some = (v: unknown) => Array.isArray(v) && v.length > 0;
    return after.inputs.loadBalancerType === "network" && some(was) !== some(now);
  }
  if (!(REPLACE_ON_CHANGE[after.type] ?? []).includes(property)) return false;
  const nested = NESTED_REPLACE_ON_CHANGE[after.type]?.[property];
  if (nested === undefined) return true;
  // A block added or removed is replaced whole; within it only the listed fields force it.
  if ((was === undefined) !== (now === undefined)) return true;
  return !isDeepStrictEqual(pick(was, nested), pick(now, nested));
}

// Text rendering of a plan: the resource tree as `pulumi preview` shows it, with the inputs a reviewer
// looks for first, then the stack's outputs.
import { Plan, PlannedResource } from "./plan";

/** Inputs worth a glance, per resource type: what changes topology. */
const HIGHLIGHTS: Readonly<Record<string, readonly string[]>> = {
  "aws:ec2/vpc:Vpc": ["cidrBlock"],
  "aws:ec2/subnet:Subnet": ["cidrBlock"],
  "aws:ec2/instance:Instance": ["instanceType"],
  "aws:rds/instance:Instance": ["engineVersion", "instanceClass", "multiAz"],
  "aws:route53/record:Record": ["name", "type", "records"],
  "aws:route53/zone:Zone": ["name"],
  "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ["fromPort", "cidrIpv4"],
  "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ["fromPort", "cidrIpv4"],
};

function summary(r: PlannedResource): string {
  const keys = HIGHLIGHTS[r.type] ?? [];
  const parts = keys
    .filter((k) => r.inputs[k] !== undefined)
    .map((k) => `${k}=${JSON.stringify(r.inputs[k])}`);
  return [r.type, r.name, r.protect ? "[protected]" : "", ...parts].filter(Boolean).join("  ");
}

export function renderTree(plan: Plan): string {
  const children = new Map<string | null, PlannedResource[]>();
  for (const r of plan.resources) {
    const list = children.get(r.parent) ?? [];
    list.push(r);
    children.set(r.parent, list);
  }
  const lines: string[] = [];
  const walk = (parent: string | null, indent: string) => {
    const list = children.get(parent) ?? [];
    list.forEach((r, i) => {
      const last = i === list.length - 1;
      lines.push(`${indent}${parent === null ? "" : last ? "└─ " : "├─ "}${summary(r)}`);
      walk(r.urn, parent === null ? "" : indent + (last ? "   " : "│  "));
    });
  };
  walk(null, "");
  const counts = new Map<string, number>();
  for (const r of plan.resources) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
  lines.push("", `Resources: ${plan.resources.length}`);
  for (const [type, n] of [...counts].sort()) lines.push(`  ${String(n).padStart(4)}  ${type}`);
  lines.push("", "Outputs:");
  for (const [k, v] of Object.entries(plan.outputs)) {
    const text = typeof v === "string" ? v : JSON.stringify(v);
    lines.push(
      `  ${k}: ${text.length > 100 ? `${text.slice(0, 97).replace(/\n/g, "\\n")}...` : text.replace(/\n/g, "\\n")}`,
    );
  }
  return lines.join("\n") + "\n";
}

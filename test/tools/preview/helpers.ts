// Plans of the repository's two stacks with their configuration edited, as a preview reads them
// (through the plan's JSON), and the comparison of two such deployments.
import { Plan, planWithPeers } from "../../../tools/plan/plan";
import { StackConfig, readStackConfig } from "../../../tools/plan/stack-config";
import { PlanOutcome, compareStacks } from "../../../tools/preview/compare";
import { readPlanJson } from "../../../tools/preview/plan-json";
import { StackComparison } from "../../../tools/preview/report";
import { PROJECT, merge } from "../../fixtures";

/** Setting (without the project prefix) -> value merged into the stack's value. */
export type ConfigEdit = Readonly<Record<string, unknown>>;

function jsonOrText(value: string | undefined): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

export async function planDeployment(
  edits: Readonly<Partial<Record<"site-a" | "site-b", ConfigEdit>>> = {},
): Promise<Map<string, Plan>> {
  const edited = (stack: string): StackConfig => {
    const cfg = readStackConfig(stack);
    const config = { ...cfg.config };
    for (const [key, value] of Object.entries(edits[stack as "site-a" | "site-b"] ?? {})) {
      const full = `${PROJECT}:${key}`;
      const current = jsonOrText(config[full]);
      const merged =
        typeof value === "object" && value !== null && typeof current === "object" && current
          ? merge(current as Record<string, unknown>, value as Record<string, unknown>)
          : value;
      config[full] = typeof merged === "string" ? merged : JSON.stringify(merged);
    }
    return { ...cfg, config };
  };
  const plans = await planWithPeers("site-b", new Map(), edited);
  // As a preview reads them: through the plan's JSON.
  return new Map(
    [...plans].map(([stack, plan]) => [stack, readPlanJson(JSON.stringify(plan), stack)]),
  );
}

function outcomes(plans: ReadonlyMap<string, Plan>): Map<string, PlanOutcome> {
  return new Map([...plans].map(([stack, plan]) => [stack, { plan }]));
}

export function compare(
  before: ReadonlyMap<string, Plan>,
  after: ReadonlyMap<string, Plan>,
): StackComparison[] {
  return compareStacks(outcomes(before), outcomes(after));
}

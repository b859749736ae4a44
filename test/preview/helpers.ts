// Plans of the repository's two stacks with their configuration edited, as a preview reads them
// (through the plan's JSON), and the comparison of two such deployments.
import { Plan, planStack } from "../../infra/plan/plan";
import { readStackConfig } from "../../infra/plan/stack-config";
import { PlanOutcome, compareStacks } from "../../infra/preview/compare";
import { readPlanJson } from "../../infra/preview/plan-json";
import { StackComparison } from "../../infra/preview/report";
import { PEER_STACK, PROJECT, merge } from "../fixtures";

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
  const plans = new Map<string, Plan>();
  for (const stack of ["site-a", "site-b"] as const) {
    const cfg = readStackConfig(stack);
    const config = { ...cfg.config };
    for (const [key, value] of Object.entries(edits[stack] ?? {})) {
      const full = `${PROJECT}:${key}`;
      const current = jsonOrText(config[full]);
      const merged =
        typeof value === "object" && value !== null && typeof current === "object" && current
          ? merge(current as Record<string, unknown>, value as Record<string, unknown>)
          : value;
      config[full] = typeof merged === "string" ? merged : JSON.stringify(merged);
    }
    const peers: Record<string, Record<string, unknown>> = stack === "site-b"
      ? { [PEER_STACK]: plans.get("site-a")!.outputs }
      : {};
    const plan = await planStack(stack, { config: { ...cfg, config }, peers });
    plans.set(stack, readPlanJson(JSON.stringify(plan), stack));
  }
  return plans;
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

// Puts the plans of both trees side by side, stack by stack: a stack only in the change is all new,
// a stack only in the base is all deleted, and a stack that fails to plan is reported, not compared.
import { Plan } from "../plan/plan";
import { diffPlans } from "./diff";
import { StackComparison } from "./report";
import { siteView } from "./topology";

/** What planning a stack gave: its plan, or why it failed. */
export type PlanOutcome = { readonly plan: Plan } | { readonly error: string };

function planOf(outcome: PlanOutcome | undefined): Plan | undefined {
  return outcome && "plan" in outcome ? outcome.plan : undefined;
}

export function compareStacks(
  base: ReadonlyMap<string, PlanOutcome>,
  head: ReadonlyMap<string, PlanOutcome>,
): StackComparison[] {
  const stacks = [...new Set([...base.keys(), ...head.keys()])].sort();
  return stacks.map((stack) => {
    const b = base.get(stack);
    const h = head.get(stack);
    const before = planOf(b);
    const after = planOf(h);
    const views = {
      ...(before && { before: siteView(before) }),
      ...(after && { after: siteView(after) }),
    };
    if (h && "error" in h) return { stack, headError: h.error, ...views };
    if (b && "error" in b) return { stack, baseError: b.error, ...views };
    return { stack, diff: diffPlans(stack, before, after), ...views };
  });
}

// The plans the lab is built from: every stack planned offline from its Pulumi.<stack>.yaml, its
// peers' plans first (a stack reference reads their outputs), with project settings changed as a
// `pulumi config set` in Pulumi.yaml would change them (a later change's `pulumi up`).
import { Plan, planWithPeers } from "../tools/plan/plan";
import { ConfigEdit, editedConfig } from "../tools/plan/edit";
import { listStacks } from "../tools/plan/stack-config";

/**
 * Every stack's plan, by stack name, with `edit`'s settings (keys without the namespace) merged
 * over every stack's configuration.
 */
export async function planAll(edit: ConfigEdit = {}): Promise<Map<string, Plan>> {
  const readConfig = editedConfig(() => edit);
  const plans = new Map<string, Plan>();
  for (const stack of listStacks()) {
    if (!plans.has(stack)) await planWithPeers(stack, plans, readConfig);
  }
  return plans;
}

// The plans the lab is built from: every stack planned offline from its Pulumi.<stack>.yaml, its
// peers' plans first (a stack reference reads their outputs), with project settings changed as a
// `pulumi config set` in Pulumi.yaml would change them (a later change's `pulumi up`).
import { Plan, planWithPeers } from "../tools/plan/plan";
import { StackConfig, listStacks, readStackConfig } from "../tools/plan/stack-config";

/**
 * Every stack's plan, by stack name. `settings`: project keys (without the namespace) whose object
 * values are merged over the configured ones, key by key.
 */
export async function planAll(
  settings: Readonly<Record<string, Record<string, unknown>>> = {},
): Promise<Map<string, Plan>> {
  const readConfig = (stack: string): StackConfig => {
    const cfg = readStackConfig(stack);
    const config = { ...cfg.config };
    for (const [key, value] of Object.entries(settings)) {
      const full = `${cfg.project}:${key}`;
      const current = config[full] === undefined ? {} : (JSON.parse(config[full]) as object);
      config[full] = JSON.stringify({ ...current, ...value });
    }
    return { ...cfg, config };
  };
  const plans = new Map<string, Plan>();
  for (const stack of listStacks()) {
    if (!plans.has(stack)) await planWithPeers(stack, plans, readConfig);
  }
  return plans;
}

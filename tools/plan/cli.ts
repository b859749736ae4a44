// `npm run plan -- --stack site-a [--json]`: the offline plan of a stack (and of the stack it
// references, planned first to feed its stack reference). Needs no cloud account and no Pulumi CLI.
import { parseArgs } from "node:util";
import { planWithPeers } from "./plan";
import { listStacks } from "./stack-config";
import { renderTree } from "./tree";

const USAGE =
  "usage: npm run plan -- --stack <stack> [--json]   (stacks: " + listStacks().join(", ") + ")";

async function cli(): Promise<void> {
  const { values } = parseArgs({
    options: {
      stack: { type: "string", short: "s" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.stack) throw new Error(`--stack is required; ${USAGE}`);
  const plans = await planWithPeers(values.stack);
  const plan = plans.get(values.stack)!;
  const text = values.json ? JSON.stringify(plan, null, 2) + "\n" : renderTree(plan);
  // Exit only once a pipe has taken all of it: process.exit would cut a large plan short.
  await new Promise<void>((resolve, reject) =>
    process.stdout.write(text, (err) => (err ? reject(err) : resolve())),
  );
}

cli().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`plan failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);

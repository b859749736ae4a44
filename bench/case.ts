// One benchmark case in its own process, so its peak memory is its own: plans a stack with a given
// pool size, or registers the same number of bare resources under the same mocks (the floor the
// Pulumi runtime itself sets). Prints one JSON line.
import * as pulumi from "@pulumi/pulumi";
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { planStack } from "../tools/plan/plan";
import { readStackConfig } from "../tools/plan/stack-config";

/** The cheapest registrable resource: a custom resource with no inputs and no parent but the stack. */
class Bare extends pulumi.CustomResource {
  constructor(name: string) {
    super("bench:index:Bare", name, {});
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      stack: { type: "string" },
      masters: { type: "string" },
      bare: { type: "string" },
      peers: { type: "string" },
      "save-outputs": { type: "string" },
    },
  });
  const stack = values.stack ?? "site-a";
  const cfg = readStackConfig(stack);
  const config = { ...cfg.config };
  if (values.masters) {
    const masters = JSON.parse(config[`${cfg.project}:masters`] ?? "{}") as Record<string, unknown>;
    config[`${cfg.project}:masters`] = JSON.stringify({
      ...masters,
      count: Number(values.masters),
    });
  }
  const peers = values.peers
    ? (JSON.parse(readFileSync(values.peers, "utf8")) as Record<string, Record<string, unknown>>)
    : {};
  const bare = values.bare ? Number(values.bare) : undefined;
  const program =
    bare === undefined
      ? undefined
      : () => {
          for (let i = 0; i < bare; i++) new Bare(`bare-${i}`);
          return Promise.resolve({});
        };

  // Loading the program's modules (the AWS SDK above all) is paid once per process: reported apart.
  const loadStarted = process.hrtime.bigint();
  if (bare === undefined) await import("../infra/program");
  const loadMs = Number(process.hrtime.bigint() - loadStarted) / 1e6;

  const started = process.hrtime.bigint();
  const plan = await planStack(stack, { config: { ...cfg, config }, peers, program });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (values["save-outputs"]) {
    const peerStack = `organization/${cfg.project}/${stack}`;
    writeFileSync(values["save-outputs"], JSON.stringify({ [peerStack]: plan.outputs }));
  }
  console.log(
    JSON.stringify({
      resources: plan.resources.length,
      ms: Math.round(ms),
      loadMs: Math.round(loadMs),
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    }),
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

// One mocks helper for every test: runs a program (a component, or the whole stack) under the plan's
// mocks and returns what it registered, with every input already resolved.
import { Plan, PlannedResource, planStack } from "../tools/plan/plan";
import { StackConfig, readProjectName } from "../tools/plan/stack-config";
import { parseUserData } from "./hostconfig/helpers";

export interface Run extends Plan {
  /** Resources of a type token, e.g. `aws:ec2/instance:Instance`. */
  ofType(type: string): PlannedResource[];
  /** The one resource with this logical name. */
  named(name: string): PlannedResource;
  /** Resources whose parent chain reaches the resource with this logical name. */
  under(name: string): PlannedResource[];
}

export function withQueries(plan: Plan): Run {
  const byUrn = new Map(plan.resources.map((r) => [r.urn, r]));
  return {
    ...plan,
    ofType: (type) => plan.resources.filter((r) => r.type === type),
    named(name) {
      const found = plan.resources.filter((r) => r.name === name);
      if (found.length !== 1)
        throw new Error(`expected one resource named ${name}, found ${found.length}`);
      return found[0];
    },
    under(name) {
      const root = this.named(name).urn;
      return plan.resources.filter((r) => {
        for (let p = r.parent; p; p = byUrn.get(p)?.parent ?? null) if (p === root) return true;
        return false;
      });
    },
  };
}

/** Runs `program` under mocks; what it returns becomes the outputs. */
export async function runProgram(
  program: () => unknown,
  options: {
    stack?: string;
    region?: string;
    config?: Record<string, string>;
    /** Availability zones of the region (default 4). */
    zoneCount?: number;
    /** Instance types a zone does not offer, by zone name (default none). */
    missingOfferings?: Readonly<Record<string, readonly string[]>>;
  } = {},
): Promise<Run> {
  const stack = options.stack ?? "test";
  const config: StackConfig = {
    project: readProjectName(),
    stack,
    config: { "aws:region": options.region ?? "us-east-1", ...options.config },
    secretKeys: [],
  };
  const plan = await planStack(stack, {
    config,
    zoneCount: options.zoneCount,
    missingOfferings: options.missingOfferings,
    program: async () => ((await program()) ?? {}) as Record<string, unknown>,
  });
  return withQueries(plan);
}

/** The files a cloud-config user data writes, decoded, by path. */
export function userDataFiles(userData: string): Record<string, string> {
  return Object.fromEntries(
    [...parseUserData(userData).files].map(([path, f]) => [path, f.content]),
  );
}

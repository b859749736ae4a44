// Calls the pack's policies the way the policy engine does (@pulumi/policy's server.ts): a
// resource's inputs behind the same unknown-checking proxy, its options, the policy's config, and a
// collector of violations; a stack policy gets every resource with its dependencies resolved.
import * as policySdk from "@pulumi/policy";
import type {
  PolicyResource,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationPolicy,
} from "@pulumi/policy";
import { Plan, PlannedResource } from "../../tools/plan/plan";

class NotApplicable extends Error {}

// The engine's proxy over a resource's inputs: index.js exports it, its typings leave it out.
const unknownCheckingProxy = (
  policySdk as unknown as { unknownCheckingProxy: (props: object) => Record<string, unknown> }
).unknownCheckingProxy;

export interface Outcome {
  /** False when the policy said it does not apply to the resource's type. */
  readonly applicable: boolean;
  readonly violations: string[];
}

/** A planned resource, or one changed from it, as the engine describes it to a policy. */
export type Candidate = Pick<PlannedResource, "type" | "name" | "urn" | "inputs" | "protect"> &
  Partial<PlannedResource>;

function resourceArgs(r: Candidate, config: object): ResourceValidationArgs {
  return {
    type: r.type,
    props: unknownCheckingProxy(r.inputs),
    urn: r.urn,
    name: r.name,
    opts: {
      protect: r.protect,
      ignoreChanges: r.ignoreChanges ?? [],
      aliases: r.aliases ?? [],
      customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
      additionalSecretOutputs: [],
      ...(r.parent ? { parent: r.parent } : {}),
    },
    stackTags: new Map(),
    isType: () => false,
    asType: () => undefined,
    getConfig: <T extends object>() => config as T,
    notApplicable: (reason?: string) => {
      throw new NotApplicable(reason);
    },
  };
}

/** Runs every validation of a resource policy on one resource, with the policy's config. */
export async function validate(
  policy: ResourceValidationPolicy,
  resource: Candidate,
  config: object = {},
): Promise<Outcome> {
  const violations: string[] = [];
  let applicable = false;
  const validations = [policy.validateResource ?? []].flat();
  for (const validation of validations) {
    try {
      await validation(resourceArgs(resource, config), (message) => violations.push(message));
      applicable = true;
    } catch (err) {
      if (!(err instanceof NotApplicable)) throw err;
    }
  }
  return { applicable, violations };
}

/** A plan's resources as a stack policy sees them: parents and dependencies as resources. */
function stackResources(plan: Plan): PolicyResource[] {
  const byUrn = new Map<string, PolicyResource>();
  for (const r of plan.resources) {
    byUrn.set(r.urn, {
      type: r.type,
      props: r.inputs,
      urn: r.urn,
      name: r.name,
      opts: resourceArgs(r, {}).opts,
      // The engine gives custom resources their provider, components none.
      ...(r.custom
        ? { provider: { type: "pulumi:providers:x", props: {}, urn: "", name: "" } }
        : {}),
      dependencies: [],
      propertyDependencies: {},
      isType: () => false,
      asType: () => undefined,
    });
  }
  for (const r of plan.resources) {
    const resource = byUrn.get(r.urn)!;
    const known = (urns: string[]) => urns.flatMap((u) => byUrn.get(u) ?? []);
    resource.dependencies = known(r.dependencies);
    for (const [key, urns] of Object.entries(r.propertyDependencies))
      resource.propertyDependencies[key] = known(urns);
    if (r.parent && byUrn.has(r.parent)) resource.parent = byUrn.get(r.parent);
  }
  return [...byUrn.values()];
}

/** Runs a stack policy over a plan; the violations carry the URN they name. */
export async function validateStack(
  policy: StackValidationPolicy,
  plan: Plan,
): Promise<{ message: string; urn?: string }[]> {
  const violations: { message: string; urn?: string }[] = [];
  await policy.validateStack(
    {
      resources: stackResources(plan),
      stackTags: new Map(),
      getConfig: <T extends object>() => ({}) as T,
      notApplicable: (reason?: string) => {
        throw new NotApplicable(reason);
      },
    },
    (message, urn) => violations.push({ message, urn }),
  );
  return violations;
}

/** A planned resource with some inputs replaced (`undefined` removes one), protect as given. */
export function broken(
  r: PlannedResource,
  inputs: Record<string, unknown>,
  protect = r.protect,
): Candidate {
  const merged: Record<string, unknown> = { ...r.inputs, ...inputs };
  for (const [k, v] of Object.entries(inputs)) if (v === undefined) delete merged[k];
  return { ...r, inputs: merged, protect };
}

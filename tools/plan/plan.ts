// The offline plan: runs the program for one stack under mocks, with that stack's config, and records
// every resource it registers (type, name, parent, dependencies, inputs) and the stack's outputs.
// Secrets are replaced by "[secret]". A secondary's stack reference is fed the planned outputs of the
// stack it names, planned first.
import * as pulumi from "@pulumi/pulumi";
import { PlanMocks } from "./mocks";
import { StackConfig, readStackConfig } from "./stack-config";
import { AliasSpec, aliasUrn, makeUrn } from "./urn";

export const SECRET = "[secret]";

export interface PlannedResource {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  readonly parent: string | null;
  readonly dependencies: string[];
  readonly inputs: Record<string, unknown>;
  /** The ID and the outputs the provider adds to the inputs (the mocks' stand-ins). */
  readonly id: string | null;
  readonly outputs: Record<string, unknown>;
  readonly protect: boolean;
  readonly custom: boolean;
  readonly provider: string | null;
  /** Earlier URNs of this resource (its `aliases` option), resolved. */
  readonly aliases: string[];
  readonly ignoreChanges: string[];
  readonly replaceOnChanges: string[];
  readonly deleteBeforeReplace: boolean;
  /** Left in the cloud when Pulumi deletes it (absent in plans made before it was recorded). */
  readonly retainOnDelete?: boolean;
  /** Input property -> the URNs of the resources its value comes from. */
  readonly propertyDependencies: Record<string, string[]>;
}

export interface Plan {
  readonly stack: string;
  readonly resources: PlannedResource[];
  readonly outputs: Record<string, unknown>;
  /**
   * The tokens of the functions the program called (data sources), each once, sorted; absent in a
   * plan read back from JSON.
   */
  readonly calls?: readonly string[];
}

/** A plan that failed, with what had been registered by then (a bad config: nothing but the stack). */
export class PlanError extends Error {
  constructor(
    readonly cause: unknown,
    readonly resources: readonly PlannedResource[],
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = "PlanError";
  }
}

export interface PlanOptions {
  /** The program to plan; defaults to the real one (imported after the mocks are set). */
  readonly program?: () => Promise<Record<string, unknown>>;
  /** Config to use instead of reading the stack's files. */
  readonly config?: StackConfig;
  /** Planned outputs of other stacks, by the name a StackReference uses. */
  readonly peers?: Readonly<Record<string, Record<string, unknown>>>;
  /** Availability zones every region answers with. Default 4 (a, b, c, d). */
  readonly zoneCount?: number;
  /** Instance types a zone does not offer, by zone name. Default: every zone offers every type. */
  readonly missingOfferings?: Readonly<Record<string, readonly string[]>>;
}

const SIG = pulumi.runtime.specialSigKey;

/** Replaces secrets with "[secret]" and resource references with their URN, recursively. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    if (obj[SIG] === pulumi.runtime.specialSecretSig) return SECRET;
    if (obj[SIG] === pulumi.runtime.specialResourceSig) return obj.urn;
    if (obj[SIG] === pulumi.runtime.specialOutputValueSig) {
      return obj.secret ? SECRET : redact(obj.value);
    }
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, redact(v)]));
  }
  return value;
}

/** Plans one stack. The Pulumi runtime is global: plans run one after the other, never interleaved. */
export async function planStack(stack: string, options: PlanOptions = {}): Promise<Plan> {
  const cfg = options.config ?? readStackConfig(stack);
  const region = cfg.config["aws:region"] ?? "us-east-1";
  const mocks = new PlanMocks(region, options.peers, options.zoneCount, options.missingOfferings);
  const resources: PlannedResource[] = [];

  await pulumi.runtime.setMocks(mocks, cfg.project, cfg.stack, false);
  pulumi.runtime.setAllConfig(cfg.config, cfg.secretKeys);
  const monitor = pulumi.runtime.getMonitor() as unknown as MonitorLike;
  // The mock monitor qualifies a URN with the parent's own type only; the engine uses the whole chain
  // of parent types. Plans carry the engine's URNs, so that diffs and aliases match what Pulumi does.
  monitor.newUrn = (parent, type, name) =>
    makeUrn(cfg.stack, cfg.project, parent || null, type, name);
  const register = monitor.registerResource.bind(monitor);
  const read = monitor.readResource.bind(monitor);
  const registerOutputs = monitor.registerResourceOutputs.bind(monitor);
  let stackOutputs: Record<string, unknown> = {};
  // The stack's outputs as the engine receives them: serialized, so secrets are still marked.
  monitor.registerResourceOutputs = (req, callback) => {
    if (req.getUrn().includes("::pulumi:pulumi:Stack::")) {
      const outputs = req.getOutputs();
      stackOutputs = outputs
        ? (redact(pulumi.runtime.deserializeProperties(outputs)) as Record<string, unknown>)
        : {};
    }
    registerOutputs(req, callback);
  };
  monitor.registerResource = (req, callback) =>
    register(req, (err, resp) => {
      if (!err && resp) resources.push(record(req, resp));
      callback(err, resp);
    });
  monitor.readResource = (req, callback) =>
    read(req, (err, resp) => {
      if (!err && resp) resources.push(record(req, resp, true));
      callback(err, resp);
    });

  const failures: unknown[] = [];
  // An error inside an `apply` (a resource error found once a value is known) rejects only that
  // Output: the resources waiting on it never register and the runtime never drains. The engine ends
  // the program at the first unhandled rejection; so does the plan.
  let failed: (reason: unknown) => void = () => undefined;
  const firstFailure = new Promise<never>((_, reject) => (failed = reject));
  firstFailure.catch(() => undefined);
  const onRejection = (reason: unknown) => {
    failures.push(reason);
    failed(reason);
  };
  process.on("unhandledRejection", onRejection);
  // The SDK records a stack trace for every promise it makes, to report leaks and source positions
  // to the engine; offline nothing reads them, and they are most of a plan's time. Errors keep their
  // messages. PUPPET_PLAN_STACK_TRACES=1 keeps the traces for debugging the program.
  const stackTraceLimit = Error.stackTraceLimit;
  if (!process.env.PUPPET_PLAN_STACK_TRACES) Error.stackTraceLimit = 0;
  try {
    const program = options.program ?? (await import("../../infra/program")).main;
    // An error thrown by the program is caught here rather than inside the stack resource, where it
    // would also surface as an unhandled rejection; it is rethrown once the runtime is drained.
    let programError: unknown;
    await Promise.race([
      pulumi.runtime
        .runInPulumiStack(() =>
          program().catch((err: unknown) => {
            programError = err;
            return {};
          }),
        )
        .then(() => pulumi.runtime.disconnect()),
      firstFailure,
    ]).catch((err: unknown) => {
      // The first unhandled rejection is in `failures` already; anything else is the runtime's own.
      if (!failures.includes(err)) failures.push(err);
    });
    // A value that fails to serialize (an error thrown in an `apply` that feeds a property) rejects
    // after the runtime has counted the resource out: let such rejections surface before judging.
    await new Promise((resolve) => setTimeout(resolve, 0));
    const failure = programError ?? failures[0];
    if (failure !== undefined) throw new PlanError(failure, resources);
    return { stack, resources, outputs: stackOutputs, calls: [...new Set(mocks.calls)].sort() };
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
    process.off("unhandledRejection", onRejection);
  }
}

/**
 * Plans a stack and, first, the stacks it references through `peerStack` (by the last path part),
 * each with the configuration `readConfig` gives (by default its files).
 */
export async function planWithPeers(
  stack: string,
  planned = new Map<string, Plan>(),
  readConfig: (stack: string) => StackConfig = readStackConfig,
): Promise<Map<string, Plan>> {
  const cfg = readConfig(stack);
  const peerStack = cfg.config[`${cfg.project}:peerStack`];
  const peers: Record<string, Record<string, unknown>> = {};
  if (peerStack !== undefined) {
    const local = peerStack.split("/").pop()!;
    if (local === stack)
      throw new Error(`stack ${stack}: peerStack ${peerStack} names the stack itself`);
    if (!planned.has(local)) await planWithPeers(local, planned, readConfig);
    peers[peerStack] = planned.get(local)!.outputs;
  }
  planned.set(stack, await planStack(stack, { config: cfg, peers }));
  return planned;
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom?(): boolean;
  getProtect?(): boolean;
  getProvider(): string;
  getDependenciesList?(): string[];
  getObject?(): unknown;
  getProperties?(): unknown;
  getAliasesList?(): AliasProto[];
  getIgnorechangesList?(): string[];
  getAdditionalsecretoutputsList?(): string[];
  getReplaceonchangesList?(): string[];
  getDeletebeforereplace?(): boolean;
  getRetainondelete?(): boolean | undefined;
  getPropertydependenciesMap?(): {
    forEach(fn: (value: { getUrnsList(): string[] }, key: string) => void): void;
  };
}
interface AliasProto {
  getUrn(): string;
  getSpec():
    | {
        getName(): string;
        getType(): string;
        getStack(): string;
        getProject(): string;
        getParenturn(): string;
        getNoparent(): boolean;
      }
    | undefined;
}

function aliasSpec(alias: AliasProto): AliasSpec {
  const spec = alias.getSpec();
  if (alias.getUrn() || !spec) return { urn: alias.getUrn() };
  return {
    name: spec.getName(),
    type: spec.getType(),
    stack: spec.getStack(),
    project: spec.getProject(),
    parent: spec.getNoparent() ? null : spec.getParenturn() || undefined,
  };
}
interface RegisterResponse {
  getUrn(): string;
  getId?(): string;
  getObject?(): unknown;
  getProperties?(): unknown;
}
interface MonitorLike {
  newUrn(parent: string, type: string, name: string): string;
  registerResource(req: RegisterRequest, cb: (err: unknown, resp?: RegisterResponse) => void): void;
  readResource(req: RegisterRequest, cb: (err: unknown, resp?: RegisterResponse) => void): void;
  registerResourceOutputs(
    req: { getUrn(): string; getOutputs(): Struct | undefined },
    cb: (err: unknown) => void,
  ): void;
}
type Struct = Parameters<typeof pulumi.runtime.deserializeProperties>[0];

function record(req: RegisterRequest, resp: RegisterResponse, read = false): PlannedResource {
  const urn = resp.getUrn();
  const struct = (read ? req.getProperties?.() : req.getObject?.()) as Struct | undefined;
  const inputs = (struct ? pulumi.runtime.deserializeProperties(struct) : {}) as Record<
    string,
    unknown
  >;
  // What the provider adds to the inputs; the outputs the SDK marks secret (a password's result, a
  // key's PEM) are marked here too, for the monitor's answer does not carry that.
  const stateStruct = (read ? resp.getProperties?.() : resp.getObject?.()) as Struct | undefined;
  const state = Object.entries(
    (stateStruct ? pulumi.runtime.deserializeProperties(stateStruct) : {}) as Record<
      string,
      unknown
    >,
  ).filter(([k]) => !(k in inputs));
  const secretOutputs = new Set(req.getAdditionalsecretoutputsList?.() ?? []);
  const parent = req.getParent() || null;
  const propertyDependencies: Record<string, string[]> = {};
  req.getPropertydependenciesMap?.().forEach((deps, key) => {
    const urns = [...new Set(deps.getUrnsList())].sort();
    if (urns.length > 0) propertyDependencies[key] = urns;
  });
  return {
    urn,
    type: req.getType(),
    name: req.getName(),
    parent,
    dependencies: [...new Set(req.getDependenciesList?.() ?? [])].sort(),
    inputs: redact(inputs) as Record<string, unknown>,
    id: resp.getId?.() || null,
    outputs: redact(
      Object.fromEntries(state.map(([k, v]) => [k, secretOutputs.has(k) ? SECRET : v])),
    ) as Record<string, unknown>,
    protect: req.getProtect?.() ?? false,
    custom: req.getCustom?.() ?? true,
    provider: req.getProvider() || null,
    aliases: (req.getAliasesList?.() ?? []).map((a) => aliasUrn(aliasSpec(a), urn, parent)),
    ignoreChanges: req.getIgnorechangesList?.() ?? [],
    replaceOnChanges: req.getReplaceonchangesList?.() ?? [],
    deleteBeforeReplace: req.getDeletebeforereplace?.() ?? false,
    retainOnDelete: req.getRetainondelete?.() ?? false,
    propertyDependencies,
  };
}

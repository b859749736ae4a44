// What one agent run applied, from the agent's own last_run_report.yaml: every resource of the
// catalog with its events, so a scenario can tell which types a catalog held and which values its
// notify resources carried.
import { existsSync, readFileSync } from "node:fs";
import { parse } from "yaml";
import { AgentRun } from "./agents";
import { ExecHost, hostPath } from "./host";

export interface ResourceStatus {
  readonly resource_type?: string;
  readonly failed?: boolean;
  readonly changed?: boolean;
  readonly events?: readonly { property?: string; desired_value?: unknown; status?: string }[];
}

export interface RunDetails {
  readonly configVersion?: string;
  /** Keyed `Type[title]`, as the report has them. */
  readonly statuses: ReadonlyMap<string, ResourceStatus>;
}

/**
 * The report of `run`, or undefined when the run left none of its own (runAgent only fills in the
 * transaction UUID from a report the run wrote). Ruby tags are read as plain maps.
 */
export function runDetails(host: ExecHost, run: AgentRun): RunDetails | undefined {
  const path = hostPath(host, "/var/cache/puppet/state/last_run_report.yaml");
  if (run.transactionUuid === undefined || !existsSync(path)) return undefined;
  const doc = parse(readFileSync(path, "utf8"), { logLevel: "silent" }) as {
    transaction_uuid?: string;
    configuration_version?: string;
    resource_statuses?: Record<string, ResourceStatus>;
  } | null;
  if (doc?.transaction_uuid !== run.transactionUuid) return undefined;
  return {
    configVersion: doc.configuration_version,
    statuses: new Map(Object.entries(doc.resource_statuses ?? {})),
  };
}

/** The message a notify resource printed in the run, if the catalog had it. */
export function notifyMessage(details: RunDetails, title: string): string | undefined {
  const events = details.statuses.get(`Notify[${title}]`)?.events ?? [];
  const value = events.find((e) => e.property === "message")?.desired_value;
  // YAML reads a message of digits as a number.
  return typeof value === "string" || typeof value === "number" ? String(value) : undefined;
}

/** `Type[title]` keys of the run's resources of `type`. */
export function resourcesOf(details: RunDetails, type: string): string[] {
  return [...details.statuses.keys()].filter((k) => k.startsWith(`${type}[`));
}

/** `Type[title]` keys of the resources that failed in the run. */
export function failedResources(details: RunDetails): string[] {
  return [...details.statuses].filter(([, s]) => s.failed === true).map(([k]) => k);
}

// A stack's configuration with settings changed, as a `pulumi config set` would leave it: what the
// tests plan variants of the deployment with, and what the lab plans a later `pulumi up` with.
import { StackConfig, readStackConfig } from "./stack-config";

/** Settings (keys without the project's namespace) and their new values. */
export type ConfigEdit = Readonly<Record<string, unknown>>;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Merges `overrides` into `base`: plain objects merge key by key (so `{ masters: { count: 0 } }` keeps
 * the other master settings), anything else replaces, and `undefined` removes the key.
 */
export function mergeSettings(base: ConfigEdit, overrides: ConfigEdit): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete out[key];
    else if (isPlainObject(value) && isPlainObject(out[key])) {
      out[key] = mergeSettings(out[key], value);
    } else out[key] = value;
  }
  return out;
}

/** A configuration value as the CLI passes it: JSON for objects and lists, else the text. */
function jsonOrText(value: string | undefined): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/**
 * Reads a stack's configuration (`read`, the stack files by default) with `edit(stack)` merged over
 * it, setting by setting (mergeSettings).
 */
export function editedConfig(
  edit: (stack: string) => ConfigEdit | undefined,
  read: (stack: string) => StackConfig = readStackConfig,
): (stack: string) => StackConfig {
  return (stack) => {
    const cfg = read(stack);
    const config = { ...cfg.config };
    for (const [key, value] of Object.entries(edit(stack) ?? {})) {
      const full = `${cfg.project}:${key}`;
      const merged = mergeSettings({ value: jsonOrText(config[full]) }, { value }).value;
      config[full] = typeof merged === "string" ? merged : JSON.stringify(merged);
    }
    return { ...cfg, config };
  };
}

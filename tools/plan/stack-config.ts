// Reads a stack's configuration the way the Pulumi CLI hands it to a program: project-level values
// from Pulumi.yaml, overridden by Pulumi.<stack>.yaml, flattened to `namespace:key` -> string (objects
// as JSON). Lets the offline plan, the tests and the lab run the program without the CLI.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

export interface StackConfig {
  readonly project: string;
  readonly stack: string;
  /** `namespace:key` -> value as the CLI passes it (strings; objects and lists as JSON). */
  readonly config: Record<string, string>;
  /** Keys whose values are secure (encrypted in the stack file): never decrypted here. */
  readonly secretKeys: string[];
}

/** The directory holding Pulumi.yaml: the repository root. */
export const PROJECT_DIR = join(__dirname, "..", "..");

export function readProjectName(dir = PROJECT_DIR): string {
  const project = parse(readFileSync(join(dir, "Pulumi.yaml"), "utf8")) as { name?: unknown };
  if (typeof project.name !== "string")
    throw new Error(`${join(dir, "Pulumi.yaml")}: no project name`);
  return project.name;
}

/** The stacks that have a Pulumi.<stack>.yaml, sorted. */
export function listStacks(dir = PROJECT_DIR): string[] {
  return readdirSync(dir)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();
}

export function readStackConfig(stack: string, dir = PROJECT_DIR): StackConfig {
  const project = readProjectName(dir);
  const projectFile = parse(readFileSync(join(dir, "Pulumi.yaml"), "utf8")) as {
    config?: Record<string, unknown>;
  };
  const stackPath = join(dir, `Pulumi.${stack}.yaml`);
  if (!existsSync(stackPath)) {
    throw new Error(
      `stack ${stack}: no ${stackPath}; the stacks are: ${listStacks(dir).join(", ")}`,
    );
  }
  const stackFile = (parse(readFileSync(stackPath, "utf8")) ?? {}) as {
    config?: Record<string, unknown>;
  };
  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  const put = (key: string, value: unknown) => {
    const full = key.includes(":") ? key : `${project}:${key}`;
    if (isSecure(value)) {
      secretKeys.push(full);
      config[full] = "[secret]";
    } else {
      config[full] = typeof value === "string" ? value : JSON.stringify(value);
    }
  };
  for (const [key, value] of Object.entries(projectFile.config ?? {})) {
    // Project-level entries are either a plain value or a declaration with `value` or `default`.
    const declared = isDeclaration(value) ? (value.value ?? value.default) : value;
    if (declared !== undefined) put(key, declared);
  }
  for (const [key, value] of Object.entries(stackFile.config ?? {})) put(key, value);
  return { project, stack, config, secretKeys };
}

function isSecure(value: unknown): boolean {
  return typeof value === "object" && value !== null && "secure" in value;
}

function isDeclaration(value: unknown): value is { value?: unknown; default?: unknown } {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.keys(value).some((k) =>
      ["type", "description", "default", "value", "secret"].includes(k),
    ) &&
    Object.keys(value).every((k) =>
      ["type", "description", "default", "value", "secret", "items"].includes(k),
    )
  );
}

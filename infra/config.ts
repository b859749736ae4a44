// The only module that reads `pulumi.Config`: collects this stack's raw values and hands them to the
// pure validation in `settings.ts`, so a bad value stops the program before any resource exists.
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, RawConfig, Settings, parseSettings } from "./settings";

/** Keys whose values are structured (YAML maps or lists in the stack files). */
const OBJECT_KEYS = ["sites", "masters", "database", "controlRepo"] as const;
/** Keys whose values are plain strings, numbers or booleans. */
const SCALAR_KEYS = [
  "domain",
  "siteName",
  "primarySite",
  "peerStack",
  "availabilityZoneCount",
  "caInstanceType",
  "puppetdbInstanceType",
  "protectStateful",
  "amiId",
  "imageParameter",
] as const;

export const CONFIG_KEYS: readonly string[] = [...OBJECT_KEYS, ...SCALAR_KEYS];

/** Reads and validates this stack's settings. */
export function loadSettings(): Settings {
  const project = pulumi.getProject();
  const config = new pulumi.Config(project);
  const namespace = `${project}:`;
  for (const fullKey of Object.keys(pulumi.runtime.allConfig())) {
    const key = fullKey.startsWith(namespace) ? fullKey.slice(namespace.length) : undefined;
    if (key !== undefined && !CONFIG_KEYS.includes(key)) {
      throw new ConfigError(
        fullKey,
        "(set)",
        `unknown key; the keys are: ${CONFIG_KEYS.join(", ")}`,
      );
    }
  }
  const raw: Record<string, unknown> = {};
  for (const key of OBJECT_KEYS) raw[key] = config.getObject<unknown>(key);
  for (const key of SCALAR_KEYS) raw[key] = config.get(key);
  return parseSettings(raw satisfies RawConfig, {
    project,
    stack: pulumi.getStack(),
    awsRegion: new pulumi.Config("aws").get("region"),
  });
}

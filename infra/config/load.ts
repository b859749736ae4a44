// The only module that reads `pulumi.Config`: collects this stack's raw values and hands them to
// `parse.ts`, so a bad value stops the program before any resource exists.
import * as pulumi from "@pulumi/pulumi";
import { parseSettings } from "./parse";
import { Settings } from "./types";

/** Reads and validates this stack's settings. */
export function loadSettings(): Settings {
  const project = pulumi.getProject();
  const config = new pulumi.Config(project);
  const namespace = `${project}:`;
  const raw: Record<string, unknown> = {};
  for (const fullKey of Object.keys(pulumi.runtime.allConfig())) {
    if (!fullKey.startsWith(namespace)) continue;
    const key = fullKey.slice(namespace.length);
    // Structured values arrive as their JSON text; the parser reads both forms.
    raw[key] = config.get(key);
  }
  return parseSettings(raw, {
    project,
    stack: pulumi.getStack(),
    awsRegion: new pulumi.Config("aws").get("region"),
  });
}

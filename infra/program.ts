// The Pulumi program: one site per stack. Settings are validated and, on a secondary, the primary's
// outputs are read and checked, all before the first resource is created.
import { Site } from "./components/site";
import { loadSettings } from "./config";
import { readPrimary } from "./peer";

export async function main(): Promise<Record<string, unknown>> {
  const settings = loadSettings();
  const primary =
    settings.role === "secondary" && settings.peerStack !== undefined
      ? await readPrimary(settings.peerStack, settings.failoverSite === settings.site)
      : undefined;
  const site = new Site(settings.site.name, { settings, primary });
  return site.outputs;
}

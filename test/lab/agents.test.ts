import { describe, expect, it } from "vitest";
import { readRunReport } from "../../lab/agents";

const report = (version: string) => `--- !ruby/object:Puppet::Transaction::Report
host: agent-1.site-a.puppet.example.internal
configuration_version: ${version}
server_used: master-1.site-a.puppet.example.internal:8140
logs:
- !ruby/object:Puppet::Util::Log
  level: !ruby/sym notice
  message: Applied catalog
`;

describe("readRunReport", () => {
  it.each([
    ["'0485a6e1862e (production)'", "0485a6e1862e (production)"],
    ['"ff55b7c00e06 (production)"', "ff55b7c00e06 (production)"],
    ["ff55b7c00e06 (production)", "ff55b7c00e06 (production)"],
  ])("reads configuration_version written as %s", (written, version) => {
    expect(readRunReport(report(written))).toEqual({
      master: "master-1.site-a.puppet.example.internal:8140",
      configVersion: version,
    });
  });

  it("reads nothing from an empty report (the run wrote none)", () => {
    expect(readRunReport("")).toEqual({ master: undefined, configVersion: undefined });
  });
});

import { describe, expect, it } from "vitest";
import { renderAgentConfig } from "../../infra/hostconfig";
import { agentPuppetConf, readRunReport } from "../../lab/agents";

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

describe("agentPuppetConf", () => {
  it("sets the lab's settings in place of the site's, each once (Puppet keeps a setting's first value)", () => {
    const site = renderAgentConfig({
      site: "site-a",
      domain: "puppet.example.internal",
      serverList: ["pool.site-a.puppet.example.internal"],
      caServer: "ca.puppet.example.internal",
      crlRefreshMinutes: 5,
    });
    const conf = agentPuppetConf(site, {
      certname: "agent-1.site-a.puppet.example.internal",
      crl_refresh_interval: "10s",
    });
    expect(conf.match(/^crl_refresh_interval = .*$/gm)).toEqual(["crl_refresh_interval = 10s"]);
    expect(conf).toContain("certname = agent-1.site-a.puppet.example.internal\n");
    expect(conf).toContain("use_srv_records = true\n");
    expect(conf).toContain("server_list = pool.site-a.puppet.example.internal:8140\n");
  });
});

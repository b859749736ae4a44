import { describe, expect, it } from "vitest";
import { renderAgentConfig } from "../../infra/hostconfig";
import { renderEnvFile } from "../../infra/hostconfig/envfile";
import { renderIni } from "../../infra/hostconfig/ini";
import { agentSite } from "./fixtures";
import { iniDoc } from "./helpers";

describe("renderIni", () => {
  it("writes values verbatim, lists comma-joined, and leaves undefined settings out", () => {
    const text = renderIni([
      ["main", { a: "x;y #z", list: ["p", "q"], flag: true, none: undefined }],
    ]);
    expect(text).toBe("[main]\na = x;y #z\nlist = p,q\nflag = true\n");
  });

  it("fails on a value Puppet would misread", () => {
    expect(() => renderIni([["main", { a: "one\ntwo" }]])).toThrow(
      /value of a contains a line break/,
    );
    expect(() => renderIni([["main", { a: " padded" }]])).toThrow(/leading or trailing whitespace/);
    expect(() => renderIni([["main", { "bad key": "v" }]])).toThrow(/INI key must match/);
    expect(() => renderIni([["ma]in", {}]])).toThrow(/INI section name must match/);
  });
});

describe("renderEnvFile", () => {
  it("single-quotes values so nothing is expanded", () => {
    expect(renderEnvFile({ A: "it's $HOME", B: 5, C: undefined })).toBe(
      "A='it'\\''s $HOME'\nB='5'\n",
    );
  });

  it("fails on a multi-line value or a bad name", () => {
    expect(() => renderEnvFile({ A: "x\ny" })).toThrow(/value of A must be one line/);
    expect(() => renderEnvFile({ "a-b": "x" })).toThrow(/name must match/);
  });
});

describe("renderAgentConfig", () => {
  it("uses the site's SRV domain, pools as fallback and no static server", () => {
    const main = iniDoc(renderAgentConfig(agentSite("site-a"))).main;
    expect(main).toEqual({
      use_srv_records: true,
      srv_domain: "site-a.puppet.example.internal",
      server_list:
        "pool.site-a.puppet.example.internal:8140,pool.site-b.puppet.example.internal:8140",
      ca_server: "ca.puppet.example.internal",
      crl_refresh_interval: "5m",
      http_connect_timeout: "1s",
      http_keepalive_timeout: "0",
    });
  });

  it("fails when a site has no fallback server", () => {
    expect(() => renderAgentConfig({ ...agentSite("site-b"), serverList: [] })).toThrow(
      /serverList of site site-b is empty/,
    );
  });
});

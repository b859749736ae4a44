// auth-conf.rb run for real on Debian's auth.conf: a master's two admin-API rules first, for its own
// certificate and DELETE only; a CA's three status rules for the deployment's CAs; every rule of
// the package kept as it is, and a second run a no-op.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { describe, expect } from "vitest";
import { SCRIPTS_DIR } from "../../infra/hostconfig";
import { itWithTools, run } from "./helpers";

const DEBIAN_AUTH_CONF = "/etc/puppet/puppetserver/conf.d/auth.conf";
const CERTNAME = "master-1.site-a.puppet.example.internal";
const TOOLS = ["ruby", "puppetserver"];

interface Rule {
  readonly "match-request": { path: string; type: string; method?: string | string[] };
  readonly allow?: unknown;
  readonly deny?: unknown;
  readonly "sort-order": number;
  readonly name: string;
}

/** The rules of a HOCON auth.conf, read by the library Puppet Server uses (Ruby's port of it). */
function rules(path: string): Rule[] {
  const r = run("ruby", [
    "-rjson",
    "-rhocon",
    "-e",
    'puts JSON.generate(Hocon.load(ARGV[0])["authorization"]["rules"])',
    path,
  ]);
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as Rule[];
}

function authConf(certname = CERTNAME) {
  const dir = mkdtempSync(join(tmpdir(), "pm-auth-"));
  const path = join(dir, "auth.conf");
  copyFileSync(DEBIAN_AUTH_CONF, path);
  const apply = (name = certname) =>
    run("ruby", [join(SCRIPTS_DIR, "auth-conf.rb"), path, "admin", name]).status;
  const applyCa = (...names: string[]) =>
    run("ruby", [join(SCRIPTS_DIR, "auth-conf.rb"), path, "ca", ...names]).status;
  return { path, apply, applyCa };
}

describe("auth-conf.rb", () => {
  itWithTools(
    TOOLS,
    "lets only the master itself DELETE its environment cache and JRuby pool",
    () => {
      const { path, apply } = authConf();
      expect(apply()).toBe(0);
      const all = rules(path);
      expect(all.slice(0, 2)).toEqual(
        ["environment-cache", "jruby-pool"].map((endpoint) => ({
          "match-request": {
            path: `/puppet-admin-api/v1/${endpoint}`,
            type: "path",
            method: "delete",
          },
          allow: CERTNAME,
          // Before every rule of the package (500) and its "deny all" (999): the first match decides.
          "sort-order": 200,
          name: `puppet-multisite ${endpoint} flush`,
        })),
      );
      expect(all.slice(2)).toEqual(rules(DEBIAN_AUTH_CONF));
      expect(all.at(-1)?.name).toBe("puppetlabs deny all");
    },
  );

  itWithTools(TOOLS, "changes nothing when run again, and follows a new certname", () => {
    const { path, apply } = authConf();
    expect(apply()).toBe(0);
    const once = readFileSync(path, "utf8");
    expect(apply()).toBe(3);
    expect(readFileSync(path, "utf8")).toBe(once);
    expect(apply("master-9.site-a.puppet.example.internal")).toBe(0);
    const renamed = rules(path);
    expect(
      renamed.filter((r) => r.name.startsWith("puppet-multisite ")).map((r) => r.allow),
    ).toEqual([
      "master-9.site-a.puppet.example.internal",
      "master-9.site-a.puppet.example.internal",
    ]);
    expect(renamed).toHaveLength(rules(DEBIAN_AUTH_CONF).length + 2);
  });

  itWithTools(
    TOOLS,
    "lets the deployment's CAs, and pp_cli_auth as before, read and change certificates' statuses",
    () => {
      const { path, applyCa } = authConf();
      const cas = ["ca.puppet.example.internal", "ca.site-b.puppet.example.internal"];
      expect(applyCa(...cas)).toBe(0);
      const all = rules(path);
      const allow = [...cas, { extensions: { pp_cli_auth: "true" } }];
      expect(all.slice(0, 3)).toEqual([
        {
          "match-request": {
            path: "/puppet-ca/v1/certificate_statuses",
            type: "path",
            method: "get",
          },
          allow,
          "sort-order": 200,
          name: "puppet-multisite CA statuses",
        },
        {
          "match-request": {
            path: "/puppet-ca/v1/certificate_status",
            type: "path",
            method: ["get", "put", "delete"],
          },
          allow,
          "sort-order": 200,
          name: "puppet-multisite CA status",
        },
        {
          "match-request": { path: "/puppet-ca/v1/clean", type: "path", method: "put" },
          allow,
          "sort-order": 200,
          name: "puppet-multisite CA clean",
        },
      ]);
      // The package's own rules for those paths, for pp_cli_auth, stay behind ours.
      expect(all.slice(3)).toEqual(rules(DEBIAN_AUTH_CONF));
      expect(applyCa(...cas)).toBe(3);
    },
  );

  itWithTools(TOOLS, "refuses a kind it does not know, or no certname", () => {
    const { path } = authConf();
    const before = readFileSync(path, "utf8");
    for (const args of [["agents", CERTNAME], ["ca"], ["admin"]]) {
      expect(run("ruby", [join(SCRIPTS_DIR, "auth-conf.rb"), path, ...args]).status).not.toBe(0);
    }
    expect(readFileSync(path, "utf8")).toBe(before);
  });

  itWithTools(TOOLS, "fails without writing on a file that is not HOCON", () => {
    const { path, apply } = authConf();
    writeFileSync(path, "authorization: { rules: [ \n");
    expect(apply()).not.toBe(0);
    expect(readFileSync(path, "utf8")).toBe("authorization: { rules: [ \n");
  });
});

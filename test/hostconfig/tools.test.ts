// The rendered files checked by the real Debian tools: cloud-init's schema, Puppet's own settings
// parser, shellcheck. In CI a missing tool fails these tests (see helpers.itWithTools).
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { basename, join, relative } from "path";
import { describe, expect, it } from "vitest";
import {
  ALL_SCRIPTS,
  SCRIPTS_DIR,
  encodeUserData,
  renderAgentConfig,
  renderUserData,
} from "../../infra/hostconfig";
import { CA_DIR, SSL_DIR } from "../../infra/hostconfig/paths";
import { shipScript } from "../../infra/hostconfig/scripts";
import { ALL_HOSTS, CA, agentSite, caHost, masterHost, puppetdbHost } from "./fixtures";
import { fileOf, itWithTools, parseUserData, run } from "./helpers";

const work = mkdtempSync(join(tmpdir(), "pm-tools-"));

function writeTemp(name: string, content: string): string {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
}

/** `puppet config print` of several settings, parsed into a map. */
function puppetPrint(
  configFile: string,
  section: string,
  settings: string[],
): Record<string, string> {
  const confdir = mkdtempSync(join(work, "confdir-"));
  const r = run("puppet", [
    "config",
    "print",
    "--confdir",
    confdir,
    "--config",
    configFile,
    "--section",
    section,
    ...settings,
  ]);
  expect(r.status, r.stderr).toBe(0);
  return Object.fromEntries(
    r.stdout
      .trim()
      .split("\n")
      .map((line) => {
        const i = line.indexOf(" = ");
        return [line.slice(0, i), line.slice(i + 3)];
      }),
  );
}

describe("cloud-init schema", () => {
  for (const host of ALL_HOSTS) {
    itWithTools(["cloud-init"], `accepts the user data of ${host.certname}`, () => {
      const file = writeTemp(`${host.certname}.yaml`, renderUserData(host));
      const r = run("cloud-init", ["schema", "--config-file", file]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Valid (cloud-config|schema)/);
    });
  }
});

describe("gzipped user data as cloud-init reads it", () => {
  itWithTools(["cloud-init"], "cloud-init's own reader gives back the document", () => {
    const text = renderUserData(caHost);
    const file = writeTemp("ca.userdata.gz", "");
    writeFileSync(file, Buffer.from(encodeUserData(text), "base64"));
    // What cloud-init 22.4 does with the bytes EC2 hands it (cloudinit/user_data.py), run by the
    // interpreter cloud-init itself runs under.
    const cloudInit = run("sh", ["-c", "command -v cloud-init"]).stdout.trim();
    const python = readFileSync(cloudInit, "utf8")
      .split("\n")[0]
      .replace(/^#!\s*/, "");
    const r = run(python, [
      "-c",
      "import sys; from cloudinit.user_data import convert_string; " +
        "m = convert_string(open(sys.argv[1], 'rb').read()); " +
        "sys.stdout.write(m.get_payload(decode=True).decode())",
      file,
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(text);
  });
});

describe("puppet.conf as Puppet reads it", () => {
  itWithTools(["puppet"], "agent config of each site", () => {
    for (const site of ["site-a", "site-b"] as const) {
      const other = site === "site-a" ? "site-b" : "site-a";
      const file = writeTemp(`agent-${site}.conf`, renderAgentConfig(agentSite(site)));
      expect(
        puppetPrint(file, "main", [
          "use_srv_records",
          "srv_domain",
          "server_list",
          "ca_server",
          "http_connect_timeout",
          "http_keepalive_timeout",
          "crl_refresh_interval",
        ]),
      ).toEqual({
        use_srv_records: "true",
        srv_domain: `${site}.puppet.example.internal`,
        server_list: `pool.${site}.puppet.example.internal:8140,pool.${other}.puppet.example.internal:8140`,
        ca_server: CA,
        // Seconds: the agent fetches the CRL again at its first run 5 minutes after the last.
        crl_refresh_interval: "300",
        http_connect_timeout: "1",
        http_keepalive_timeout: "0",
      });
    }
  });

  itWithTools(["puppet"], "CA puppet.conf", () => {
    const file = writeTemp(
      "ca.conf",
      fileOf(parseUserData(renderUserData(caHost)), "/etc/puppet-multisite/puppet.conf"),
    );
    expect(
      puppetPrint(file, "server", [
        "certname",
        "ca_server",
        "autosign",
        "dns_alt_names",
        "allow_duplicate_certs",
      ]),
    ).toEqual({
      certname: CA,
      ca_server: CA,
      autosign: "/etc/puppet/puppetserver/autosign.rb",
      dns_alt_names: `${CA},ca.site-a.puppet.example.internal`,
      allow_duplicate_certs: "true",
    });
  });

  itWithTools(
    ["puppet", "bash"],
    "Debian's Puppet paths the scripts and the autosign policy assume are Puppet's own",
    () => {
      const file = writeTemp(
        "ca-paths.conf",
        fileOf(parseUserData(renderUserData(caHost)), "/etc/puppet-multisite/puppet.conf"),
      );
      // Debian's defaults for root, which runs the host scripts: confdir /etc/puppet, vardir
      // /var/lib/puppet.
      const r = run("puppet", [
        "config",
        "print",
        "--confdir",
        "/etc/puppet",
        "--vardir",
        "/var/lib/puppet",
        "--config",
        file,
        "--section",
        "server",
        "cadir",
        "ssldir",
        "environmentpath",
      ]);
      expect(r.status, r.stderr).toBe(0);
      const lib = run(
        "bash",
        [
          "-c",
          `source "${join(SCRIPTS_DIR, "lib.sh")}"; echo "environmentpath = $PUPPET_ENVIRONMENTPATH"; echo "ssldir = $PUPPET_SSLDIR"`,
        ],
        { env: { PATH: process.env.PATH } },
      );
      expect(r.stdout.trim().split("\n").sort()).toEqual(
        [`cadir = ${CA_DIR}`, ...lib.stdout.trim().split("\n")].sort(),
      );
      // The autosign policy is built on SSL_DIR and CA_DIR.
      expect(lib.stdout).toContain(`ssldir = ${SSL_DIR}\n`);
    },
  );

  itWithTools(["puppet"], "compile master puppet.conf", () => {
    const host = masterHost("site-b", 2);
    const file = writeTemp(
      "master.conf",
      fileOf(parseUserData(renderUserData(host)), "/etc/puppet-multisite/puppet.conf"),
    );
    expect(
      puppetPrint(file, "server", [
        "certname",
        "ca_server",
        "dns_alt_names",
        "storeconfigs",
        "storeconfigs_backend",
        "reports",
        "route_file",
        "http_connect_timeout",
        "http_keepalive_timeout",
        "environment_timeout",
        "versioned_environment_dirs",
      ]),
    ).toEqual({
      certname: "master-2.site-b.puppet.example.internal",
      ca_server: CA,
      dns_alt_names:
        "master-2.site-b.puppet.example.internal,pool.site-b.puppet.example.internal,puppet.puppet.example.internal",
      storeconfigs: "true",
      storeconfigs_backend: "puppetdb",
      reports: "puppetdb",
      route_file: "/etc/puppet/routes.yaml",
      http_connect_timeout: "1",
      http_keepalive_timeout: "0",
      environment_timeout: "unlimited",
      versioned_environment_dirs: "true",
    });
  });

  itWithTools(["puppet"], "PuppetDB host puppet.conf", () => {
    const file = writeTemp(
      "pdb.conf",
      fileOf(
        parseUserData(renderUserData(puppetdbHost("site-a"))),
        "/etc/puppet-multisite/puppet.conf",
      ),
    );
    expect(puppetPrint(file, "main", ["certname", "server", "ca_server"])).toEqual({
      certname: "puppetdb.site-a.puppet.example.internal",
      server: CA,
      ca_server: CA,
    });
  });
});

describe("shellcheck", () => {
  it("sweeps every script of the module (each is listed in scripts.ts)", () => {
    const files = readdirSync(SCRIPTS_DIR, { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile() && !f.name.startsWith("."))
      .map((f) => relative(SCRIPTS_DIR, join(f.parentPath, f.name)));
    expect([...ALL_SCRIPTS].sort()).toEqual(files.sort());
  });

  for (const script of ALL_SCRIPTS.filter((s) => s.endsWith(".sh"))) {
    itWithTools(["shellcheck"], `passes ${script}`, () => {
      // scripts/.shellcheckrc lets shellcheck follow `source lib.sh` from any directory.
      const r = run("shellcheck", ["-x", join(SCRIPTS_DIR, script)]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
    });
  }
});

describe("scripts as hosts get them (comments dropped)", () => {
  for (const script of ALL_SCRIPTS.filter((s) => s.endsWith(".sh"))) {
    itWithTools(["bash"], `${script} still parses and keeps every command`, () => {
      const source = readFileSync(join(SCRIPTS_DIR, script), "utf8");
      const shipped = shipScript(script, source);
      expect(shipped.length).toBeLessThan(source.length);
      expect(shipped.slice(0, shipped.indexOf("\n") + 1)).toBe("#!/usr/bin/env bash\n");
      const commands = (text: string) =>
        text
          .split("\n")
          .filter((l) => l.trim() && !/^\s*#/.test(l))
          .map((l) => l.trimStart());
      expect(commands(shipped)).toEqual(commands(source));
      const r = run("bash", ["-n", writeTemp(`shipped-${script}`, shipped)]);
      expect(r.status, r.stderr).toBe(0);
    });
  }

  for (const script of ALL_SCRIPTS.filter((s) => s.endsWith(".rb"))) {
    itWithTools(["ruby"], `${script} still parses and keeps every line of code`, () => {
      const source = readFileSync(join(SCRIPTS_DIR, script), "utf8");
      const shipped = shipScript(script, source);
      const code = (text: string) =>
        text
          .split("\n")
          .filter((l) => l.trim() && !/^\s*#/.test(l))
          .map((l) => l.trimStart());
      expect(shipped.length).toBeLessThan(source.length);
      expect(code(shipped)).toEqual(code(source));
      const r = run("ruby", ["-c", writeTemp(`shipped-${basename(script)}`, shipped)]);
      expect(r.status, r.stderr).toBe(0);
    });
  }

  // Indentation is dropped too: it must carry no meaning. In these scripts multi-line strings are
  // Ruby programs (`ruby -e '...'`), and heredoc bodies start at the first column.
  for (const script of ALL_SCRIPTS) {
    it(`${script}: no heredoc with indented lines, no Ruby heredoc`, () => {
      const lines = readFileSync(join(SCRIPTS_DIR, script), "utf8").split("\n");
      for (let i = 0; i < lines.length; i++) {
        expect(lines[i], `${script}:${i + 1}`).not.toMatch(/<<[~-]/);
        const heredoc = /<<\s*['"]?([A-Z_]+)['"]?\s*$/.exec(lines[i]);
        if (!heredoc) continue;
        for (let j = i + 1; lines[j] !== heredoc[1]; j++) {
          expect(j, `${script}:${i + 1}: heredoc ${heredoc[1]} never ends`).toBeLessThan(
            lines.length,
          );
          expect(lines[j], `${script}:${j + 1}`).toBe(lines[j].trimStart());
        }
      }
    });
  }
});

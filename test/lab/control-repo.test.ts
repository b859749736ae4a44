// The lab's control repository, built for real in a temporary directory and checked with Puppet's
// own tools: the parser, r10k with no network, and a catalog compiled for an agent of site-b.
import { execFileSync } from "child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
} from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ControlRepo,
  CORE_TYPES,
  addSiteData,
  agentFiles,
  makeControlRepo,
  markersAt,
  setLabValue,
  setMarkers,
  siteDataPath,
} from "../../lab/control-repo";

const SITES = [
  { name: "site-a", srvDomain: "site-a.puppet.example.test" },
  { name: "site-b", srvDomain: "site-b.puppet.example.test" },
];
const COLLECTOR = "agent-1.site-a.puppet.example.test";
const AGENT_B = "agent-2.site-b.puppet.example.test";
const isRoot = process.getuid?.() === 0;

let dir: string;
let repo: ControlRepo;
let markerCommit: string;

function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(cmd, args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
}

function files(root: string, suffix: string): string[] {
  return readdirSync(root, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(suffix) && !f.startsWith(".git"))
    .map((f) => join(root, f));
}

/** A deployed copy of the repository's branch with its Puppetfile installed, as code-sync makes one. */
function deploy(target: string): void {
  run("git", ["clone", "-q", "-b", "production", repo.url, target]);
  const args = ["puppetfile", "install", "--puppetfile", join(target, "Puppetfile")];
  const r10k = ["r10k", ...args, "--moduledir", join(target, "modules")];
  // No network at all: a module that r10k would fetch from the Forge fails the install.
  run("unshare", ["--net", "--", ...r10k], { HOME: join(dir, "home") });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "pm-control-repo-"));
  repo = makeControlRepo(dir, "production", COLLECTOR);
  addSiteData(repo.work, "production", SITES);
  setLabValue(repo.work, "production", "v1");
  markerCommit = setMarkers(repo.work, "production", "m-2");
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the lab's control repository", () => {
  it("passes puppet parser validate, every manifest of it and of its git module", () => {
    const manifests = [...files(repo.work, ".pp"), ...files(join(dir, "labutil"), ".pp")];
    expect(manifests.length).toBeGreaterThanOrEqual(7);
    run("puppet", ["parser", "validate", "--color=false", ...manifests]);
  });

  it("has a Hiera file per site naming the site, under the hierarchy's per-site path", () => {
    const hiera = parse(readFileSync(join(repo.work, "hiera.yaml"), "utf8")) as {
      hierarchy: { path: string }[];
    };
    expect(hiera.hierarchy.map((l) => l.path)).toEqual([
      "sites/%{trusted.domain}.yaml",
      "common.yaml",
    ]);
    for (const site of SITES) {
      const data = parse(readFileSync(join(repo.work, siteDataPath(site)), "utf8")) as object;
      expect(data).toEqual({ "profile::base::site_name": site.name });
    }
  });

  it("reads back the markers each commit wrote", () => {
    expect(markersAt(repo.work, markerCommit)).toEqual({
      manifest: "m-2",
      hiera: "m-2",
      function: "m-2",
    });
    expect(markersAt(repo.work, `${markerCommit}~1`)).toEqual({
      manifest: "initial",
      hiera: "initial",
      function: "v1",
    });
  });

  it("refuses a marker that would break out of its quotes, naming it", () => {
    expect(() => setMarkers(repo.work, "production", "x' + 'y")).toThrow(
      `marker must be letters, digits, '.', '_' or '-', got: "x' + 'y"`,
    );
  });

  it.runIf(isRoot)(
    "installs the Puppetfile's git module at its pinned commit with no network",
    () => {
      const target = join(dir, "deploy-r10k");
      deploy(target);
      const pinned = /:commit\s*=>\s*'([0-9a-f]{40})'/.exec(
        readFileSync(join(target, "Puppetfile"), "utf8"),
      )?.[1];
      expect(
        run("git", ["-C", join(target, "modules", "labutil"), "rev-parse", "HEAD"]).trim(),
      ).toBe(pinned);
      expect(existsSync(join(target, "modules", "labutil", "functions", "peer_path.pp"))).toBe(
        true,
      );
    },
  );

  it.runIf(isRoot)(
    "compiles a site-b agent's catalog with cron, host and mount, site-b's data and one commit's markers",
    () => {
      const code = join(dir, "code");
      mkdirSync(join(code, "environments"), { recursive: true });
      deploy(join(dir, "deploy-compile"));
      symlinkSync(join(dir, "deploy-compile"), join(code, "environments", "production"));
      const out = run("puppet", [
        "catalog",
        "find",
        AGENT_B,
        "--certname",
        AGENT_B,
        "--terminus",
        "compiler",
        "--render-as",
        "json",
        "--color=false",
        "--confdir",
        join(dir, "conf"),
        "--vardir",
        join(dir, "var"),
        "--codedir",
        code,
        "--environment",
        "production",
      ]);
      // A notice line precedes the JSON document on stdout.
      const catalog = JSON.parse(out.slice(out.indexOf("{"))) as {
        resources: { type: string; title: string; parameters?: Record<string, unknown> }[];
      };
      const find = (type: string, title: string) =>
        catalog.resources.find((r) => r.type === type && r.title === title)?.parameters;
      const own = agentFiles(AGENT_B);
      expect(find("Cron", CORE_TYPES.cron.title)).toMatchObject({
        command: CORE_TYPES.cron.command,
      });
      expect(find("Host", CORE_TYPES.host.title)).toMatchObject({ target: own.hosts });
      expect(find("Mount", CORE_TYPES.mount.title)).toMatchObject({
        ensure: "defined",
        target: own.fstab,
      });
      expect(find("File", own.site)).toMatchObject({ content: "hiera site-b\nfact site-b\n" });
      expect(find("File", own.value)).toMatchObject({ content: "m-2\n" });
      expect(
        ["lab-marker-manifest", "lab-marker-hiera", "lab-value"].map(
          (t) => find("Notify", t)?.message,
        ),
      ).toEqual(["m-2", "m-2", "m-2"]);
    },
  );
});

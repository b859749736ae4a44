// pinned_environment.rb loaded into Puppet 7 (MRI, the same Puppet code puppetserver runs): with
// versioned environment directories, a cached environment keeps the configuration, and so the
// Hiera root, of the deploy its code came from when the `production` link moves, until the cache
// drops it; without the patch Puppet reads the link again at every call.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { describe, expect } from "vitest";
import { SCRIPTS_DIR } from "../../infra/hostconfig";
import { itWithTools, run } from "./helpers";

const PROBE = String.raw`
require 'puppet'
root, ruby_lib, patched = ARGV
Puppet.initialize_settings(['--confdir', "#{root}/conf", '--codedir', "#{root}/code",
  '--vardir', "#{root}/var", '--environmentpath', "#{root}/envs",
  '--versioned_environment_dirs', 'true', '--environment_timeout', 'unlimited'])
if patched == 'patched'
  $LOAD_PATH.unshift(ruby_lib)
  require 'puppet_multisite/pinned_environment'
end
loader = Puppet::Environments::Cached.new(Puppet::Environments::Directories.new("#{root}/envs", []))
seen = []
Puppet.override(environments: loader) do
  env = loader.get(:production)
  seen << env.configuration.path_to_env
  File.unlink("#{root}/envs/production")
  File.symlink("#{root}/envs/.deploys/b", "#{root}/envs/production")
  seen << loader.get(:production).configuration.path_to_env
  loader.clear_all
  seen << loader.get(:production).configuration.path_to_env
end
puts seen.map { |p| File.basename(p) }.join(' ')
`;

function probe(patched: boolean): string {
  const root = mkdtempSync(join(tmpdir(), "pm-pin-"));
  for (const deploy of ["a", "b"]) {
    mkdirSync(join(root, "envs/.deploys", deploy, "manifests"), { recursive: true });
    writeFileSync(join(root, "envs/.deploys", deploy, "environment.conf"), "");
  }
  symlinkSync(join(root, "envs/.deploys/a"), join(root, "envs/production"));
  const r = run("ruby", [
    "-e",
    PROBE,
    root,
    join(SCRIPTS_DIR, "ruby"),
    patched ? "patched" : "plain",
  ]);
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.trim();
}

describe("pinned_environment.rb", () => {
  itWithTools(
    ["ruby", "puppet"],
    "keeps a cached environment's configuration on its deploy",
    () => {
      // Loaded: deploy a until the cache drops the environment, then b.
      expect(probe(true)).toBe("a a b");
    },
  );

  itWithTools(["ruby", "puppet"], "is needed: Puppet alone follows the moved link at once", () => {
    expect(probe(false)).toBe("a b b");
  });
});

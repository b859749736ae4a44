// The lab's control repository, laid out as a Puppet team keeps one: roles and profiles under
// site-modules/, Hiera 5 data with a level per site, a Puppetfile installing a module from git, a
// custom fact, a Ruby function, and cron, host and mount resources (Debian's core type modules, in
// $basemodulepath). It is built in a working copy pushed to a bare repository the masters deploy
// from; the functions below make the commits the scenarios deploy.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parse, stringify } from "yaml";
import { labutilFiles } from "./control-repo-module";

/** A site as the Hiera hierarchy knows it: its agents' certnames end in `.<srvDomain>`. */
export interface ControlRepoSite {
  readonly name: string;
  readonly srvDomain: string;
}

export interface ControlRepo {
  /** Bare repository the masters deploy from (file:// URL). */
  readonly url: string;
  /** Working copy, for new commits. */
  readonly work: string;
  /** Bare repository of the module the Puppetfile installs from git (file:// URL). */
  readonly moduleUrl: string;
}

/**
 * Files an agent's catalog manages on the machine. Agents share the machine's /tmp, so each name
 * carries the agent's certname.
 */
export function agentFiles(certname: string): {
  site: string;
  value: string;
  hosts: string;
  fstab: string;
} {
  const file = (kind: string) => `/tmp/puppet-multisite-lab-${kind}-${certname}`;
  return { site: file("site"), value: file("value"), hosts: file("hosts"), fstab: file("fstab") };
}

/** What profile::core_types puts in place, for the scenario that looks for it. */
export const CORE_TYPES = {
  cron: { title: "puppet-multisite-lab", command: "/bin/true puppet-multisite-lab" },
  host: { title: "lab-peer.puppet-multisite.test", ip: "192.0.2.10" },
  mount: { title: "/mnt/puppet-multisite-lab", device: "puppet-multisite-lab" },
} as const;

/** The notify resources carrying one commit's marker from each of its three sources. */
export const MARKER_NOTIFIES = {
  manifest: "lab-marker-manifest",
  hiera: "lab-marker-hiera",
  function: "lab-value",
} as const;

export type Markers = Record<keyof typeof MARKER_NOTIFIES, string>;

const MARKERS_PP = "site-modules/profile/manifests/markers.pp";
const COMMON_YAML = "data/common.yaml";
const LAB_VALUE_RB = "site-modules/profile/lib/puppet/functions/profile/lab_value.rb";
const LAB_TYPE_RB = "site-modules/profile/lib/puppet/type/lab_marker.rb";
const PLUGIN_TYPE_PP = "site-modules/profile/manifests/plugin_type.pp";
const HIERA_MARKER_KEY = "profile::markers::hiera_marker";
const INITIAL_MARKER = "initial";

function run(cmd: string, args: readonly string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Markers and values are written into single-quoted Puppet and Ruby strings and a YAML scalar. */
function checkToken(what: string, value: string): void {
  if (!/^[A-Za-z0-9][\w.-]*$/.test(value))
    throw new Error(
      `${what} must be letters, digits, '.', '_' or '-', got: ${JSON.stringify(value)}`,
    );
}

function write(work: string, path: string, content: string): void {
  mkdirSync(dirname(join(work, path)), { recursive: true });
  writeFileSync(join(work, path), content);
}

function commitAndPush(work: string, branch: string, message: string): string {
  run("git", ["add", "-A"], work);
  run(
    "git",
    ["-c", "user.name=lab", "-c", "user.email=lab@localhost", "commit", "-q", "-m", message],
    work,
  );
  run("git", ["push", "-q", "origin", branch], work);
  return run("git", ["rev-parse", "HEAD"], work).trim();
}

/** A working copy with `files` committed on `branch`, pushed to a new bare repository. */
function makeRepo(
  work: string,
  bare: string,
  branch: string,
  files: Record<string, string>,
  message: string,
): string {
  run("git", ["init", "-q", "--bare", "-b", branch, bare]);
  run("git", ["init", "-q", "-b", branch, work]);
  run("git", ["remote", "add", "origin", bare], work);
  for (const [path, content] of Object.entries(files)) write(work, path, content);
  return commitAndPush(work, branch, message);
}

function markersPp(marker: string): string {
  return `# One marker from each of the three places a commit changes: this manifest, Hiera data and a
# Ruby function. A catalog compiled from a single deployed commit carries three markers that agree.
class profile::markers (
  String[1] $hiera_marker,
) {
  $manifest_marker = '${marker}'
  $value = profile::lab_value()
  notify { '${MARKER_NOTIFIES.manifest}': message => $manifest_marker }
  notify { '${MARKER_NOTIFIES.hiera}': message => $hiera_marker }
  notify { '${MARKER_NOTIFIES.function}': message => $value }
  file { "/tmp/puppet-multisite-lab-value-\${trusted['certname']}":
    ensure  => file,
    content => "\${value}\\n",
  }
}
`;
}

function labValueRb(value: string): string {
  return `# The environment's own Ruby function. Its value changes in a commit, and a catalog compiled after
# that commit is deployed must carry the new value without a puppetserver restart.
Puppet::Functions.create_function(:'profile::lab_value') do
  dispatch :lab_value do
    return_type 'String'
  end

  def lab_value
    '${value}'
  end
end
`;
}

/**
 * A Ruby type whose one parameter is named after `value`. Puppet Server loads a type once per JRuby,
 * so a catalog using the parameter of a newer commit compiles only once every JRuby has been
 * replaced (code-sync.sh flushes the pool when a type changes). No property, no provider: applying
 * it changes nothing (stdlib's `anchor` is the same).
 */
function labTypeRb(value: string): string {
  return `# A type that changes with the commit: its parameter is p_<value>.
Puppet::Type.newtype(:lab_marker) do
  @doc = 'The lab: a parameter per commit, so a stale type in a JRuby fails the compile.'
  newparam(:name, namevar: true)
  newparam(:p_${value.replace(/[^A-Za-z0-9_]/g, "_")})
end
`;
}

function pluginTypePp(value: string): string {
  return `# Uses this commit's parameter of lab_marker: compiles only with this commit's type loaded.
class profile::plugin_type {
  lab_marker { 'plugin-reload': p_${value.replace(/[^A-Za-z0-9_]/g, "_")} => '${value}' }
}
`;
}

function commonYaml(collector: string, marker: string): string {
  return stringify({
    "profile::lab_peers::collector": collector,
    "profile::base::site_name": "unknown",
    [HIERA_MARKER_KEY]: marker,
  });
}

const HIERA_YAML = `# The site level comes from the trusted certname's domain (agent-1.site-a.<domain> is in
# site-a.<domain>): a node can set its facts, not its certificate.
${stringify({
  version: 5,
  defaults: { datadir: "data", data_hash: "yaml_data" },
  hierarchy: [
    { name: "Per site", path: "sites/%{trusted.domain}.yaml" },
    { name: "Common", path: "common.yaml" },
  ],
})}`;

const SITE_PP = `# Roles by the trusted certname, which a node cannot choose (its facts it can).
node /^(agent|spare)-\\d+\\./ {
  include role::agent
}

# Any other node gets an empty catalog, never an agent's.
node default {
}
`;

const ROLE_AGENT_PP = `# A lab agent: what every agent of both sites runs.
class role::agent {
  include profile::base
  include profile::lab_peers
  include profile::core_types
  include profile::markers
  include profile::plugin_type
}
`;

const PROFILE_BASE_PP = `# Which master compiled the catalog, a file every agent manages, and the agent's site as its Hiera
# data and its own fact (lab_site) see it: both name the same site when the hierarchy is right.
class profile::base (
  String[1] $site_name,
) {
  notify { "compiled by \${settings::certname}": }
  file { '/tmp/puppet-multisite-lab':
    ensure  => file,
    content => "managed\\n",
  }
  file { "/tmp/puppet-multisite-lab-site-\${trusted['certname']}":
    ensure  => file,
    content => "hiera \${site_name}\\nfact \${facts['lab_site']}\\n",
  }
}
`;

const PROFILE_LAB_PEERS_PP = `# Every node exports a file naming itself; the collector collects every node's, so its catalog
# queries PuppetDB (and fails to compile when no PuppetDB answers).
class profile::lab_peers (
  String[1] $collector,
) {
  @@file { labutil::peer_path($trusted['certname']):
    ensure  => file,
    content => "\${trusted['certname']}\\n",
    tag     => 'lab_peer',
  }
  if $trusted['certname'] == $collector {
    file { '/tmp/puppet-multisite-lab-peers':
      ensure => directory,
    }
    File <<| tag == 'lab_peer' |>>
  }
}
`;

const PROFILE_CORE_TYPES_PP = `# Cron, host and mount from Debian's core type modules, aimed where an agent's run changes nothing
# of the machine the lab shares: host and mount entries go to files named after the agent, the cron
# job to the agent's own crontab spool (lab/host-exec.sh binds one per host).
class profile::core_types {
  cron { '${CORE_TYPES.cron.title}':
    ensure  => present,
    command => '${CORE_TYPES.cron.command}',
    user    => 'root',
    minute  => '17',
    hour    => '3',
  }
  host { '${CORE_TYPES.host.title}':
    ensure       => present,
    ip           => '${CORE_TYPES.host.ip}',
    host_aliases => ['lab-peer'],
    target       => "/tmp/puppet-multisite-lab-hosts-\${trusted['certname']}",
  }
  # defined: the entry is written, nothing is mounted.
  mount { '${CORE_TYPES.mount.title}':
    ensure  => defined,
    device  => '${CORE_TYPES.mount.device}',
    fstype  => 'tmpfs',
    options => 'noauto,size=1m',
    target  => "/tmp/puppet-multisite-lab-fstab-\${trusted['certname']}",
  }
}
`;

const LAB_SITE_RB = `# The site an agent is in, from its own certname (agent-1.site-a.<domain> is in site-a): a fact
# synced from the environment, checked against the site's Hiera data on the agent.
Facter.add(:lab_site) do
  setcode do
    certname = Puppet[:certname] if defined?(Puppet) && Puppet.respond_to?(:[])
    certname.to_s.split('.')[1]
  end
end
`;

function puppetfile(moduleUrl: string, commit: string): string {
  return `# Modules from outside this repository, installed into modules/ by r10k at each deploy. The lab's
# comes from a git repository on the lab machine: the Forge is out of reach.
mod 'labutil',
  :git    => '${moduleUrl}',
  :commit => '${commit}'
`;
}

/**
 * Builds the control repository with its first commit on `branch`, and the module its Puppetfile
 * names, under `dir`. `collector` is the node that collects every node's exported file.
 */
export function makeControlRepo(dir: string, branch: string, collector: string): ControlRepo {
  checkToken("collector", collector);
  const moduleBare = join(dir, "labutil.git");
  const moduleCommit = makeRepo(
    join(dir, "labutil"),
    moduleBare,
    branch,
    labutilFiles(),
    "labutil: first commit",
  );
  const moduleUrl = `file://${moduleBare}`;
  const bare = join(dir, "control-repo.git");
  const work = join(dir, "control-repo");
  makeRepo(
    work,
    bare,
    branch,
    {
      "environment.conf": "modulepath = site-modules:modules:$basemodulepath\n",
      ".gitignore": "# r10k installs the Puppetfile's modules here at each deploy.\n/modules/\n",
      Puppetfile: puppetfile(moduleUrl, moduleCommit),
      "hiera.yaml": HIERA_YAML,
      [COMMON_YAML]: commonYaml(collector, INITIAL_MARKER),
      "manifests/site.pp": SITE_PP,
      "site-modules/role/manifests/agent.pp": ROLE_AGENT_PP,
      "site-modules/profile/manifests/base.pp": PROFILE_BASE_PP,
      "site-modules/profile/manifests/lab_peers.pp": PROFILE_LAB_PEERS_PP,
      "site-modules/profile/manifests/core_types.pp": PROFILE_CORE_TYPES_PP,
      [MARKERS_PP]: markersPp(INITIAL_MARKER),
      "site-modules/profile/lib/facter/lab_site.rb": LAB_SITE_RB,
      [LAB_VALUE_RB]: labValueRb(INITIAL_MARKER),
      [LAB_TYPE_RB]: labTypeRb(INITIAL_MARKER),
      [PLUGIN_TYPE_PP]: pluginTypePp(INITIAL_MARKER),
    },
    "lab: first commit",
  );
  return { url: `file://${bare}`, work, moduleUrl };
}

/** The Hiera file of a site, relative to the repository's root. */
export function siteDataPath(site: ControlRepoSite): string {
  return `data/sites/${site.srvDomain}.yaml`;
}

/** Commits and pushes each site's Hiera data (the site's name); returns the commit id. */
export function addSiteData(
  work: string,
  branch: string,
  sites: readonly ControlRepoSite[],
): string {
  for (const site of sites) {
    checkToken("site name", site.name);
    write(work, siteDataPath(site), stringify({ "profile::base::site_name": site.name }));
  }
  return commitAndPush(work, branch, `lab: Hiera data of ${sites.map((s) => s.name).join(", ")}`);
}

/**
 * Commits and pushes a new return value of profile::lab_value, and a lab_marker type whose
 * parameter is named after it (used by the catalog); returns the commit id.
 */
export function setLabValue(work: string, branch: string, value: string): string {
  checkToken("lab value", value);
  write(work, LAB_VALUE_RB, labValueRb(value));
  write(work, LAB_TYPE_RB, labTypeRb(value));
  write(work, PLUGIN_TYPE_PP, pluginTypePp(value));
  return commitAndPush(
    work,
    branch,
    `lab: profile::lab_value returns ${value}, lab_marker changed`,
  );
}

/** Commits and pushes `marker` into the manifest, the Hiera data and the function at once. */
export function setMarkers(work: string, branch: string, marker: string): string {
  checkToken("marker", marker);
  const common = parse(readFileSync(join(work, COMMON_YAML), "utf8")) as Record<string, unknown>;
  write(work, COMMON_YAML, stringify({ ...common, [HIERA_MARKER_KEY]: marker }));
  write(work, MARKERS_PP, markersPp(marker));
  write(work, LAB_VALUE_RB, labValueRb(marker));
  return commitAndPush(work, branch, `lab: marker ${marker} in manifest, data and function`);
}

/** Commits and pushes a change that alters no catalog; returns the commit id. */
export function pushEmptyChange(work: string, branch: string, message: string): string {
  write(work, "manifests/lab-marker.pp", `# ${message} ${Date.now()}\n`);
  return commitAndPush(work, branch, message);
}

/** The three markers as commit `rev` (a full or abbreviated id) of the working copy has them. */
export function markersAt(work: string, rev: string): Markers {
  const show = (path: string) => run("git", ["show", `${rev}:${path}`], work);
  const quoted = (text: string, pattern: RegExp, path: string) => {
    const found = pattern.exec(text)?.[1];
    if (found === undefined) throw new Error(`${path} at ${rev} has no marker (${pattern})`);
    return found;
  };
  const common = parse(show(COMMON_YAML)) as Record<string, unknown>;
  return {
    manifest: quoted(show(MARKERS_PP), /\$manifest_marker = '([^']*)'/, MARKERS_PP),
    hiera: String(common[HIERA_MARKER_KEY]),
    function: quoted(show(LAB_VALUE_RB), /def lab_value\n\s*'([^']*)'/, LAB_VALUE_RB),
  };
}

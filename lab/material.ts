// What the program's providers make on AWS and the lab makes itself: the CA's RSA key and
// certificate (tls), the two autosign challenges and the database password (random), the secrets they are
// kept in (Secrets Manager: here a root-only directory of files named like the secrets, read through
// the scripts' PUPPET_MULTISITE_SECRETS_DIR), and a control repository (a local git repository).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { makeCa } from "./x509";

export interface Material {
  readonly caCertificatePem: string;
  /** The challenge only Puppet servers read. */
  readonly serverChallenge: string;
  /** The challenge agents put into their CSRs. */
  readonly agentChallenge: string;
  readonly databasePassword: string;
  readonly secretsDir: string;
  /** Bare repository the masters deploy from (file:// URL). */
  readonly controlRepoUrl: string;
  /** Working copy of the control repository, for new commits. */
  readonly controlRepoWork: string;
}

function run(cmd: string, args: readonly string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function writeSecret(dir: string, name: string, value: string): void {
  const path = join(dir, name);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, value, { mode: 0o600 });
}

/** A lab CA as @pulumi/tls makes it: RSA 4096, CA:true, cert and CRL signing, a subject key id. */
function labCa(dir: string, certname: string): { key: string; cert: string } {
  const key = join(dir, "ca_key.pem");
  const cert = join(dir, "ca_crt.pem");
  makeCa({ key, cert, cn: `Puppet CA: ${certname}`, bits: 4096, days: 3650 });
  return { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") };
}

/**
 * The lab's control repository: every node reports which master compiled its catalog and exports a
 * file naming itself; `collector` collects every node's, so each scenario compiles a catalog that
 * queries PuppetDB (and fails to compile when no PuppetDB answers).
 */
export function sitePp(collector: string): string {
  return `# The lab's control repository.
node default {
  notify { "compiled by \${settings::certname}": }
  file { '/tmp/puppet-multisite-lab': ensure => file, content => "managed\\n" }
  @@file { "/tmp/puppet-multisite-lab-peers/\${trusted['certname']}":
    ensure  => file,
    content => "\${trusted['certname']}\\n",
    tag     => 'lab_peer',
  }
  if \$trusted['certname'] == '${collector}' {
    file { '/tmp/puppet-multisite-lab-peers': ensure => directory }
    File <<| tag == 'lab_peer' |>>
  }
}
`;
}

/** Creates the control repository with one commit on `branch`. */
function makeControlRepo(
  dir: string,
  branch: string,
  collector: string,
): { url: string; work: string } {
  const bare = join(dir, "control-repo.git");
  const work = join(dir, "control-repo");
  run("git", ["init", "-q", "--bare", "-b", branch, bare]);
  run("git", ["init", "-q", "-b", branch, work]);
  mkdirSync(join(work, "manifests"), { recursive: true });
  writeFileSync(join(work, "manifests", "site.pp"), sitePp(collector));
  writeFileSync(join(work, "environment.conf"), "modulepath = modules:$basemodulepath\n");
  commit(work, "lab: first commit");
  run("git", ["remote", "add", "origin", bare], work);
  run("git", ["push", "-q", "origin", branch], work);
  return { url: `file://${bare}`, work };
}

function commit(work: string, message: string): void {
  run("git", ["add", "-A"], work);
  run(
    "git",
    ["-c", "user.name=lab", "-c", "user.email=lab@localhost", "commit", "-q", "-m", message],
    work,
  );
}

/** Pushes a new commit to the control repository; returns its id. */
export function pushCommit(m: Material, branch: string, message: string): string {
  writeFileSync(
    join(m.controlRepoWork, "manifests", "lab-marker.pp"),
    `# ${message} ${Date.now()}\n`,
  );
  commit(m.controlRepoWork, message);
  run("git", ["push", "-q", "origin", branch], m.controlRepoWork);
  return run("git", ["rev-parse", "HEAD"], m.controlRepoWork).trim();
}

export interface SecretNames {
  readonly caKey: string;
  readonly serverChallenge: string;
  readonly agentChallenge: string;
  readonly database: string;
}

export function makeMaterial(
  dir: string,
  caCertname: string,
  secrets: SecretNames,
  branch: string,
  collector: string,
): Material {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = labCa(dir, caCertname);
  const serverChallenge = randomBytes(20).toString("hex");
  const agentChallenge = randomBytes(20).toString("hex");
  const databasePassword = randomBytes(20).toString("hex");
  const secretsDir = join(dir, "secrets");
  writeSecret(secretsDir, secrets.caKey, ca.key);
  writeSecret(secretsDir, secrets.serverChallenge, serverChallenge);
  writeSecret(secretsDir, secrets.agentChallenge, agentChallenge);
  writeSecret(secretsDir, secrets.database, databasePassword);
  const repo = makeControlRepo(dir, branch, collector);
  return {
    caCertificatePem: ca.cert,
    serverChallenge,
    agentChallenge,
    databasePassword,
    secretsDir,
    controlRepoUrl: repo.url,
    controlRepoWork: repo.work,
  };
}

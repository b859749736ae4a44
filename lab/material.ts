// What the program's providers make on AWS and the lab makes itself: the CA's RSA key and
// certificate (tls), the two autosign challenges and the database password (random), the secrets they are
// kept in (Secrets Manager: here a root-only directory of files named like the secrets, read through
// the scripts' PUPPET_MULTISITE_SECRETS_DIR), the sites' script stores (S3: a directory of
// `<bucket>/<key>` files holding the objects the plans upload, read through
// PUPPET_MULTISITE_SCRIPTS_DIR), and a control repository (local git repositories:
// lab/control-repo.ts).
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { makeControlRepo, pushEmptyChange } from "./control-repo";
import { StoredObject } from "./topology";
import { makeCa } from "./x509";

export interface Material {
  readonly caCertificatePem: string;
  /** The challenge only Puppet servers read. */
  readonly serverChallenge: string;
  /** The challenge agents put into their CSRs. */
  readonly agentChallenge: string;
  readonly databasePassword: string;
  readonly secretsDir: string;
  /** The script stores' objects as `<bucket>/<key>` files. */
  readonly scriptsDir: string;
  /** Bare repository the masters deploy from (file:// URL). */
  readonly controlRepoUrl: string;
  /** Working copy of the control repository, for new commits. */
  readonly controlRepoWork: string;
}

export function writeSecret(dir: string, name: string, value: string): void {
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

/** Pushes a commit that changes no catalog to the control repository; returns its id. */
export function pushCommit(m: Material, branch: string, message: string): string {
  return pushEmptyChange(m.controlRepoWork, branch, message);
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
  scripts: readonly StoredObject[],
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
  const scriptsDir = join(dir, "scripts");
  for (const o of scripts) {
    const path = join(scriptsDir, o.bucket, o.key);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, o.content);
  }
  const repo = makeControlRepo(dir, branch, collector);
  return {
    caCertificatePem: ca.cert,
    serverChallenge,
    agentChallenge,
    databasePassword,
    secretsDir,
    scriptsDir,
    controlRepoUrl: repo.url,
    controlRepoWork: repo.work,
  };
}

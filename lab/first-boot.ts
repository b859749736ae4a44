// A host is prepared by writing its rendered user data into its root and running the role's own
// first-boot script, exactly the file EC2 runs, with the lab adapter (ADAPTER_ENV): the lab boots
// what the program deploys, not a copy of it.
import { chmodSync, mkdirSync, writeFileSync } from "fs";
import { dirname, resolve } from "path";
import { parse, stringify } from "yaml";
import { decodeUserData } from "../infra/hostconfig";
import { caFingerprint } from "../infra/hostconfig/ca-pin";
import { CONF_DIR } from "../infra/hostconfig/paths";
import {
  ADAPTER_ENV,
  ExecHost,
  HOST_DIRS,
  RunResult,
  hostPath,
  runInHost,
  startInHost,
} from "./host";
import { Started } from "./processes";

/** Writes user data's files into the host's root, where the host sees them at their EC2 paths. */
export function writeUserDataFiles(host: ExecHost, userData: string): readonly string[][] {
  const { files, runcmd } = decodeUserData(userData);
  for (const f of files) {
    if (!HOST_DIRS.some((d) => f.path.startsWith(`${d}/`))) {
      throw new Error(
        `${host.name}: user data writes ${f.path}, outside the directories a lab host owns (${HOST_DIRS.join(", ")}): add its directory to lab/host-exec.sh`,
      );
    }
    const dest = hostPath(host, f.path);
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, f.content);
    chmodSync(dest, parseInt(f.permissions, 8));
  }
  return runcmd;
}

/** Creates the host's root from the packages' pristine files (once) without running anything else. */
export async function seedHost(host: ExecHost): Promise<void> {
  const r = await runInHost(host, ["true"]);
  if (!r.ok) throw new Error(`${host.name}: host-exec failed: ${r.output}`);
}

/** What a first boot reads where EC2 hosts read AWS: the lab's secrets and script store. */
export interface BootSources {
  /** Files named like the secrets (Secrets Manager). */
  readonly secretsDir: string;
  /** `<bucket>/<key>` files of the sites' script stores (S3). */
  readonly scriptsDir: string;
}

function bootEnv(opts: BootSources & { env?: Record<string, string> }): Record<string, string> {
  return {
    ...ADAPTER_ENV,
    PUPPET_MULTISITE_SECRETS_DIR: resolve(opts.secretsDir),
    PUPPET_MULTISITE_SCRIPTS_DIR: resolve(opts.scriptsDir),
    ...opts.env,
  };
}

/**
 * Decodes the host's user data into its root and runs its entry command (the role's first-boot
 * script) inside the host, with the adapter's variables, the secrets and scripts directories and
 * `env`. Output goes to `<root>/log/prepare.log`.
 */
export async function prepareHost(
  host: ExecHost,
  opts: BootSources & { userData: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<RunResult> {
  await seedHost(host);
  const runcmd = writeUserDataFiles(host, opts.userData);
  const env = bootEnv(opts);
  const started = Date.now();
  let output = "";
  for (const cmd of runcmd) {
    const r = await runInHost(host, cmd, { env, logName: "prepare", timeoutMs: opts.timeoutMs });
    output += r.output;
    if (!r.ok) return { ...r, output, seconds: (Date.now() - started) / 1000 };
  }
  return { ok: true, code: 0, output, seconds: (Date.now() - started) / 1000 };
}

/**
 * Like prepareHost, but the first boot runs in the background, its output in
 * `<root>/log/first-boot.log` as it comes: for watching a boot that retries.
 */
export async function startBoot(
  host: ExecHost,
  opts: BootSources & { userData: string; env?: Record<string, string> },
): Promise<Started> {
  await seedHost(host);
  const [command, ...more] = writeUserDataFiles(host, opts.userData);
  if (command === undefined || more.length > 0) {
    throw new Error(`${host.name}: user data should run one command, it runs ${more.length + 1}`);
  }
  return startInHost(host, "first-boot", command, { env: bootEnv(opts) });
}

/**
 * Puts the lab CA in place of the planned one (a placeholder under the mocks): the CA's user data
 * carries the certificate, every other host's host.env its fingerprint.
 */
export function withCaCertificate(userData: string, pem: string): string {
  const doc = parse(userData) as {
    write_files: { path: string; content: string; encoding?: string }[];
  };
  const file = (name: string) => doc.write_files.find((f) => f.path === `${CONF_DIR}/${name}`);
  const cert = file("ca.pem");
  const env = file("host.env");
  const pinned = env !== undefined && /^CA_FINGERPRINT=/m.test(env.content);
  if (!cert && !pinned) {
    throw new Error(`user data has neither ${CONF_DIR}/ca.pem nor a CA_FINGERPRINT in host.env`);
  }
  if (cert) {
    cert.content = pem;
    delete cert.encoding;
  }
  if (pinned) {
    env.content = env.content.replace(
      /^CA_FINGERPRINT=.*$/m,
      `CA_FINGERPRINT='${caFingerprint(pem)}'`,
    );
  }
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}

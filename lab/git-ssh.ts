// A git server over SSH inside the lab: sshd in one lab host's network namespace, serving the lab's
// repositories by their paths on the machine to a single deploy key. It stands for the Git host a
// team's control repository lives on when the masters fetch it with a deploy key.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Started, start } from "./processes";
import { sleep } from "./sleep";

export interface GitSshServer {
  /** `ssh://root@<name>:<port>` followed by a repository's absolute path is its URL. */
  readonly origin: string;
  /** The deploy key's OpenSSH private key: the value of the control repository's secret. */
  readonly deployKey: string;
  /** known_hosts with this server's host key under its name and port. */
  readonly knownHosts: string;
  /** known_hosts that lists another host only: this server's key is unknown with it. */
  readonly strangerKnownHosts: string;
  readonly process: Started;
  /** Lines of sshd's log accepting the deploy key, from `address`. */
  acceptedFrom(address: string): string[];
}

export interface GitSshOptions {
  /** Directory for keys, configuration and log (root-only). */
  readonly dir: string;
  /** Network namespace sshd runs in. */
  readonly netns: string;
  /** Address sshd listens on, in that namespace. */
  readonly address: string;
  /** The name clients reach that address by (it is what known_hosts lists). */
  readonly name: string;
  /** Default 2222. */
  readonly port?: number;
}

function keygen(path: string, comment: string): string {
  rmSync(path, { force: true });
  rmSync(`${path}.pub`, { force: true });
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]);
  return readFileSync(`${path}.pub`, "utf8").trim();
}

/** Starts sshd and waits until it listens; `stop()` of `process` ends it. */
export async function startGitSsh(opts: GitSshOptions): Promise<GitSshServer> {
  const port = opts.port ?? 2222;
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const hostKey = join(opts.dir, "host_ed25519");
  const hostPub = keygen(hostKey, "lab git server");
  const deployPub = keygen(join(opts.dir, "deploy_ed25519"), "lab control repository deploy key");
  const strangerPub = keygen(join(opts.dir, "stranger_ed25519"), "another host");
  // The key may fetch and nothing else: no pty, no forwarding (git-upload-pack needs neither).
  writeFileSync(join(opts.dir, "authorized_keys"), `restrict ${deployPub}\n`, { mode: 0o600 });
  const entry = (name: string, pub: string) =>
    `[${name}]:${port} ${pub.split(" ").slice(0, 2).join(" ")}\n`;
  const knownHosts = join(opts.dir, "known_hosts");
  writeFileSync(knownHosts, entry(opts.name, hostPub));
  const strangerKnownHosts = join(opts.dir, "known_hosts.stranger");
  writeFileSync(strangerKnownHosts, entry(`other.${opts.name}`, strangerPub));
  const config = join(opts.dir, "sshd_config");
  writeFileSync(
    config,
    [
      `Port ${port}`,
      `ListenAddress ${opts.address}`,
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(opts.dir, "authorized_keys")}`,
      "AllowUsers root",
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      // The lab writes these files itself (root, 0600); its checkout may sit under any directory.
      "StrictModes no",
      "PidFile none",
      // VERBOSE logs which key was accepted from where: how the scenario knows a master used SSH.
      "LogLevel VERBOSE",
      "",
    ].join("\n"),
  );
  // sshd's privilege separation directory, which its package's unit creates at boot.
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const log = join(opts.dir, "sshd.log");
  rmSync(log, { force: true });
  const server = start(
    "git sshd",
    "ip",
    ["netns", "exec", opts.netns, "/usr/sbin/sshd", "-D", "-e", "-f", config],
    log,
  );
  const text = () => (existsSync(log) ? readFileSync(log, "utf8") : "");
  const deadline = Date.now() + 15_000;
  while (!text().includes(`Server listening on ${opts.address} port ${port}`)) {
    if (!server.alive() || Date.now() > deadline) {
      await server.stop(2_000);
      throw new Error(
        `sshd did not start listening: ${text().trim().split("\n").slice(-3).join(" | ")}`,
      );
    }
    await sleep(200);
  }
  return {
    origin: `ssh://root@${opts.name}:${port}`,
    deployKey: readFileSync(join(opts.dir, "deploy_ed25519"), "utf8"),
    knownHosts,
    strangerKnownHosts,
    process: server,
    acceptedFrom: (address) =>
      text()
        .split("\n")
        .filter(
          (l) => l.includes("Accepted publickey for root from") && l.includes(` ${address} `),
        ),
  };
}

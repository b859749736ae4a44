// The control repository's git URL: one parser for the settings that accept it and for the network
// rules that must reach it.

/** A git URL in one of the forms masters fetch: HTTPS, `ssh://` or scp-like `user@host:path`. */
export interface GitUrl {
  readonly transport: "https" | "ssh";
  /** Host, with its port for HTTPS (`git.example.com:8443`). */
  readonly host: string;
  /** SSH port; undefined over HTTPS. scp-like URLs cannot name one: 22. */
  readonly sshPort?: number;
  readonly path: string;
}

/** 1-65535 written without leading zeros. */
const PORT = /^([1-9]\d{0,3}|[1-5]\d{4}|6[0-4]\d{3}|65[0-4]\d\d|655[0-2]\d|6553[0-5])$/;

/** Parses a control-repository URL; undefined when it is none of the forms masters can fetch. */
export function parseGitUrl(url: string): GitUrl | undefined {
  const https = /^https:\/\/([^\s/]+)\/(\S+)$/.exec(url);
  if (https) return { transport: "https", host: https[1], path: https[2] };
  const ssh = /^ssh:\/\/(?:[^@/\s]+@)?([^:/\s]+)(?::([^/]*))?\/(\S+)$/.exec(url);
  if (ssh) {
    const port = ssh[2];
    if (port !== undefined && !PORT.test(port)) return undefined;
    return { transport: "ssh", host: ssh[1], sshPort: port ? Number(port) : 22, path: ssh[3] };
  }
  // scp-like syntax has no port: `git@host:2222/repo.git` is the path `2222/repo.git` on port 22.
  const scp = /^[\w.-]+@([\w.-]+):(\S+)$/.exec(url);
  if (scp) return { transport: "ssh", host: scp[1], sshPort: 22, path: scp[2] };
  return undefined;
}

/**
 * The SSH port masters reach the control repository on, or undefined when it is fetched over HTTPS
 * (already allowed for packages). `ssh://host:2222/path` gives 2222, `git@host:path` gives 22.
 */
export function gitSshPort(url: string): number | undefined {
  const parsed = parseGitUrl(url);
  if (!parsed) throw new Error(`not a git URL masters can fetch: ${JSON.stringify(url)}`);
  return parsed.sshPort;
}

/** Host key types OpenSSH 9.2 (Debian 12) accepts in known_hosts. */
const KEY_TYPES = new Set([
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
]);

/**
 * Why a known_hosts line is unusable, or undefined when it is a plain `hosts keytype base64-key`
 * line (sshd's `ssh-keyscan` output). Markers (`@cert-authority`, `@revoked`) and hashed names are
 * refused: the line must name the git server so a test can tell it matches the URL.
 */
export function knownHostsProblem(line: string): string | undefined {
  const fields = line.trim().split(/\s+/);
  if (fields.length < 3) return "expected `host keytype key` (one line of ssh-keyscan's output)";
  const [hosts, type, key] = fields;
  if (hosts.startsWith("@") || hosts.startsWith("|")) {
    return "markers and hashed host names are not supported: name the host in clear";
  }
  if (!KEY_TYPES.has(type))
    return `unknown key type ${type}; expected one of ${[...KEY_TYPES].join(", ")}`;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || key.length < 20) return "the key is not base64";
  return undefined;
}

/** How known_hosts names a server: `host` on port 22, `[host]:port` otherwise (sshd(8)). */
export function knownHostsName(url: GitUrl): string {
  return url.sshPort === undefined || url.sshPort === 22
    ? url.host
    : `[${url.host}]:${url.sshPort}`;
}

/** True when one of the lines names the URL's server (its comma-separated host list). */
export function knownHostsCover(lines: readonly string[], url: GitUrl): boolean {
  const name = knownHostsName(url);
  return lines.some((line) => line.trim().split(/\s+/)[0].split(",").includes(name));
}

/** `scheme://host[:port]/`: the URL prefix git's `http.<url>.*` settings match, so a token goes to
 * the control repository's server and nowhere else. */
export function httpsOrigin(url: GitUrl): string {
  return `https://${url.host}/`;
}

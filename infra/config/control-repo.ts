// The `controlRepo` section: where the masters fetch code from and with which credentials. An SSH
// URL needs a deploy key and the server's host keys; an HTTPS URL may carry a token. Credentials are
// named (Secrets Manager), never given, and never accepted inside the URL, where git would store
// them in the repository's config.
import { knownHostsCover, knownHostsName, knownHostsProblem, parseGitUrl } from "../control-repo";
import { ConfigError, Reader } from "./reader";
import { ControlRepoSettings, DEFAULTS } from "./types";

/** A Secrets Manager secret name: 1-512 of letters, digits and `/_+=.@-`. */
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const SECRET_NAME_EXPECTED = "expected a Secrets Manager secret name (letters, digits and /_+=.@-)";
const secretName = (v: string) => (SECRET_NAME.test(v) ? undefined : SECRET_NAME_EXPECTED);

export function readControlRepo(section: Reader): ControlRepoSettings {
  const url = section.string("url", undefined, (v) => {
    const parsed = parseGitUrl(v);
    if (!parsed) {
      return "expected a git URL: https://host/path, ssh://[user@]host[:port]/path or user@host:path";
    }
    return parsed.transport === "https" && parsed.host.includes("@")
      ? "credentials in the URL end up in the masters' git configuration: name a secret in controlRepo.tokenSecret"
      : undefined;
  });
  const git = parseGitUrl(url)!;
  const branch = section.string("branch", DEFAULTS.controlRepo.branch, (v) =>
    /^[A-Za-z0-9_][\w./-]*$/.test(v) && !v.includes("..")
      ? undefined
      : "expected a git branch name",
  );
  const syncIntervalMinutes = section.integer(
    "syncIntervalMinutes",
    DEFAULTS.controlRepo.syncIntervalMinutes,
    1,
    60,
  );
  const sshKeySecret = section.optionalString("sshKeySecret", secretName);
  const knownHosts = section.list("knownHosts", (v, key) => {
    const problem = knownHostsProblem(v);
    if (problem) throw new ConfigError(key, v, problem);
    return v.trim();
  });
  const tokenSecret = section.optionalString("tokenSecret", secretName);
  const tokenUser = section.string("tokenUser", DEFAULTS.controlRepo.tokenUser, (v) =>
    /^[^\s:]+$/.test(v) ? undefined : "expected a user name without spaces or colons",
  );
  const only = (key: string, value: unknown, transport: string) => {
    throw new ConfigError(section.key(key), value, `only for an ${transport} URL; url is ${url}`);
  };
  if (git.transport === "ssh") {
    if (tokenSecret !== undefined) only("tokenSecret", tokenSecret, "HTTPS");
    if (sshKeySecret === undefined) {
      throw new ConfigError(
        section.key("sshKeySecret"),
        undefined,
        "required for an SSH URL: the name of the secret holding the deploy key",
      );
    }
    if (!knownHostsCover(knownHosts, git)) {
      throw new ConfigError(
        section.key("knownHosts"),
        knownHosts,
        `required for an SSH URL: a known_hosts line for ${knownHostsName(git)} (ssh-keyscan${git.sshPort === 22 ? "" : ` -p ${git.sshPort}`} ${git.host}, checked out of band)`,
      );
    }
  } else {
    if (sshKeySecret !== undefined) only("sshKeySecret", sshKeySecret, "SSH");
    if (knownHosts.length > 0) only("knownHosts", knownHosts, "SSH");
  }
  return {
    url,
    branch,
    syncIntervalMinutes,
    sshKeySecret,
    knownHosts,
    tokenSecret,
    tokenUser,
  };
}

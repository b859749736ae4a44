// Facts about the control repository's git URL that the network needs.

/**
 * The SSH port masters reach the control repository on, or undefined when it is fetched over HTTPS
 * (already allowed for packages). `ssh://host:2222/path` gives 2222, `git@host:path` gives 22.
 */
export function gitSshPort(url: string): number | undefined {
  if (url.startsWith("https://")) return undefined;
  const port = /^ssh:\/\/(?:[^@/]+@)?[^:/]+:(\d+)\//.exec(url)?.[1];
  return port === undefined ? 22 : Number(port);
}

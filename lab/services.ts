// The lab starts the servers itself, by PID (the adapter skips systemctl): puppetserver and PuppetDB
// as their packages run them, with the lab's heap sizes, and waits until they answer.
import { mkdirSync, writeFileSync } from "fs";
import { dirname } from "path";
import { ExecHost, hostPath, runInHost, startInHost } from "./host";
import { Started } from "./processes";
import { sleep } from "./sleep";

export interface JvmOptions {
  /** -Xmx in MiB. Default 512 (puppetserver), 256 (PuppetDB). */
  readonly heapMb?: number;
  /** -Xms in MiB. Default half of heapMb. */
  readonly initialHeapMb?: number;
}

function jvmFlags(opts: JvmOptions, defaultHeap: number): string[] {
  const heap = opts.heapMb ?? defaultHeap;
  return [
    `-Xms${opts.initialHeapMb ?? Math.floor(heap / 2)}m`,
    `-Xmx${heap}m`,
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.security.egd=/dev/urandom",
  ];
}

/** The host's PID file of a server the lab started (like the init scripts' PIDFILE). */
function writePidFile(host: ExecHost, path: string, pid: number): void {
  const dest = hostPath(host, path);
  mkdirSync(dirname(dest), { recursive: true });
  writeFileSync(dest, `${pid}\n`);
}

/**
 * puppetserver of a CA or compile master, as the `puppet` user, with the host's own conf.d and
 * services.d (the files its first-boot script installed). Log: `<root>/log/puppetserver.log`.
 */
export function startPuppetserver(host: ExecHost, opts: JvmOptions = {}): Started {
  const server = startInHost(
    host,
    "puppetserver",
    [
      "java",
      ...jvmFlags(opts, 512),
      "-Djruby.lib=/usr/share/jruby/lib",
      "-Djruby.logger.class=com.puppetlabs.jruby_utils.jruby.Slf4jLogger",
      "-Dlogappender=STDOUT",
      "-jar",
      "/usr/share/puppetserver/puppetserver.jar",
      "--config",
      "/etc/puppet/puppetserver/conf.d",
      "--bootstrap-config",
      "/etc/puppet/puppetserver/services.d",
    ],
    { user: "puppet", cwd: "/usr/share/puppetserver" },
  );
  writePidFile(host, "/run/puppetserver/puppetserver.pid", server.pid);
  return server;
}

/** PuppetDB as the `puppetdb` user, as Debian's init script runs it. Log: `<root>/log/puppetdb.log`. */
export function startPuppetdb(host: ExecHost, opts: JvmOptions = {}): Started {
  const server = startInHost(
    host,
    "puppetdb",
    [
      "java",
      ...jvmFlags(opts, 256),
      "-cp",
      "/usr/share/puppetdb/puppetdb.jar",
      "-XX:OnOutOfMemoryError=kill -9 %p",
      "clojure.main",
      "-m",
      "puppetlabs.puppetdb.core",
      "services",
      "--config",
      "/etc/puppetdb/conf.d",
      "--bootstrap-config",
      "/etc/puppetdb/bootstrap.cfg",
      "--restart-file",
      "/run/puppetdb/restart",
    ],
    { user: "puppetdb", cwd: "/" },
  );
  writePidFile(host, "/run/puppetdb/puppetdb.pid", server.pid);
  return server;
}

/** The host's TLS identity (paths as the host sees them), for curl. */
export function puppetTls(certname: string): { cacert: string; cert: string; key: string } {
  const ssl = "/var/lib/puppet/ssl";
  return {
    cacert: `${ssl}/certs/ca.pem`,
    cert: `${ssl}/certs/${certname}.pem`,
    key: `${ssl}/private_keys/${certname}.pem`,
  };
}

/**
 * Polls `url` from inside `from` (its network and names) until it answers 200; resolves with the
 * seconds waited. `cacert` is a path inside `from`.
 */
export async function waitForStatus(
  from: ExecHost,
  url: string,
  timeoutMs: number,
  opts: { cacert: string; cert?: string; key?: string; stop?: Started },
): Promise<number> {
  const started = Date.now();
  const cacert = opts.cacert;
  // PuppetDB's HTTPS port wants a client certificate even for its status (puppetTls of `from`).
  const client = opts.cert && opts.key ? ["--cert", opts.cert, "--key", opts.key] : [];
  for (;;) {
    const r = await runInHost(from, [
      "curl",
      "-fsS",
      "--max-time",
      "5",
      "--cacert",
      cacert,
      ...client,
      "-o",
      "/dev/null",
      url,
    ]);
    if (r.ok) return (Date.now() - started) / 1000;
    if (opts.stop && !opts.stop.alive()) {
      throw new Error(`${url}: the server exited before answering (see ${opts.stop.log})`);
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(`${url} did not answer within ${timeoutMs / 1000}s: ${r.output.trim()}`);
    }
    await sleep(1000);
  }
}

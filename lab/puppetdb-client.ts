// PuppetDB lets in only the certnames on its allowlist, so the scenarios ask it from inside a host,
// with that host's Puppet certificate: the answer is the one that host itself would get.
import { ExecHost, runInHost } from "./host";
import { puppetTls } from "./services";

/**
 * An HTTPS request to PuppetDB from inside `from`, with `from`'s Puppet certificate (PuppetDB lets
 * in only the certnames on its allowlist). Returns the HTTP status and the body.
 */
export async function puppetdbRequest(
  from: ExecHost,
  url: string,
  opts: { method?: "GET" | "POST"; json?: unknown } = {},
): Promise<{ status: number; body: string }> {
  const tls = puppetTls(from.certname);
  const data =
    opts.json === undefined
      ? []
      : ["-H", "Content-Type: application/json", "--data", JSON.stringify(opts.json)];
  const r = await runInHost(from, [
    "curl",
    "-sS",
    "--max-time",
    "20",
    "-w",
    "\n%{http_code}",
    "-X",
    opts.method ?? "GET",
    "--cacert",
    tls.cacert,
    "--cert",
    tls.cert,
    "--key",
    tls.key,
    ...data,
    url,
  ]);
  const cut = r.output.lastIndexOf("\n");
  const status = Number(r.output.slice(cut + 1).trim());
  if (!r.ok || !Number.isInteger(status))
    throw new Error(`${url} from ${from.name}: ${r.output.trim()}`);
  return { status, body: r.output.slice(0, cut) };
}

/** A PuppetDB query (see puppetdbRequest); returns the parsed JSON. */
export async function queryPuppetdb(
  from: ExecHost,
  baseUrl: string,
  endpoint: string,
  query?: string,
): Promise<unknown> {
  const url = new URL(`${baseUrl.replace(/\/$/, "")}/pdb/query/v4/${endpoint}`);
  if (query) url.searchParams.set("query", query);
  const r = await puppetdbRequest(from, url.toString());
  if (r.status !== 200)
    throw new Error(
      `PuppetDB query ${url.toString()} from ${from.name}: HTTP ${r.status} ${r.body.trim()}`,
    );
  return JSON.parse(r.body) as unknown;
}

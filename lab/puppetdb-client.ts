// PuppetDB lets in only the certnames on its allowlist, so the scenarios ask it from inside a host,
// with that host's Puppet certificate: the answer is the one that host itself would get.
import { ExecHost } from "./host";
import { httpsRequest } from "./https";
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
  const r = await httpsRequest(from, url, {
    ...puppetTls(from.certname),
    method: opts.method,
    body: opts.json === undefined ? undefined : JSON.stringify(opts.json),
  });
  if (r.status === undefined) throw new Error(`${url} from ${from.name}: ${r.failure?.message}`);
  return { status: r.status, body: r.body };
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

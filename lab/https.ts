// Every HTTPS request the lab makes goes through curl inside a host: the answer is the one that host,
// with its network, its names and the identity it presents, would get.
import { ExecHost, runInHost } from "./host";

export interface HttpsOptions {
  readonly method?: "GET" | "POST" | "PUT";
  /** Request body, sent as it is. */
  readonly body?: string;
  readonly contentType?: string;
  /** Paths as `from` sees them: the CA certificate to verify with, and the client identity. */
  readonly cacert: string;
  readonly cert?: string;
  readonly key?: string;
  /** Default 20 s. */
  readonly timeoutSeconds?: number;
}

export interface HttpsAnswer {
  /** The HTTP status; undefined when no HTTP answer came (TLS refused, connection failed). */
  readonly status?: number;
  readonly body: string;
  /** curl's exit code and message when there was no HTTP answer (35: TLS handshake failed). */
  readonly failure?: { readonly curlExit: number | null; readonly message: string };
}

const STATUS_MARK = "\n@@http_code=";

/** An HTTPS request from inside `from`. Never throws for a refused request: the answer says so. */
export async function httpsRequest(
  from: ExecHost,
  url: string,
  opts: HttpsOptions,
): Promise<HttpsAnswer> {
  const identity = opts.cert && opts.key ? ["--cert", opts.cert, "--key", opts.key] : [];
  const body =
    opts.body === undefined
      ? []
      : ["-H", `Content-Type: ${opts.contentType ?? "application/json"}`, "--data-binary", "@-"];
  const r = await runInHost(
    from,
    [
      "curl",
      "-sS",
      "--max-time",
      String(opts.timeoutSeconds ?? 20),
      "-w",
      `${STATUS_MARK}%{http_code}`,
      "-X",
      opts.method ?? "GET",
      "--cacert",
      opts.cacert,
      ...identity,
      ...body,
      url,
    ],
    { input: opts.body },
  );
  const cut = r.output.lastIndexOf(STATUS_MARK);
  const status = cut < 0 ? 0 : Number(r.output.slice(cut + STATUS_MARK.length).trim());
  if (!r.ok || !(status > 0)) {
    const message = (cut < 0 ? r.output : r.output.slice(0, cut)).trim();
    return { body: "", failure: { curlExit: r.code, message } };
  }
  return { status, body: r.output.slice(0, cut) };
}

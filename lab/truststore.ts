// AWS's side of the database's TLS, made by the lab: two RDS-like root CAs (a Region's bundle holds
// several), the database's certificate from one of them for its endpoint name, and the truststore
// serving the bundle over HTTPS (lab/truststore.py) at the path of the planned URL. Its HTTPS
// certificate comes from a CA of its own, which the PuppetDB hosts' boots trust through curl's
// CURL_CA_BUNDLE in place of the system's CAs: the hosts run db-ca-bundle.sh's fetch, TLS check and
// bundle check exactly as on EC2, against a lab namespace instead of the Internet.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { decodeUserData } from "../infra/hostconfig";
import { ExecHost, startInHost } from "./host";
import { Started } from "./processes";
import { makeCa, newKeyRequest, openssl, signCsr } from "./x509";

/** Where the truststore listens, at the database host's address. */
export const TRUSTSTORE_PORT = 8443;

export interface DatabaseTls {
  /** The CA that signs the database's certificate (files). */
  readonly signer: { readonly key: string; readonly cert: string };
  /** What the truststore serves. */
  readonly root: string;
  /** The truststore's HTTPS certificate and key, and the CA certificate that verifies it. */
  readonly web: { readonly key: string; readonly cert: string; readonly ca: string };
}

/** A setting of a host's rendered `host.env`, as its scripts read it. */
export function plannedSetting(userData: string, name: string): string | undefined {
  const env = decodeUserData(userData).files.find((f) => f.path.endsWith("/host.env"));
  const line = env?.content
    .toString("utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name}=`));
  // renderEnvFile's single quoting, undone.
  return line?.slice(name.length + 2, -1).replace(/'\\''/g, "'");
}

/** The planned bundle URL with the truststore of the lab as its origin: same path, same region. */
export function labBundleUrl(plannedUrl: string, databaseName: string): string {
  const url = new URL(plannedUrl);
  return `https://${databaseName}:${TRUSTSTORE_PORT}${url.pathname}`;
}

/** A key and a certificate for `name` (DNS alt name), signed by the CA in `ca`. */
function issue(ca: { key: string; cert: string }, name: string, key: string, cert: string): void {
  // A CN holds at most 64 characters (RDS endpoint names are longer): the name is the alt name.
  const csr = openssl([...newKeyRequest(key), "-subj", "/CN=lab"]);
  writeFileSync(
    cert,
    signCsr({
      csr,
      caCert: ca.cert,
      caKey: ca.key,
      serial: Date.now(),
      ext: [`subjectAltName = DNS:${name}`],
    }),
  );
}

/**
 * The CAs, the bundle (at each of `bundlePaths` under the served root, one per Region a database
 * is in; the signing CA last, so a client that reads only the first certificate fails) and the
 * truststore's HTTPS certificate for `databaseName`, in `dir`.
 */
export function makeDatabaseTls(
  dir: string,
  databaseName: string,
  bundlePaths: readonly string[],
): DatabaseTls {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = (name: string, cn: string, bits: number) => {
    const files = { key: join(dir, `${name}.key`), cert: join(dir, `${name}.pem`) };
    makeCa({ ...files, cn, bits, days: 30 });
    return files;
  };
  const other = ca("rds-rsa4096", "Lab RDS Root CA RSA4096", 4096);
  const signer = ca("rds-rsa2048", "Lab RDS Root CA RSA2048", 2048);
  const root = join(dir, "truststore");
  const pem = [other.cert, signer.cert].map((f) => openssl(["x509", "-in", f])).join("");
  for (const path of bundlePaths) {
    const bundle = join(root, path);
    mkdirSync(dirname(bundle), { recursive: true });
    writeFileSync(bundle, pem);
  }
  const webCa = ca("truststore-ca", "Lab truststore CA", 2048);
  const web = {
    key: join(dir, "truststore.key"),
    cert: join(dir, "truststore.pem"),
    ca: webCa.cert,
  };
  issue(webCa, databaseName, web.key, web.cert);
  return { signer, root, web };
}

/** The database's certificate for its endpoint name, from the signing CA: `key` and `cert`. */
export function databaseCertificate(
  tls: DatabaseTls,
  name: string,
  key: string,
  cert: string,
): void {
  issue(tls.signer, name, key, cert);
}

/** The truststore, in the database host's namespace at its address. */
export function startTruststore(host: ExecHost, address: string, tls: DatabaseTls): Started {
  return startInHost(host, "truststore", [
    "python3",
    resolve(__dirname, "truststore.py"),
    address,
    String(TRUSTSTORE_PORT),
    tls.root,
    tls.web.cert,
    tls.web.key,
  ]);
}

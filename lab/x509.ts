// Certificates, requests and revocation lists as openssl makes and reads them: the lab's CSRs are
// made the way Puppet makes them (challenge as an attribute, pp_auth_role and alt names as requested
// extensions), so the CA sees what a real host would send.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The OID of Puppet's `pp_auth_role` extension. */
export const PP_AUTH_ROLE_OID = "1.3.6.1.4.1.34380.1.3.13";

export function openssl(args: readonly string[], input?: string): string {
  return execFileSync("openssl", args, {
    encoding: "utf8",
    input,
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/**
 * A CA as @pulumi/tls makes one (CA:true, cert and CRL signing, a subject key id), its key in
 * `key` (RSA, traditional PEM, as puppetserver's import wants it) and its certificate in `cert`.
 */
export function makeCa(opts: {
  readonly key: string;
  readonly cert: string;
  readonly cn: string;
  /** Default 2048. */
  readonly bits?: number;
  /** Default 2. */
  readonly days?: number;
}): void {
  openssl(["genrsa", "-traditional", "-out", opts.key, String(opts.bits ?? 2048)]);
  openssl([
    "req",
    "-x509",
    "-new",
    "-key",
    opts.key,
    "-out",
    opts.cert,
    "-days",
    String(opts.days ?? 2),
    "-subj",
    `/CN=${opts.cn}`,
    "-addext",
    "basicConstraints=critical,CA:true",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
    "-addext",
    "subjectKeyIdentifier=hash",
  ]);
}

/**
 * A CRL of the CA in `caKey`/`caCert` with CRL number `number`, revoking `serials`, made as ca.sh
 * makes a CA's first one (openssl ca -gencrl, authorityKeyIdentifier).
 */
export function makeCrl(opts: {
  caKey: string;
  caCert: string;
  number: number;
  serials: readonly number[];
}): string {
  const work = mkdtempSync(join(tmpdir(), "pm-crl-"));
  // openssl reads an even number of hex digits.
  const evenHex = (n: number) => {
    const hex = n.toString(16).toUpperCase();
    return hex.padStart(Math.max(4, hex.length + (hex.length % 2)), "0");
  };
  try {
    writeFileSync(
      join(work, "index.txt"),
      opts.serials
        .map((s) => `R\t301231000000Z\t240101000000Z\t${evenHex(s)}\tunknown\t/CN=revoked-${s}\n`)
        .join(""),
    );
    writeFileSync(join(work, "crlnumber"), `${evenHex(opts.number)}\n`);
    writeFileSync(
      join(work, "openssl.cnf"),
      [
        "[ca]",
        "default_ca = puppet_ca",
        "[puppet_ca]",
        `database = ${join(work, "index.txt")}`,
        `crlnumber = ${join(work, "crlnumber")}`,
        "default_md = sha256",
        "default_crl_days = 3650",
        "crl_extensions = crl_ext",
        "[crl_ext]",
        "authorityKeyIdentifier = keyid:always",
        "",
      ].join("\n"),
    );
    const config = join(work, "openssl.cnf");
    return openssl([
      "ca",
      "-batch",
      "-gencrl",
      "-config",
      config,
      "-keyfile",
      opts.caKey,
      "-cert",
      opts.caCert,
    ]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** `openssl req` arguments for a new RSA key written to `keyout` (`/dev/null` drops it). */
export function newKeyRequest(keyout: string): string[] {
  return ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", keyout];
}

/** Signs a CSR with a CA's files: the certificate's PEM, with `serial` and extension lines `ext`. */
export function signCsr(opts: {
  readonly csr: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly serial: number | string;
  readonly ext?: readonly string[];
}): string {
  const dir = mkdtempSync(join(tmpdir(), "pm-sign-"));
  try {
    writeFileSync(join(dir, "ext.cnf"), `${(opts.ext ?? []).join("\n")}\n`);
    return openssl(
      [
        "x509",
        "-req",
        "-CA",
        opts.caCert,
        "-CAkey",
        opts.caKey,
        "-set_serial",
        String(opts.serial),
        "-days",
        "2",
        "-extfile",
        join(dir, "ext.cnf"),
      ],
      opts.csr,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface CsrOptions {
  readonly challenge?: string;
  /** pp_auth_role. */
  readonly role?: string;
  /** DNS alt names. */
  readonly altNames?: readonly string[];
  /** Extra extension lines of openssl's config, e.g. `1.3.6.1.4.1.34380.1.1.13 = ASN1:UTF8String:web`. */
  readonly ext?: readonly string[];
  /** Subject CN, when it is not the certname. */
  readonly cn?: string;
}

/** A CSR for `certname` with a new RSA key, as Puppet makes one; its PEM (the key is dropped). */
export function makeCsr(certname: string, opts: CsrOptions = {}): string {
  const ext = [
    opts.altNames ? `subjectAltName = ${opts.altNames.map((n) => `DNS:${n}`).join(",")}` : "",
    opts.role ? `${PP_AUTH_ROLE_OID} = ASN1:UTF8String:${opts.role}` : "",
    ...(opts.ext ?? []),
  ].filter(Boolean);
  const cnf = [
    "[req]",
    "distinguished_name = dn",
    "attributes = attrs",
    "prompt = no",
    ...(ext.length ? ["req_extensions = ext"] : []),
    "[dn]",
    `CN = ${opts.cn ?? certname}`,
    "[attrs]",
    ...(opts.challenge ? [`challengePassword = ${opts.challenge}`] : []),
    "[ext]",
    ...ext,
  ].join("\n");
  const dir = mkdtempSync(join(tmpdir(), "pm-csr-"));
  try {
    writeFileSync(join(dir, "req.cnf"), `${cnf}\n`);
    return openssl([...newKeyRequest("/dev/null"), "-config", join(dir, "req.cnf")]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A certificate's serial number, upper-case hex as openssl prints it (`1A2B`). */
export function serialOf(certPem: string): string {
  return normalSerial(openssl(["x509", "-noout", "-serial"], certPem).replace(/^serial=/, ""));
}

/** The serial numbers a CRL revokes, as serialOf gives them. */
export function revokedSerials(crlPem: string): string[] {
  const text = openssl(["crl", "-noout", "-text"], crlPem);
  return [...text.matchAll(/Serial Number: ([0-9A-Fa-f]+)/g)].map((m) => normalSerial(m[1]));
}

/** A CRL's number (the crlNumber extension), as a bigint: a promoted CA's exceed 2^32. */
export function crlNumber(crlPem: string): bigint {
  const out = openssl(["crl", "-noout", "-crlnumber"], crlPem).trim();
  return BigInt(out.replace(/^crlNumber=/, "").replace(/^(0x)?/i, "0x"));
}

/** The CA epoch a serial was signed in (ca-promote.rb: epoch N signs serials from N * 2^24). */
export function serialEpoch(hex: string): number {
  return Math.floor(parseInt(hex, 16) / 2 ** 24);
}

/** A serial as serialOf gives it, from any hex spelling (`0x000D`, `000d`). */
export function normalSerial(hex: string): string {
  return hex
    .trim()
    .toUpperCase()
    .replace(/^0X/, "")
    .replace(/^0+(?=.)/, "");
}

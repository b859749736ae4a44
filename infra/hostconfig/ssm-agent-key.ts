// AWS's public key for the SSM agent's package signatures, as hosts get it: a binary keyring, since
// gpgv reads no armored keys and Debian's EC2 images have no gpg to dearmor one at boot.
import { createHash } from "crypto";
import { readFileSync } from "fs";
import { join } from "path";

/**
 * The armored key, verbatim as AWS publishes it ("Verifying the signature of SSM Agent",
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/verify-agent-signature.html):
 * "SSM Agent <ssm-agent-signer@amazon.com>", RSA 4096, created 2026-06-04, expires 2027-11-25,
 * fingerprint 1C5B 395C BE5E 74E2 F1CA 2159 2784 DBF3 88D1 9D46. Packages AWS signs with a newer
 * key fail verification on hosts until this file holds that key.
 */
export const SSM_AGENT_KEY_FILE = join(__dirname, "keys", "amazon-ssm-agent.asc");

const BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
const END = "-----END PGP PUBLIC KEY BLOCK-----";
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;
const CHECKSUM_LINE = /^=([A-Za-z0-9+/]{4})$/;

/** The OpenPGP CRC-24 of `data` (RFC 4880 §6.1). */
export function crc24(data: Uint8Array): number {
  let crc = 0xb704ce;
  for (const byte of data) {
    crc ^= byte << 16;
    for (let i = 0; i < 8; i++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= 0x1864cfb;
    }
  }
  return crc & 0xffffff;
}

/**
 * The binary packets of an ASCII-armored public key block (RFC 4880 §6.2). Throws when the block,
 * its blank line after the armor headers or its checksum line is missing, when the body is not
 * base64, and when the body's CRC-24 differs from the checksum: a damaged key is never shipped.
 */
export function dearmorPublicKey(armored: string): Buffer {
  const lines = armored.split(/\r?\n/).map((line) => line.trimEnd());
  const begin = lines.indexOf(BEGIN);
  const end = begin < 0 ? -1 : lines.indexOf(END, begin + 1);
  if (end < 0) throw new Error(`no armored public key: expected a "${BEGIN}" ... "${END}" block`);
  const inner = lines.slice(begin + 1, end);
  const headersEnd = inner.indexOf("");
  if (headersEnd < 0) {
    throw new Error("armored key has no blank line after its armor headers (RFC 4880 §6.2)");
  }
  const body = inner.slice(headersEnd + 1).filter((line) => line !== "");
  const checksum = CHECKSUM_LINE.exec(body[body.length - 1] ?? "");
  if (!checksum) {
    throw new Error(
      `armored key has no checksum line ("=" and 4 base64 characters) before "${END}"`,
    );
  }
  const base64 = body.slice(0, -1);
  const bad = base64.findIndex((line) => !BASE64_LINE.test(line));
  if (bad >= 0) throw new Error(`armored key body is not base64: "${base64[bad]}"`);
  const text = base64.join("");
  const data = Buffer.from(text, "base64");
  // Node skips characters it cannot decode: re-encoding shows whether every one was used.
  if (data.toString("base64") !== text) throw new Error("armored key body is not valid base64");
  const expected = Buffer.from(checksum[1], "base64").readUIntBE(0, 3);
  const actual = crc24(data);
  if (actual !== expected) {
    const hex = (n: number) => n.toString(16).padStart(6, "0");
    throw new Error(
      `armored key is damaged: its checksum line says CRC-24 ${hex(expected)}, the body has ${hex(actual)}`,
    );
  }
  return data;
}

interface Packet {
  readonly tag: number;
  readonly body: Buffer;
  /** Header and body, as they appear in the keyring. */
  readonly raw: Buffer;
}

/** The packets of a binary OpenPGP key (RFC 4880 §4.2: old and new headers, no partial lengths). */
export function openpgpPackets(data: Buffer): Packet[] {
  const out: Packet[] = [];
  let i = 0;
  while (i < data.length) {
    const start = i;
    const ctb = data[i++];
    if (!(ctb & 0x80)) throw new Error(`OpenPGP data: no packet header at byte ${start}`);
    let tag: number;
    let len: number;
    if (ctb & 0x40) {
      tag = ctb & 0x3f;
      const o = data[i++];
      if (o < 192) len = o;
      else if (o < 224) len = ((o - 192) << 8) + data[i++] + 192;
      else if (o === 255) [len, i] = [data.readUInt32BE(i), i + 4];
      else throw new Error(`OpenPGP data: partial body length at byte ${start}, not used in keys`);
    } else {
      tag = (ctb >> 2) & 0x0f;
      const size = [1, 2, 4][ctb & 3];
      if (size === undefined)
        throw new Error(`OpenPGP data: indeterminate length at byte ${start}`);
      [len, i] = [data.readUIntBE(i, size), i + size];
    }
    if (i + len > data.length)
      throw new Error(`OpenPGP data: packet at byte ${start} is cut short`);
    out.push({ tag, body: data.subarray(i, i + len), raw: data.subarray(start, i + len) });
    i += len;
  }
  return out;
}

/** The key ID (hex) of a v4 signature's issuer: subpacket 16, or 33 (issuer fingerprint). */
function signatureIssuer(sig: Buffer): string | undefined {
  if (sig[0] !== 4) return undefined;
  let i = 4;
  for (let area = 0; area < 2; area++) {
    const end = i + 2 + sig.readUInt16BE(i);
    i += 2;
    while (i < end) {
      let len = sig[i++];
      if (len >= 192 && len < 255) len = ((len - 192) << 8) + sig[i++] + 192;
      else if (len === 255) [len, i] = [sig.readUInt32BE(i), i + 4];
      const data = sig.subarray(i + 1, i + len);
      if ((sig[i] & 0x7f) === 16) return data.toString("hex");
      if ((sig[i] & 0x7f) === 33) return data.subarray(data.length - 8).toString("hex");
      i += len;
    }
  }
  return undefined;
}

/** The key ID (hex) of a v4 public key packet: the low 64 bits of its fingerprint (RFC 4880 §12.2). */
function keyId(body: Buffer): string {
  const head = Buffer.from([0x99, body.length >> 8, body.length & 0xff]);
  return createHash("sha1").update(head).update(body).digest().subarray(12).toString("hex");
}

/**
 * A key with its own signatures only: others' certifications of it (AWS's previous key signed this
 * one) are not needed to verify a package and cost half a kilobyte of every host's user data.
 */
export function selfSignedOnly(key: Buffer): Buffer {
  const packets = openpgpPackets(key);
  const primary = packets.find((p) => p.tag === 6);
  if (!primary) throw new Error("OpenPGP data: no public key packet");
  const own = keyId(primary.body);
  return Buffer.concat(
    packets.filter((p) => p.tag !== 2 || signatureIssuer(p.body) === own).map((p) => p.raw),
  );
}

/** AWS's SSM agent signing key as a binary keyring, the one keyring hosts verify the agent with. */
export function ssmAgentKeyring(): Buffer {
  return selfSignedOnly(dearmorPublicKey(readFileSync(SSM_AGENT_KEY_FILE, "utf8")));
}

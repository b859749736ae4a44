// AWS's public key for the SSM agent's package signatures, as hosts get it: a binary keyring, since
// gpgv reads no armored keys and Debian's EC2 images have no gpg to dearmor one at boot.
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

/** AWS's SSM agent signing key as a binary keyring, the one keyring hosts verify the agent with. */
export function ssmAgentKeyring(): Buffer {
  return dearmorPublicKey(readFileSync(SSM_AGENT_KEY_FILE, "utf8"));
}

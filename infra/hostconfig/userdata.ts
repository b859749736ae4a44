// cloud-init user data: the role's files staged by `write_files`, then one command that hands the
// role's first boot to a systemd unit. The
// whole document is gzipped (cloud-init decompresses gzipped user data itself), which keeps a host's
// scripts and settings far below EC2's limit while every file stays plain text inside.
import { gunzipSync, gzipSync } from "zlib";
import { parse, stringify } from "yaml";
import { HostFile, hostFiles } from "./files";
import { BOOT_COMMAND } from "./scripts";
import { HostConfig } from "./types";

/** EC2 refuses user data above 16 KB, counted before base64 (here: the gzipped document). */
export const USER_DATA_LIMIT = 16384;

interface WriteFile {
  path: string;
  content: string;
  /** Left out for 0644, cloud-init's default (files are root-owned by default too). */
  permissions?: string;
  encoding?: "b64";
}

function writeFile(file: HostFile): WriteFile {
  const base = {
    path: file.path,
    ...(file.permissions === "0644" ? {} : { permissions: file.permissions }),
  };
  return typeof file.content === "string"
    ? { ...base, content: file.content }
    : { ...base, content: Buffer.from(file.content).toString("base64"), encoding: "b64" };
}

/** One gzip per distinct document and process: every master of a pool renders the same bytes. */
const gzipped = new Map<string, Buffer>();

function gzip(text: string): Buffer {
  let gz = gzipped.get(text);
  if (gz === undefined) {
    // gzip from Node has a fixed header (no timestamp), so the same input renders the same user data.
    gz = gzipSync(Buffer.from(text), { level: 9 });
    gzipped.set(text, gz);
  }
  return gz;
}

/**
 * The host's `#cloud-config` document, as cloud-init reads it once decompressed. Throws when its
 * gzipped form would not fit EC2's limit.
 */
export function renderUserData(host: HostConfig): string {
  const doc = {
    write_files: hostFiles(host).map(writeFile),
    runcmd: [[...BOOT_COMMAND]],
  };
  const text = `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
  const size = gzip(text).length;
  if (size > USER_DATA_LIMIT) {
    throw new Error(
      `user data of ${host.certname} is ${size} bytes gzipped, over EC2's ${USER_DATA_LIMIT}-byte limit: shorten the rendered files`,
    );
  }
  return text;
}

/** What an instance's `userDataBase64` carries: the gzipped document, base64-encoded. */
export function encodeUserData(text: string): string {
  return gzip(text).toString("base64");
}

/**
 * The `#cloud-config` text of an instance's recorded inputs, from `userDataBase64` (gzipped or not)
 * or `userData`: what the lab boots and the tests read.
 */
export function instanceUserData(inputs: Readonly<Record<string, unknown>>): string {
  if (typeof inputs.userDataBase64 === "string") {
    const bytes = Buffer.from(inputs.userDataBase64, "base64");
    const gzipMagic = bytes[0] === 0x1f && bytes[1] === 0x8b;
    return (gzipMagic ? gunzipSync(bytes) : bytes).toString("utf8");
  }
  if (typeof inputs.userData === "string") return inputs.userData;
  throw new Error("the instance has neither userData nor userDataBase64");
}

/** A file of decoded user data: what cloud-init's `write_files` leaves on the host. */
export interface UserDataFile {
  readonly path: string;
  readonly content: Buffer;
  /** Octal mode; cloud-init's default 0644 when the entry has none. */
  readonly permissions: string;
}

export interface DecodedUserData {
  readonly files: readonly UserDataFile[];
  /** Each `runcmd` entry as an argv; a string entry runs through `sh -c`, as cloud-init runs it. */
  readonly runcmd: readonly string[][];
}

/**
 * Reads `#cloud-config` user data back into the files it writes and the commands it runs, decoding
 * `write_files` as cloud-init's cc_write_files does (gz, gzip, gz+base64, gzip+base64, gz+b64,
 * gzip+b64, base64, b64, text/plain; YAML `!!binary` content as bytes), so the lab and the tests see
 * what a host would. An unknown encoding is refused: cloud-init would write the encoded text as it
 * is, with only a warning in its log.
 */
export function decodeUserData(userData: string): DecodedUserData {
  if (!userData.startsWith("#cloud-config\n")) {
    throw new Error("user data does not start with #cloud-config");
  }
  const doc = (parse(userData) ?? {}) as {
    write_files?: Array<{
      path: string;
      content?: string | Uint8Array;
      permissions?: string;
      encoding?: string;
    }>;
    runcmd?: Array<string | string[]>;
  };
  const files = (doc.write_files ?? []).map((f): UserDataFile => ({
    path: f.path,
    content: decodeContent(f.content ?? "", f.encoding, f.path),
    permissions: f.permissions ?? "0644",
  }));
  const runcmd = (doc.runcmd ?? []).map((c) => (Array.isArray(c) ? c : ["sh", "-c", c]));
  return { files, runcmd };
}

function decodeContent(content: string | Uint8Array, encoding = "", path: string): Buffer {
  const bytes = (text: "base64" | "latin1") =>
    typeof content === "string" ? Buffer.from(content, text) : Buffer.from(content);
  switch (encoding.toLowerCase().trim()) {
    case "gz":
    case "gzip":
      return gunzipSync(bytes("latin1"));
    case "gz+base64":
    case "gzip+base64":
    case "gz+b64":
    case "gzip+b64":
      return gunzipSync(bytes("base64"));
    case "base64":
    case "b64":
      return bytes("base64");
    case "":
    case "text/plain":
      return typeof content === "string" ? Buffer.from(content, "utf8") : Buffer.from(content);
    default:
      throw new Error(
        `write_files ${path}: encoding ${JSON.stringify(encoding)} is not one cloud-init decodes`,
      );
  }
}

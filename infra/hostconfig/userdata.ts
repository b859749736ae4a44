// cloud-init user data: the role's files staged by `write_files`, then one entry-point script.
import { gzipSync } from "zlib";
import { stringify } from "yaml";
import { HostFile, hostFiles } from "./files";
import { LIB_DIR } from "./paths";
import { entryScript } from "./scripts";
import { HostConfig } from "./types";

/** EC2 refuses user data above 16 KB (before base64). */
export const USER_DATA_LIMIT = 16384;

/** Files above this size are gzipped: small ones stay readable in plans and diffs. */
const COMPRESS_ABOVE = 300;

interface WriteFile {
  path: string;
  content: string;
  /** Left out for 0644, cloud-init's default (files are root-owned by default too): bytes count. */
  permissions?: string;
  encoding?: "gz+b64";
}

/** Every master carries the same scripts: each distinct file is compressed once per process. */
const compressed = new Map<string, string>();

function gzipBase64(content: string): string {
  let gz = compressed.get(content);
  if (gz === undefined) {
    // gzip from Node has a fixed header (no timestamp), so the same input renders the same user data.
    gz = gzipSync(Buffer.from(content), { level: 9 }).toString("base64");
    compressed.set(content, gz);
  }
  return gz;
}

function writeFile(file: HostFile): WriteFile {
  const base = {
    path: file.path,
    ...(file.permissions === "0644" ? {} : { permissions: file.permissions }),
  };
  if (Buffer.byteLength(file.content) <= COMPRESS_ABOVE) {
    return { ...base, content: file.content };
  }
  return { ...base, content: gzipBase64(file.content), encoding: "gz+b64" };
}

export function renderUserData(host: HostConfig): string {
  const doc = {
    write_files: hostFiles(host).map(writeFile),
    runcmd: [[`${LIB_DIR}/${entryScript(host.role)}`]],
  };
  const text = `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
  const size = Buffer.byteLength(text);
  if (size > USER_DATA_LIMIT) {
    throw new Error(
      `user data of ${host.certname} is ${size} bytes, over EC2's ${USER_DATA_LIMIT}-byte limit: shorten the rendered files or lower COMPRESS_ABOVE`,
    );
  }
  return text;
}

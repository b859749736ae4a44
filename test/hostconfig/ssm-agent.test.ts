// AWS's SSM agent signing key as hosts get it, read back by gpg; and ssm-agent.sh run for real
// against packages served from disk, signed by throwaway keys. dpkg, dpkg-query and systemctl are
// stubs that record their calls, so nothing is installed on this machine.
import { execFileSync } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { afterAll, describe, expect, it } from "vitest";
import { SCRIPTS_DIR } from "../../infra/hostconfig";
import {
  SSM_AGENT_KEY_FILE,
  crc24,
  dearmorPublicKey,
  ssmAgentKeyring,
} from "../../infra/hostconfig/ssm-agent-key";
import { itWithTools, run } from "./helpers";

/** As "Verifying the signature of SSM Agent" states them for the current key. */
const AWS_FINGERPRINT = "1C5B395CBE5E74E2F1CA21592784DBF388D19D46";
const AWS_KEY_EXPIRES = "2027-11-25";
const DEB = "amazon-ssm-agent.deb";
const GPG_TOOLS = ["bash", "gpg", "gpgv", "curl", "sha256sum"] as const;

const work = mkdtempSync(join(tmpdir(), "pm-ssm-"));
const gpgHomes: string[] = [];

/** A GnuPG home of its own, so no test reads or writes the user's keyrings. */
function gpgHome(): string {
  const home = mkdtempSync(join(work, "gnupg-"));
  gpgHomes.push(home);
  return home;
}

function gpg(home: string, ...args: string[]): string {
  const r = run("gpg", ["--homedir", home, "--batch", "--yes", ...args]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

afterAll(() => {
  for (const home of gpgHomes) run("gpgconf", ["--homedir", home, "--kill", "gpg-agent"]);
});

/** The `pub`/`fpr`/`uid` records of the keys in a keyring file, as gpg reads them. */
function showKeys(file: string): string[][] {
  return gpg(gpgHome(), "--with-colons", "--show-keys", file)
    .split("\n")
    .filter((line) => /^(pub|fpr|uid):/.test(line))
    .map((line) => line.split(":"));
}

describe("the SSM agent keyring", () => {
  itWithTools(["gpg"], "is AWS's key alone, with the fingerprint and expiry AWS states", () => {
    const file = join(work, "aws.gpg");
    writeFileSync(file, ssmAgentKeyring());
    const records = showKeys(file);
    expect(records.filter((r) => r[0] === "fpr").map((r) => r[9])).toEqual([AWS_FINGERPRINT]);
    expect(records.filter((r) => r[0] === "uid").map((r) => r[9])).toEqual([
      "SSM Agent <ssm-agent-signer@amazon.com>",
    ]);
    const pub = records.find((r) => r[0] === "pub") ?? [];
    expect(new Date(Number(pub[6]) * 1000).toISOString().slice(0, 10)).toBe(AWS_KEY_EXPIRES);
  });

  itWithTools(
    ["gpg"],
    "holds the packets of the .asc file but others' signatures, as gpg lists them",
    () => {
      const out = join(work, "dearmored.gpg");
      gpg(gpgHome(), "--output", out, "--dearmor", SSM_AGENT_KEY_FILE);
      const listed = (file: string) =>
        gpg(gpgHome(), "--list-packets", file)
          .split("\n")
          .filter((line) => line.startsWith(":"))
          .map((line) => line.replace(/^# off=\d+ /, ""));
      const keyring = join(work, "keyring.gpg");
      writeFileSync(keyring, ssmAgentKeyring());
      // The .asc file: key, user ID, its self-signature and AWS's previous key's certification.
      expect(listed(out).filter((l) => l.startsWith(":signature packet"))).toHaveLength(2);
      expect(listed(keyring)).toEqual(
        listed(out).filter(
          (l) => !l.startsWith(":signature packet") || l.includes("2784DBF388D19D46"),
        ),
      );
      expect(ssmAgentKeyring().length).toBeLessThan(readFileSync(out).length);
    },
  );
});

describe("dearmorPublicKey", () => {
  const armored = readFileSync(SSM_AGENT_KEY_FILE, "utf8");

  it("computes RFC 4880's CRC-24 (check value of '123456789' is 21cf02)", () => {
    expect(crc24(Buffer.from("123456789")).toString(16)).toBe("21cf02");
  });

  it("fails when the checksum line does not match the body", () => {
    const checksum = /^=(.{4})$/m.exec(armored)?.[1] ?? "";
    const other = checksum === "AAAA" ? "AAAB" : "AAAA";
    expect(() => dearmorPublicKey(armored.replace(`=${checksum}`, `=${other}`))).toThrow(
      /armored key is damaged: its checksum line says CRC-24 000000/,
    );
  });

  it("fails when one character of the body changed", () => {
    const line = armored.split("\n")[5];
    const changed = line.slice(0, 10) + (line[10] === "A" ? "B" : "A") + line.slice(11);
    expect(() => dearmorPublicKey(armored.replace(line, changed))).toThrow(/damaged/);
  });

  it("fails without a checksum line", () => {
    expect(() => dearmorPublicKey(armored.replace(/^=.{4}\n/m, ""))).toThrow(/no checksum line/);
  });

  it("fails on text that is no armored key", () => {
    expect(() => dearmorPublicKey("mQENBGTt\n")).toThrow(/no armored public key/);
  });
});

interface Signer {
  home: string;
  fingerprint: string;
}

/** A throwaway signing key, no passphrase (ed25519: generated in milliseconds). */
function newSigner(uid: string): Signer {
  const home = gpgHome();
  gpg(home, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never");
  const fpr = gpg(home, "--with-colons", "--list-keys", uid)
    .split("\n")
    .find((line) => line.startsWith("fpr:"));
  return { home, fingerprint: fpr?.split(":")[9] ?? "" };
}

function sign(signer: Signer, file: string): void {
  gpg(
    signer.home,
    "--local-user",
    signer.fingerprint,
    "--detach-sign",
    "--output",
    `${file}.sig`,
    file,
  );
}

let signers: { aws: Signer; other: Signer } | undefined;
/** The key the host trusts, and one that only the caller's own GnuPG home trusts. */
function keys() {
  signers ??= {
    aws: newSigner("Test SSM signer <ssm@example.internal>"),
    other: newSigner("Someone else <other@example.internal>"),
  };
  return signers;
}

const STUBS = {
  dpkg: `#!/bin/sh
case "$1" in
  --print-architecture) echo "\${FAKE_ARCH:-amd64}" ;;
  -i) echo "dpkg -i $(sha256sum "$2" | cut -d' ' -f1)" >>"$FAKE_LOG" ;;
  *) echo "unexpected: dpkg $*" >&2; exit 2 ;;
esac
`,
  "dpkg-query": `#!/bin/sh
[ -n "\${FAKE_STATUS:-}" ] || exit 1
printf '%s' "$FAKE_STATUS"
`,
  systemctl: `#!/bin/sh
echo "systemctl $*" >>"$FAKE_LOG"
`,
};

interface Host {
  dir: string;
  repo: string;
  deb: string;
  debUrl: string;
  tmp: string;
  calls: () => string[];
  run: (env?: NodeJS.ProcessEnv) => ReturnType<typeof run>;
}

/** A host: settings, the staged keyring with the test signer's key only, stubs, a package repo. */
function host(): Host {
  const { aws, other } = keys();
  const dir = mkdtempSync(join(work, "host-"));
  const conf = join(dir, "conf");
  const bin = join(dir, "bin");
  const repo = join(dir, "repo");
  const tmp = join(dir, "tmp");
  for (const d of [conf, bin, join(repo, "debian_amd64"), tmp]) mkdirSync(d, { recursive: true });
  writeFileSync(join(conf, "host.env"), "REGION='eu-west-1'\n");
  gpg(aws.home, "--output", join(conf, "ssm-agent.gpg"), "--export", aws.fingerprint);
  // The caller's own GnuPG home trusts the other key: the script must not look there.
  gpg(other.home, "--output", join(other.home, "trustedkeys.gpg"), "--export", other.fingerprint);
  for (const [name, text] of Object.entries(STUBS)) {
    writeFileSync(join(bin, name), text, { mode: 0o755 });
  }
  const deb = join(repo, "debian_amd64", DEB);
  writeFileSync(deb, "!<arch>\nnot really a Debian package\n");
  const log = join(dir, "calls.log");
  writeFileSync(log, "");
  return {
    dir,
    repo,
    deb,
    debUrl: `file://${repo}/debian_amd64/${DEB}`,
    tmp,
    calls: () => readFileSync(log, "utf8").split("\n").filter(Boolean),
    run: (env = {}) =>
      run("bash", [join(SCRIPTS_DIR, "ssm-agent.sh")], {
        env: {
          PATH: `${bin}:${process.env.PATH}`,
          HOME: dir,
          GNUPGHOME: other.home,
          TMPDIR: tmp,
          PUPPET_MULTISITE_CONF_DIR: conf,
          PUPPET_MULTISITE_STATE_DIR: join(dir, "state"),
          PUPPET_MULTISITE_SSM_AGENT_URL: `file://${repo}`,
          FAKE_LOG: log,
          ...env,
        },
      }),
  };
}

const sha256 = (file: string) =>
  execFileSync("sha256sum", [file], { encoding: "utf8" }).split(" ")[0];
/** What the script asks of systemd: nothing where systemd does not run (as in containers). */
const START = existsSync("/run/systemd/system") ? ["systemctl enable --now amazon-ssm-agent"] : [];

describe("ssm-agent.sh", () => {
  itWithTools(GPG_TOOLS, "installs the package whose signature verifies, then starts it", () => {
    const h = host();
    sign(keys().aws, h.deb);
    const r = h.run();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`signature of ${h.debUrl} verified`);
    expect(h.calls()).toEqual([`dpkg -i ${sha256(h.deb)}`, ...START]);
    expect(readdirSync(h.tmp)).toEqual([]);
  });

  itWithTools(GPG_TOOLS, "refuses a package changed after signing, naming its URL", () => {
    const h = host();
    sign(keys().aws, h.deb);
    writeFileSync(h.deb, "!<arch>\nsomething else\n");
    const r = h.run();
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`signature check failed for ${h.debUrl}: not installing it`);
    expect(h.calls()).toEqual([]);
    expect(readdirSync(h.tmp)).toEqual([]);
  });

  itWithTools(
    GPG_TOOLS,
    "refuses a package signed by a key outside the staged keyring, even one the caller's GnuPG trusts",
    () => {
      const h = host();
      sign(keys().other, h.deb);
      const r = h.run();
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(`signature check failed for ${h.debUrl}`);
      expect(h.calls()).toEqual([]);
    },
  );

  itWithTools(GPG_TOOLS, "downloads nothing when the agent is installed, only starts it", () => {
    const h = host();
    const r = h.run({
      FAKE_STATUS: "install ok installed",
      PUPPET_MULTISITE_SSM_AGENT_URL: "file:///nonexistent",
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("amazon-ssm-agent already installed");
    expect(h.calls()).toEqual(START);
  });

  itWithTools(GPG_TOOLS, "fails on an architecture AWS publishes no Debian package for", () => {
    const h = host();
    const r = h.run({ FAKE_ARCH: "armhf" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("amd64 and arm64 only, this host is armhf");
    expect(h.calls()).toEqual([]);
  });

  itWithTools(GPG_TOOLS, "does nothing with PUPPET_MULTISITE_SKIP_INSTALL=1 (the lab)", () => {
    const h = host();
    const r = h.run({ PUPPET_MULTISITE_SKIP_INSTALL: "1" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("skipping the amazon-ssm-agent install");
    expect(h.calls()).toEqual([]);
  });
});

// The lab's openssl helpers, against a CA made here: a CSR carries what Puppet's would, and a CRL's
// serials are read as a certificate's serial is printed.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect } from "vitest";
import {
  PP_AUTH_ROLE_OID,
  makeCa,
  makeCsr,
  openssl,
  revokedSerials,
  serialOf,
  signCsr,
} from "../../lab/x509";
import { itWithTools } from "../hostconfig/helpers";

describe("lab x509 helpers", () => {
  itWithTools(["openssl"], "makes a CSR with the challenge, pp_auth_role and alt names", () => {
    const text = openssl(
      ["req", "-noout", "-text"],
      makeCsr("master-1.example.internal", {
        challenge: "secret-1",
        role: "puppet-compile-master",
        altNames: ["master-1.example.internal", "puppet.example.internal"],
      }),
    );
    expect(text).toContain("Subject: CN = master-1.example.internal");
    expect(text).toMatch(/challengePassword\s*:\s*secret-1/);
    expect(text).toContain(`${PP_AUTH_ROLE_OID}:`);
    expect(text).toContain("puppet-compile-master");
    expect(text).toContain("DNS:master-1.example.internal, DNS:puppet.example.internal");
  });

  itWithTools(
    ["openssl"],
    "reads the serials a CRL revokes as serialOf prints a certificate's",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "pm-x509-"));
      const at = (f: string) => join(dir, f);
      makeCa({ key: at("ca.key"), cert: at("ca.pem"), cn: "Test CA" });
      // 0x0A1B: a leading zero openssl prints in one place and not the other.
      const cert = signCsr({
        csr: makeCsr("agent.example.internal"),
        caCert: at("ca.pem"),
        caKey: at("ca.key"),
        serial: "0x0A1B",
      });
      writeFileSync(at("cert.pem"), cert);
      writeFileSync(at("index.txt"), "");
      writeFileSync(at("crlnumber"), "01\n");
      writeFileSync(
        at("ca.cnf"),
        `[ca]\ndefault_ca = x\n[x]\ndatabase = ${at("index.txt")}\ncrlnumber = ${at("crlnumber")}\ndefault_md = sha256\ndefault_crl_days = 2\n`,
      );
      const ca = ["-config", at("ca.cnf"), "-keyfile", at("ca.key"), "-cert", at("ca.pem")];
      openssl(["ca", "-batch", ...ca, "-revoke", at("cert.pem")]);
      const crl = openssl(["ca", "-batch", "-gencrl", ...ca]);
      expect(serialOf(cert)).toBe("A1B");
      expect(revokedSerials(crl)).toEqual(["A1B"]);
    },
  );
});

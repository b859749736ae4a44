// Hosts other than the CA carry the CA certificate's SHA-256 fingerprint instead of the
// certificate: they fetch the certificate from the CA at first boot and install it only when it
// matches (kubeadm's discovery-token-ca-cert-hash works the same way). The CA is verified, never
// trusted on first use.
import { createHash } from "crypto";

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;

/**
 * SHA-256 of the certificate's DER bytes, as `openssl x509 -noout -fingerprint -sha256` prints it
 * (upper-case hex pairs joined by colons). Exactly one certificate: the CA that signs everything.
 */
export function caFingerprint(pem: string): string {
  const blocks = [...pem.matchAll(PEM_BLOCK)];
  if (blocks.length !== 1) {
    throw new Error(
      `the CA certificate must be one PEM certificate, got ${blocks.length} certificate blocks`,
    );
  }
  const der = Buffer.from(blocks[0][1].replace(/\s+/g, ""), "base64");
  const hex = createHash("sha256").update(der).digest("hex").toUpperCase();
  return hex.match(/../g)!.join(":");
}

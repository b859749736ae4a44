import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { CaHost } from "../hostconfig/types";
import { PuppetHost } from "./puppet-host";
import { ReplicatedSecret } from "./replicated-secret";
import { SecretsEncryption } from "./secrets-key";

/** Twenty years: replacing the CA means re-issuing every certificate of every agent. */
const CA_VALIDITY_HOURS = 20 * 365 * 24;

export interface CertificateAuthorityArgs extends SecretsEncryption {
  /**
   * The CA host's first-boot settings, less the CA certificate this component makes. Its `certname`
   * is the host's name and the certificate's subject; `caKeySecret` and `challengeSecret` name the
   * two secrets this component creates, and must differ.
   */
  readonly host: Omit<CaHost, "caCertificatePem">;
  /** Subnet the CA host runs in. */
  readonly subnetId: pulumi.Input<string>;
  /** Security groups of the CA host. */
  readonly securityGroupIds: pulumi.Input<string>[];
  /** EC2 instance type of the CA host. */
  readonly instanceType: string;
  /** AMI the CA host boots (Debian 12: its user data installs packages with apt). */
  readonly ami: pulumi.Input<string>;
  /** Protect the CA key, certificate, challenge, secrets and host from deletion. Default true. */
  readonly protect?: boolean;
  /** Tags of the CA host and of both secrets. Default none. */
  readonly tags?: Record<string, string>;
}

/**
 * The deployment's one Puppet CA: an RSA key and self-signed CA certificate (puppetserver's import
 * accepts RSA only), the key kept in Secrets Manager where only the CA host's role can read it, the
 * autosign challenge beside it, and the CA host itself.
 */
export class CertificateAuthority extends pulumi.ComponentResource {
  public readonly certificatePem: pulumi.Output<string>;
  public readonly hostName: string;
  public readonly privateIp: pulumi.Output<string>;
  public readonly caKeySecretName: string;
  public readonly challengeSecretName: string;

  constructor(
    name: string,
    args: CertificateAuthorityArgs,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("puppet:ca:CertificateAuthority", name, {}, opts);
    const protect = args.protect ?? true;
    const host = args.host;
    if (host.caKeySecret.name === host.challengeSecret.name) {
      throw new Error(
        `CertificateAuthority ${name}: the CA key and the challenge need different secrets, got ${host.caKeySecret.name} for both`,
      );
    }

    const key = new tls.PrivateKey(
      `${name}-key`,
      { algorithm: "RSA", rsaBits: 4096 },
      { parent: this, protect },
    );
    const certificate = new tls.SelfSignedCert(
      `${name}-cert`,
      {
        privateKeyPem: key.privateKeyPem,
        subject: { commonName: `Puppet CA: ${host.certname}` },
        isCaCertificate: true,
        setSubjectKeyId: true,
        validityPeriodHours: CA_VALIDITY_HOURS,
        allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
      },
      { parent: this, protect },
    );
    const challenge = new random.RandomPassword(
      `${name}-challenge`,
      // Letters and digits only: the value travels through YAML (csr_attributes) and shell.
      { length: 40, special: false },
      { parent: this, protect },
    );

    const caHost = new PuppetHost(
      `${name}-host`,
      {
        role: "ca",
        hostName: host.certname,
        config: certificate.certPem.apply((pem): CaHost => ({ ...host, caCertificatePem: pem })),
        subnetId: args.subnetId,
        securityGroupIds: args.securityGroupIds,
        instanceType: args.instanceType,
        ami: args.ami,
        readsSecrets: [host.caKeySecret, host.challengeSecret],
        rootVolumeGb: 50,
        protect,
        replaceOnConfigChange: false,
        tags: args.tags,
      },
      { parent: this },
    );

    const secrets = {
      kmsKeyArn: args.kmsKeyArn,
      replicaKmsKeyArns: args.replicaKmsKeyArns,
      protect,
      tags: args.tags,
    };
    new ReplicatedSecret(
      `${name}-key-secret`,
      {
        ...secrets,
        secretName: host.caKeySecret.name,
        description: `Private key of the Puppet CA ${host.certname} (PEM, RSA)`,
        value: key.privateKeyPem,
        readers: [caHost.roleArn],
      },
      { parent: this },
    );
    new ReplicatedSecret(
      `${name}-challenge-secret`,
      {
        ...secrets,
        secretName: host.challengeSecret.name,
        description: "Challenge password the CA's autosigner requires in every CSR",
        value: challenge.result,
      },
      { parent: this },
    );

    this.certificatePem = certificate.certPem;
    this.hostName = host.certname;
    this.privateIp = caHost.privateIp;
    this.caKeySecretName = host.caKeySecret.name;
    this.challengeSecretName = host.challengeSecret.name;
    this.registerOutputs({ certificatePem: this.certificatePem, privateIp: this.privateIp });
  }
}

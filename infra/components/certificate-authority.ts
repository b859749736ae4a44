import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { CaHost } from "../hostconfig/types";
import { isIamPath } from "../naming";
import { PuppetHost, StateVolumeArgs } from "./puppet-host";
import { ReplicatedSecret } from "./replicated-secret";
import { SecretsEncryption } from "./secrets-key";
import { ScriptStore } from "./script-store";

/** Twenty years: replacing the CA means re-issuing every certificate of every agent. */
const CA_VALIDITY_HOURS = 20 * 365 * 24;

export interface CertificateAuthorityArgs extends SecretsEncryption {
  /**
   * The CA host's first-boot settings, less the CA certificate this component makes. Its `certname`
   * is the host's name and the certificate's subject; `caKeySecret`, `serverChallengeSecret` and
   * `agentChallengeSecret` name the three secrets this component creates, and must differ.
   */
  readonly host: Omit<CaHost, "caCertificatePem">;
  /**
   * IAM path of every Puppet server's instance role, in every site (the CA host's too): only roles
   * under it may read the server challenge.
   */
  readonly serverRolePath: string;
  /**
   * IAM path of the CAs' roles, under `serverRolePath`: the CA host's role, and the standby CA's in
   * another stack, the only roles that may read the CA key.
   */
  readonly caRolePath: string;
  /** Subnet the CA host runs in. */
  readonly subnetId: pulumi.Input<string>;
  /** Security groups of the CA host. */
  readonly securityGroupIds: pulumi.Input<string>[];
  /** EC2 instance type of the CA host. */
  readonly instanceType: string;
  /** AMI the CA host boots (Debian 12: its user data installs packages with apt). */
  readonly ami: pulumi.Input<string>;
  /** The site\'s script store, which the host fetches its scripts from. */
  readonly scripts: ScriptStore;
  /**
   * The CA's state volume (serial, inventory, signed certificates, CRL): it outlives the CA host, so
   * the host is replaceable. Protected with the other stateful resources.
   */
  readonly stateVolume: Omit<StateVolumeArgs, "protect">;
  /**
   * Role ARNs of everyone who runs Pulumi for this stack: with the CA host's role (the key) and the
   * Puppet servers' roles (the server challenge), the only readers of those secrets. Default: the
   * principal running each update, with a warning.
   */
  readonly secretAdministrators?: readonly string[];
  /** Protect the CA key, certificate, challenges, secrets and state volume from deletion. Default true. */
  readonly protect?: boolean;
  /** Tags of the CA host and of both secrets. Default none. */
  readonly tags?: Record<string, string>;
}

/**
 * The deployment's one Puppet CA: an RSA key and self-signed CA certificate (puppetserver's import
 * accepts RSA only), the key kept in Secrets Manager where only the CA host's role can read it, the
 * two autosign challenges beside it (the server challenge, readable by Puppet servers' roles only,
 * and the agent challenge handed to agents), and the CA host itself.
 */
export class CertificateAuthority extends pulumi.ComponentResource {
  public readonly certificatePem: pulumi.Output<string>;
  public readonly hostName: string;
  public readonly privateIp: pulumi.Output<string>;
  public readonly caKeySecretName: string;

  constructor(
    name: string,
    args: CertificateAuthorityArgs,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("puppet:ca:CertificateAuthority", name, {}, opts);
    const protect = args.protect ?? true;
    const host = args.host;
    const secretNames = [
      host.caKeySecret.name,
      host.serverChallengeSecret.name,
      host.agentChallengeSecret.name,
    ];
    const shared = secretNames.find((n, i) => secretNames.indexOf(n) !== i);
    if (shared !== undefined) {
      throw new Error(
        `CertificateAuthority ${name}: the CA key, the server challenge and the agent challenge need a secret each, got ${shared} twice`,
      );
    }
    if (!isIamPath(args.serverRolePath)) {
      throw new Error(
        `CertificateAuthority ${name}: serverRolePath must be an IAM path such as /puppet-multisite/servers/, got ${JSON.stringify(args.serverRolePath)}`,
      );
    }
    if (!isIamPath(args.caRolePath) || !args.caRolePath.startsWith(args.serverRolePath)) {
      throw new Error(
        `CertificateAuthority ${name}: caRolePath must be an IAM path under serverRolePath ${args.serverRolePath} (CAs read the server challenge), got ${JSON.stringify(args.caRolePath)}`,
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
    // Letters and digits only: the values travel through YAML (csr_attributes) and shell.
    const challengeSpec = { length: 40, special: false };
    const serverChallenge = new random.RandomPassword(`${name}-server-challenge`, challengeSpec, {
      parent: this,
      protect,
    });
    // The agent challenge keeps the child name of the deployment's first, single challenge.
    const agentChallenge = new random.RandomPassword(`${name}-challenge`, challengeSpec, {
      parent: this,
      protect,
    });

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
        scripts: args.scripts,
        readsSecrets: [host.caKeySecret, host.serverChallengeSecret, host.agentChallengeSecret],
        rolePath: args.caRolePath,
        stateVolume: { ...args.stateVolume, protect },
        tags: args.tags,
      },
      { parent: this },
    );

    const secrets = {
      kmsKeyArn: args.kmsKeyArn,
      replicaKmsKeyArns: args.replicaKmsKeyArns,
      administrators: args.secretAdministrators,
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
        // The CAs' roles, this stack's and the standby's, by path: that role belongs to another
        // stack and may not exist yet.
        readerRolePaths: [args.caRolePath],
      },
      { parent: this },
    );
    new ReplicatedSecret(
      `${name}-server-challenge-secret`,
      {
        ...secrets,
        secretName: host.serverChallengeSecret.name,
        description:
          "Challenge password of Puppet servers' CSRs (compile masters, PuppetDB hosts): with it the CA signs server roles",
        value: serverChallenge.result,
        readerRolePaths: [args.serverRolePath],
      },
      { parent: this },
    );
    new ReplicatedSecret(
      `${name}-challenge-secret`,
      {
        ...secrets,
        secretName: host.agentChallengeSecret.name,
        description:
          "Challenge password of agents' CSRs: the CA signs agents that carry it (never a server role or name)",
        value: agentChallenge.result,
      },
      { parent: this },
    );

    this.certificatePem = certificate.certPem;
    this.hostName = host.certname;
    this.privateIp = caHost.privateIp;
    this.caKeySecretName = host.caKeySecret.name;
    this.registerOutputs({ certificatePem: this.certificatePem, privateIp: this.privateIp });
  }
}

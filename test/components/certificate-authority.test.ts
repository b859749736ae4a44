import { instanceUserData } from "../../infra/hostconfig";
import { describe, expect, it } from "vitest";
import { CertificateAuthority } from "../../infra/components/certificate-authority";
import { SECRET } from "../../tools/plan/plan";
import { runProgram, userDataFiles } from "../harness";
import { DOMAIN, caHost, scriptStore } from "./fixtures";

const ca = (protect?: boolean, host = caHost(), serverRolePath = "/puppet-multisite/servers/") =>
  new CertificateAuthority("site-a-ca", {
    host,
    subnetId: "subnet-1",
    securityGroupIds: ["sg-1"],
    instanceType: "m6i.large",
    ami: "ami-0123456789abcdef0",
    scripts: scriptStore("site-a-ca"),
    kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/primary",
    replicaKmsKeyArns: { "eu-west-1": "arn:aws:kms:eu-west-1:123456789012:key/replica" },
    serverRolePath,
    caRolePath: `${serverRolePath}ca/`,
    stateVolume: { sizeGb: 10, availabilityZone: "us-east-1a" },
    protect,
  });

describe("CertificateAuthority", () => {
  it("makes an RSA CA certificate puppetserver can import", async () => {
    const run = await runProgram(() => void ca());
    const [key] = run.ofType("tls:index/privateKey:PrivateKey");
    expect(key.inputs).toMatchObject({ algorithm: "RSA", rsaBits: 4096 });
    const [cert] = run.ofType("tls:index/selfSignedCert:SelfSignedCert");
    expect(cert.inputs).toMatchObject({
      isCaCertificate: true,
      setSubjectKeyId: true,
      subject: { commonName: `Puppet CA: ca.${DOMAIN}` },
    });
    expect(cert.inputs.allowedUses).toEqual(
      expect.arrayContaining(["cert_signing", "crl_signing"]),
    );
    expect(cert.inputs.privateKeyPem).toBe(SECRET);
  });

  it("keeps the key and both challenges secret, in KMS-encrypted secrets replicated to the other region", async () => {
    const run = await runProgram(() => void ca());
    const secrets = run.ofType("aws:secretsmanager/secret:Secret");
    expect(secrets.map((s) => s.inputs.name).sort()).toEqual([
      "puppet-multisite/site-a/ca-key",
      "puppet-multisite/site-a/challenge",
      "puppet-multisite/site-a/server-challenge",
    ]);
    for (const secret of secrets) {
      expect(secret.inputs.kmsKeyId).toBe("arn:aws:kms:us-east-1:123456789012:key/primary");
      expect(secret.inputs.replicas).toEqual([
        { region: "eu-west-1", kmsKeyId: "arn:aws:kms:eu-west-1:123456789012:key/replica" },
      ]);
    }
    const versions = run.ofType("aws:secretsmanager/secretVersion:SecretVersion");
    expect(versions).toHaveLength(3);
    for (const v of versions) expect(v.inputs.secretString).toBe(SECRET);
    const challenges = run.ofType("random:index/randomPassword:RandomPassword");
    // The agent challenge keeps the child name of the first, single challenge.
    expect(challenges.map((c) => c.name).sort()).toEqual([
      "site-a-ca-challenge",
      "site-a-ca-server-challenge",
    ]);
    for (const c of challenges) expect(c.inputs).toMatchObject({ length: 40, special: false });
  });

  /** The resource policy of the secret whose child name contains `part`, parsed. */
  function secretPolicy(run: Awaited<ReturnType<typeof runProgram>>, part: string) {
    const policies = run
      .ofType("aws:secretsmanager/secretPolicy:SecretPolicy")
      .filter((p) => p.name.includes(part));
    expect(policies).toHaveLength(1);
    const [secret] = run
      .ofType("aws:secretsmanager/secret:Secret")
      .filter((s) => s.name.includes(part));
    expect(policies[0].dependencies).toContain(secret.urn);
    // Written after the value, so the provider can still read it back on creation.
    const [version] = run
      .ofType("aws:secretsmanager/secretVersion:SecretVersion")
      .filter((v) => v.name.includes(part));
    expect(policies[0].dependencies).toContain(version.urn);
    return JSON.parse(policies[0].inputs.policy as string) as {
      Statement: Record<string, unknown>[];
    };
  }

  it("lets only the CAs' roles read the key: this host's and the standby's, by their IAM path", async () => {
    const run = await runProgram(() => void ca());
    const [caRole] = run.ofType("aws:iam/role:Role");
    expect(caRole.inputs.path).toBe("/puppet-multisite/servers/ca/");
    expect(secretPolicy(run, "-key-secret").Statement).toEqual([
      {
        Sid: "OnlyNamedReaders",
        Effect: "Deny",
        Principal: "*",
        Action: "secretsmanager:GetSecretValue",
        // The secret itself, in every region it is replicated to.
        Resource: "*",
        Condition: {
          ArnNotLike: {
            "aws:PrincipalArn": [
              "arn:aws:iam::123456789012:role/puppet-multisite/servers/ca/*",
              // The principal running Pulumi (an assumed role, named by its role ARN).
              "arn:aws:iam::123456789012:role/deployer",
            ],
          },
        },
      },
    ]);
  });

  it("lets only roles under the servers' IAM path read the server challenge, the CA's first", async () => {
    const run = await runProgram(() => void ca());
    expect(secretPolicy(run, "-server-challenge-secret").Statement[0].Condition).toEqual({
      ArnNotLike: {
        "aws:PrincipalArn": [
          "arn:aws:iam::123456789012:role/puppet-multisite/servers/*",
          "arn:aws:iam::123456789012:role/deployer",
        ],
      },
    });
    // The CA's own role is under that path too: it checks servers' CSRs against the challenge.
    const [caRole] = run.ofType("aws:iam/role:Role");
    expect(caRole.inputs.path).toMatch(/^\/puppet-multisite\/servers\//);
    // The agent challenge is handed to agents' provisioning: IAM alone decides who reads it.
    expect(
      run
        .ofType("aws:secretsmanager/secretPolicy:SecretPolicy")
        .filter((p) => p.name.startsWith("site-a-ca-challenge-secret")),
    ).toEqual([]);
  });

  it("runs the CA host with the CA enabled, its certificate in user data and no secret value", async () => {
    const run = await runProgram(() => void ca());
    const [instance] = run.ofType("aws:ec2/instance:Instance");
    const userData = instanceUserData(instance.inputs);
    expect(userData).not.toContain("planned-");
    expect(userData).not.toContain("PRIVATE KEY");
    const files = userDataFiles(userData);
    expect(Object.values(files).join("\n")).toContain("(planned site-a-ca-cert)");
    const services = files["/etc/puppet-multisite/puppetserver/ca.cfg"];
    expect(services).toContain("certificate-authority-service/certificate-authority-service");
    expect(services).not.toContain("disabled");
  });

  it("protects the key, certificate, challenges, secrets and state volume by default", async () => {
    const run = await runProgram(() => void ca());
    const statefulTypes = [
      "tls:index/privateKey:PrivateKey",
      "tls:index/selfSignedCert:SelfSignedCert",
      "random:index/randomPassword:RandomPassword",
      "aws:secretsmanager/secret:Secret",
      "aws:ebs/volume:Volume",
    ];
    const stateful = run.resources.filter((r) => statefulTypes.includes(r.type));
    expect([...new Set(stateful.map((r) => r.type))].sort()).toEqual([...statefulTypes].sort());
    expect(stateful.filter((r) => !r.protect).map((r) => `${r.type} ${r.name}`)).toEqual([]);
    // The CA's state is on its volume, mounted where puppetserver keeps the CA directory: the host
    // itself is replaced for a new configuration like any other.
    const [instance] = run.ofType("aws:ec2/instance:Instance");
    expect(instance.protect).toBe(false);
    expect(instance.inputs.userDataReplaceOnChange).toBe(true);
    expect(
      userDataFiles(instanceUserData(instance.inputs))["/etc/puppet-multisite/host.env"],
    ).toContain("STATE_MOUNT_POINT='/etc/puppet/puppetserver/ca'");
    const unprotected = await runProgram(() => void ca(false));
    expect(unprotected.resources.filter((r) => r.protect)).toEqual([]);
  });

  it("fails when the key and a challenge would share a secret", async () => {
    const host = caHost();
    await expect(
      runProgram(() => void ca(true, { ...host, caKeySecret: host.serverChallengeSecret })),
    ).rejects.toThrow(
      "the CA key, the server challenge and the agent challenge need a secret each, got puppet-multisite/site-a/server-challenge twice",
    );
  });

  it("fails when the two challenges would share a secret", async () => {
    const host = caHost();
    await expect(
      runProgram(
        () => void ca(true, { ...host, agentChallengeSecret: host.serverChallengeSecret }),
      ),
    ).rejects.toThrow("got puppet-multisite/site-a/server-challenge twice");
  });

  it("fails when serverRolePath is not an IAM path", async () => {
    await expect(runProgram(() => void ca(true, caHost(), "servers"))).rejects.toThrow(
      'serverRolePath must be an IAM path such as /puppet-multisite/servers/, got "servers"',
    );
  });
});

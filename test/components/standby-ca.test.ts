import { describe, expect, it } from "vitest";
import {
  StandbyCertificateAuthority,
  StandbyCertificateAuthorityArgs,
} from "../../infra/components/standby-ca";
import { instanceUserData } from "../../infra/hostconfig";
import { caFingerprint } from "../../infra/hostconfig/ca-pin";
import { CaHost } from "../../infra/hostconfig/types";
import { PlanError } from "../../tools/plan/plan";
import { runProgram, userDataFiles } from "../harness";
import { CA_PEM, DOMAIN, caHost, masterHost, scriptStore, standbyCaHost } from "./fixtures";

const ROLE_PATH = "/puppet-multisite/servers/ca/";

const args = (
  overrides: Partial<StandbyCertificateAuthorityArgs> = {},
): StandbyCertificateAuthorityArgs => ({
  host: standbyCaHost(),
  caCertificatePem: CA_PEM,
  rolePath: ROLE_PATH,
  subnetId: "subnet-b1",
  securityGroupIds: ["sg-servers"],
  instanceType: "m6i.large",
  ami: "ami-0123456789abcdef0",
  scripts: scriptStore("site-b", "site-b"),
  stateVolume: {
    sizeGb: 10,
    availabilityZone: "eu-west-1a",
    snapshotTags: { "puppet:snapshots": "puppet-multisite-site-b" },
  },
  ...overrides,
});

/** The standby's plan in the failover site's region; the program returns its public outputs. */
function plan(overrides: Partial<StandbyCertificateAuthorityArgs> = {}) {
  return runProgram(
    () => {
      const standby = new StandbyCertificateAuthority("site-b-standby-ca", args(overrides));
      return { hostName: standby.hostName, privateIp: standby.privateIp, roleArn: standby.roleArn };
    },
    { stack: "site-b", region: "eu-west-1" },
  );
}

describe("StandbyCertificateAuthority", () => {
  it("runs one CA host named ca.site-b.<domain>, its role under the CAs' IAM path, the one the CA key admits", async () => {
    const run = await plan();
    const instances = run.ofType("aws:ec2/instance:Instance");
    expect(instances.map((i) => i.name)).toEqual(["site-b-standby-ca-host-instance"]);
    expect(instances[0].inputs.tags).toMatchObject({
      Name: `ca.site-b.${DOMAIN}`,
      "puppet:role": "ca",
    });
    expect(instances[0].inputs).toMatchObject({
      subnetId: "subnet-b1",
      vpcSecurityGroupIds: ["sg-servers"],
      instanceType: "m6i.large",
    });
    const roles = run.ofType("aws:iam/role:Role");
    expect(roles.map((r) => `${r.name} ${String(r.inputs.path)}`)).toEqual([
      `site-b-standby-ca-host-role ${ROLE_PATH}`,
    ]);
    expect(run.outputs).toEqual({
      hostName: `ca.site-b.${DOMAIN}`,
      privateIp: instances[0].outputs.privateIp,
      roleArn: roles[0].outputs.arn,
    });
  });

  it("lets its host read the CA key and both challenges in its own region (eu-west-1), and no other secret", async () => {
    const run = await plan();
    const [policy] = run.ofType("aws:iam/rolePolicy:RolePolicy");
    const doc = JSON.parse(policy.inputs.policy as string) as {
      Statement: { Sid: string; Resource: unknown; Condition?: unknown }[];
    };
    expect(doc.Statement.find((s) => s.Sid === "ReadOwnSecrets")?.Resource).toEqual([
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:puppet-multisite/site-a/ca-key-??????",
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:puppet-multisite/site-a/server-challenge-??????",
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:puppet-multisite/site-a/challenge-??????",
    ]);
    expect(doc.Statement.find((s) => s.Sid === "DecryptThroughSecretsManager")?.Condition).toEqual({
      StringEquals: { "kms:ViaService": ["secretsmanager.eu-west-1.amazonaws.com"] },
    });
  });

  it("creates no key, certificate, challenge or secret: those are the active CA's stack's", async () => {
    const run = await plan();
    const owned = run.resources.filter((r) =>
      /^(tls|random):|^aws:secretsmanager\/|^aws:kms\//.test(r.type),
    );
    expect(owned.map((r) => `${r.type} ${r.name}`)).toEqual([]);
  });

  it("keeps its state on a protected, encrypted volume tagged role ca, in the zone given, snapshotted", async () => {
    const run = await plan();
    const volumes = run.ofType("aws:ebs/volume:Volume");
    expect(volumes).toHaveLength(1);
    expect(volumes[0].protect).toBe(true);
    expect(volumes[0].inputs).toMatchObject({
      availabilityZone: "eu-west-1a",
      size: 10,
      encrypted: true,
      tags: {
        "puppet:role": "ca",
        "puppet:snapshots": "puppet-multisite-site-b",
        Name: `ca.site-b.${DOMAIN} state`,
      },
    });
    // The host itself is replaced for a new configuration, like any other; only its volume stays.
    const [instance] = run.ofType("aws:ec2/instance:Instance");
    expect(instance.protect).toBe(false);
    expect(instance.inputs.userDataReplaceOnChange).toBe(true);
    expect(
      userDataFiles(instanceUserData(instance.inputs))["/etc/puppet-multisite/host.env"],
    ).toContain(`STATE_VOLUME_ID='${String(volumes[0].id)}'`);
  });

  it("protects nothing when protect is false", async () => {
    const run = await plan({ protect: false });
    expect(run.ofType("aws:ebs/volume:Volume")).toHaveLength(1);
    expect(run.resources.filter((r) => r.protect).map((r) => r.name)).toEqual([]);
  });

  it("starts its host as the standby: CA_MODE='standby', pinning the CA certificate it was given, its sync timer, no secret value", async () => {
    const run = await plan();
    const [instance] = run.ofType("aws:ec2/instance:Instance");
    const userData = instanceUserData(instance.inputs);
    expect(userData).not.toContain("PRIVATE KEY");
    const files = userDataFiles(userData);
    const env = files["/etc/puppet-multisite/host.env"];
    expect(env).toContain("CA_MODE='standby'");
    expect(env).toContain(`CERTNAME='ca.site-b.${DOMAIN}'`);
    expect(env).toContain(`CA_SERVER='ca.${DOMAIN}'`);
    expect(env).toContain(`CA_FINGERPRINT='${caFingerprint(CA_PEM)}'`);
    expect(env).toContain("CA_SYNC_SECONDS='60'");
    expect(env).toContain("CA_KEY_SECRET_REGION='eu-west-1'");
    expect(Object.keys(files).filter((path) => path.includes("/systemd/"))).toEqual([
      "/etc/puppet-multisite/systemd/puppet-multisite-boot.service",
      "/etc/puppet-multisite/systemd/puppet-multisite-ca-sync.service",
      "/etc/puppet-multisite/systemd/puppet-multisite-ca-sync.timer",
    ]);
  });

  it("pins the CA certificate it was given as an Input, as the primary's stack outputs it", async () => {
    const pem = CA_PEM.replace("MIIBtest", "MIIBother");
    expect(caFingerprint(pem)).not.toBe(caFingerprint(CA_PEM));
    const run = await plan({ caCertificatePem: Promise.resolve(pem) });
    const [instance] = run.ofType("aws:ec2/instance:Instance");
    const env = userDataFiles(instanceUserData(instance.inputs))["/etc/puppet-multisite/host.env"];
    expect(env).toContain(`CA_FINGERPRINT='${caFingerprint(pem)}'`);
  });

  it("fails when the host is the active CA, not a standby, and creates nothing", async () => {
    const error = await plan({ host: caHost() }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PlanError);
    expect((error as PlanError).message).toBe(
      `StandbyCertificateAuthority site-b-standby-ca: host must be a CA with standby: true, got the ca ca.${DOMAIN}`,
    );
    // Only the site's script store, which the test makes before the component.
    expect(
      (error as PlanError).resources.filter(
        (r) => r.custom && !r.name.startsWith("site-b-scripts"),
      ),
    ).toEqual([]);
  });

  it("fails when the host is not a CA at all", async () => {
    // What a caller could pass by mistake through an untyped value.
    const host = { ...masterHost(1), standby: true } as unknown as Omit<CaHost, "caCertificatePem">;
    await expect(plan({ host })).rejects.toThrow(
      `StandbyCertificateAuthority site-b-standby-ca: host must be a CA with standby: true, got the compile-master master-1.site-a.${DOMAIN}`,
    );
  });

  it("fails when rolePath is not an IAM path", async () => {
    await expect(plan({ rolePath: "servers/ca" })).rejects.toThrow(
      'StandbyCertificateAuthority site-b-standby-ca: rolePath must be an IAM path such as /puppet-multisite/servers/ca/, got "servers/ca"',
    );
  });
});

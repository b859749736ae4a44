import { instanceUserData } from "../../infra/hostconfig";
import { describe, expect, it } from "vitest";
import { PuppetHost } from "../../infra/components/puppet-host";
import { runProgram, userDataFiles } from "../harness";
import { DOMAIN, masterHost } from "./fixtures";

const host = (protect?: boolean) =>
  new PuppetHost("m1", {
    role: "compile-master",
    hostName: `master-1.site-a.${DOMAIN}`,
    config: masterHost(1),
    subnetId: "subnet-1",
    securityGroupIds: ["sg-1"],
    instanceType: "m6i.large",
    ami: "ami-0123456789abcdef0",
    readsSecrets: [{ name: "puppet-multisite/site-a/challenge", region: "us-east-1" }],
    protect,
  });

describe("PuppetHost", () => {
  it("has no public address, requires IMDSv2 and encrypts its root volume", async () => {
    const run = await runProgram(() => void host());
    const [instance] = run.ofType("aws:ec2/instance:Instance");
    expect(instance.inputs.associatePublicIpAddress).toBe(false);
    expect(instance.inputs.metadataOptions).toMatchObject({
      httpTokens: "required",
      httpPutResponseHopLimit: 1,
    });
    expect(instance.inputs.rootBlockDevice).toMatchObject({ encrypted: true, volumeType: "gp3" });
    expect(instance.inputs.userDataReplaceOnChange).toBe(true);
    expect(instance.inputs.tags).toMatchObject({
      Name: `master-1.site-a.${DOMAIN}`,
      "puppet:role": "compile-master",
    });
  });

  it("renders its role's user data into the instance", async () => {
    const run = await runProgram(() => void host());
    const userData = instanceUserData(run.ofType("aws:ec2/instance:Instance")[0].inputs);
    expect(userData).toMatch(/^#cloud-config\n/);
    const files = userDataFiles(userData);
    expect(files["/etc/puppet-multisite/host.env"]).toMatch(
      new RegExp(`master-1\\.site-a\\.${DOMAIN.replace(/\./g, "\\.")}`),
    );
    expect(files["/etc/puppet-multisite/puppetserver/ca.cfg"]).toContain(
      "certificate-authority-disabled-service",
    );
  });

  it("may use SSM and read only its own secrets, decrypting only through Secrets Manager", async () => {
    const run = await runProgram(() => void host());
    const [attachment] = run.ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment");
    expect(attachment.inputs.policyArn).toBe(
      "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    );
    const policies = run.ofType("aws:iam/rolePolicy:RolePolicy");
    expect(policies).toHaveLength(1);
    const doc = JSON.parse(policies[0].inputs.policy as string) as {
      Statement: { Action: string | string[]; Resource: string | string[]; Condition?: unknown }[];
    };
    expect(doc.Statement[0].Resource).toEqual([
      "arn:aws:secretsmanager:us-east-1:123456789012:secret:puppet-multisite/site-a/challenge-??????",
    ]);
    expect(doc.Statement[1]).toMatchObject({
      Action: "kms:Decrypt",
      Condition: { StringEquals: { "kms:ViaService": ["secretsmanager.us-east-1.amazonaws.com"] } },
    });
    // Only its own secrets: no other statement grants a Secrets Manager action.
    expect(
      doc.Statement.filter((s) =>
        [s.Action].flat().some((a) => a.startsWith("secretsmanager:")),
      ).map((s) => s.Resource),
    ).toEqual([
      [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:puppet-multisite/site-a/challenge-??????",
      ],
    ]);
    const actions = doc.Statement.flatMap((s) => s.Action);
    expect(actions.filter((a) => a.includes("*"))).toEqual([]);
    const [role] = run.ofType("aws:iam/role:Role");
    expect(JSON.parse(role.inputs.assumeRolePolicy as string)).toMatchObject({
      Statement: [{ Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
    });
  });

  it("is protected, with termination disabled and the volume kept, when asked", async () => {
    const run = await runProgram(() => void host(true));
    const [instance] = run.ofType("aws:ec2/instance:Instance");
    expect(instance.protect).toBe(true);
    expect(instance.inputs.disableApiTermination).toBe(true);
    expect(instance.inputs.rootBlockDevice).toMatchObject({ deleteOnTermination: false });
  });

  it("is not protected by default", async () => {
    const run = await runProgram(() => void host());
    expect(run.ofType("aws:ec2/instance:Instance")[0].protect).toBe(false);
  });
});

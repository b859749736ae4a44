import { instanceUserData } from "../../infra/hostconfig";
import { describe, expect, it } from "vitest";
import { PuppetHost, STATE_DEVICE_NAME, StateVolumeArgs } from "../../infra/components/puppet-host";
import { runProgram, userDataFiles } from "../harness";
import { DOMAIN, masterHost, puppetdbHost, scriptStore } from "./fixtures";

const host = () =>
  new PuppetHost("m1", {
    role: "compile-master",
    hostName: `master-1.site-a.${DOMAIN}`,
    config: masterHost(1),
    subnetId: "subnet-1",
    securityGroupIds: ["sg-1"],
    instanceType: "m6i.large",
    ami: "ami-0123456789abcdef0",
    scripts: scriptStore("m1"),
    readsSecrets: [{ name: "puppet-multisite/site-a/challenge", region: "us-east-1" }],
  });

const puppetdb = (stateVolume?: StateVolumeArgs) =>
  new PuppetHost("db", {
    role: "puppetdb",
    hostName: `puppetdb.site-a.${DOMAIN}`,
    config: puppetdbHost(),
    subnetId: "subnet-1",
    securityGroupIds: ["sg-1"],
    instanceType: "m6i.large",
    ami: "ami-0123456789abcdef0",
    scripts: scriptStore("db"),
    readsSecrets: [],
    stateVolume,
  });

const volumeArgs = {
  sizeGb: 50,
  availabilityZone: "us-east-1a",
  snapshotTags: { "puppet:snapshots": "pm-site-a" },
};

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

  it("reads its site's scripts and nothing else of the store, and boots once they are stored", async () => {
    const run = await runProgram(() => void host());
    const [bucket] = run.ofType("aws:s3/bucket:Bucket");
    const scripts = run
      .ofType("aws:iam/rolePolicy:RolePolicy")
      .find((p) => p.name === "m1-scripts")!;
    expect(JSON.parse(scripts.inputs.policy as string)).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "ReadSiteScripts",
          Effect: "Allow",
          Action: "s3:GetObject",
          Resource: `${bucket.outputs.arn as string}/scripts/*`,
        },
      ],
    });
    const env = userDataFiles(instanceUserData(run.ofType("aws:ec2/instance:Instance")[0].inputs));
    expect(env["/etc/puppet-multisite/host.env"]).toContain(
      `SCRIPTS_BUCKET='${bucket.outputs.bucket as string}'`,
    );
    const [instance] = run.ofType("aws:ec2/instance:Instance");
    const objects = run.ofType("aws:s3/bucketObjectv2:BucketObjectv2");
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) expect(instance.dependencies).toContain(o.urn);
  });

  it("may use SSM and read only its own secrets, decrypting only through Secrets Manager", async () => {
    const run = await runProgram(() => void host());
    const [attachment] = run.ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment");
    expect(attachment.inputs.policyArn).toBe(
      "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    );
    const policies = run.ofType("aws:iam/rolePolicy:RolePolicy");
    expect(policies.map((p) => p.name).sort()).toEqual(["m1-scripts", "m1-secrets"]);
    const secrets = policies.find((p) => p.name === "m1-secrets")!;
    const doc = JSON.parse(secrets.inputs.policy as string) as {
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

  it("is cattle: replaced for a new configuration, its root volume deleted with it", async () => {
    const run = await runProgram(() => void host());
    const [instance] = run.ofType("aws:ec2/instance:Instance");
    expect(instance.protect).toBe(false);
    expect(instance.inputs.userDataReplaceOnChange).toBe(true);
    expect(instance.inputs.disableApiTermination).toBeUndefined();
    expect(instance.inputs.rootBlockDevice).toMatchObject({ deleteOnTermination: true });
  });

  it("has no state volume when its role keeps no state", async () => {
    const run = await runProgram(() => void host());
    expect(run.ofType("aws:ebs/volume:Volume")).toEqual([]);
    expect(
      userDataFiles(instanceUserData(run.ofType("aws:ec2/instance:Instance")[0].inputs))[
        "/etc/puppet-multisite/host.env"
      ],
    ).not.toContain("STATE_");
  });
});

describe("PuppetHost state volume", () => {
  it("is an encrypted gp3 volume in the host's zone, protected, tagged for snapshots", async () => {
    const run = await runProgram(() => void puppetdb(volumeArgs));
    const [volume] = run.ofType("aws:ebs/volume:Volume");
    expect(volume.inputs).toMatchObject({
      availabilityZone: "us-east-1a",
      size: 50,
      type: "gp3",
      encrypted: true,
    });
    expect(volume.inputs.tags).toMatchObject({
      "puppet:snapshots": "pm-site-a",
      "puppet:role": "puppetdb",
      Name: `puppetdb.site-a.${DOMAIN} state`,
    });
    expect(volume.protect).toBe(true);
  });

  it("moves to a replacement: detached from a stopped instance, delete-before-replace", async () => {
    const run = await runProgram(() => void puppetdb(volumeArgs));
    const [attachment] = run.ofType("aws:ec2/volumeAttachment:VolumeAttachment");
    const [volume] = run.ofType("aws:ebs/volume:Volume");
    const [instance] = run.ofType("aws:ec2/instance:Instance");
    expect(attachment.inputs).toMatchObject({
      deviceName: STATE_DEVICE_NAME,
      volumeId: volume.id,
      instanceId: instance.id,
      stopInstanceBeforeDetaching: true,
    });
    expect(attachment.deleteBeforeReplace).toBe(true);
  });

  it("names the volume and its mount point in the host's settings", async () => {
    const run = await runProgram(() => void puppetdb(volumeArgs));
    const [volume] = run.ofType("aws:ebs/volume:Volume");
    const env = userDataFiles(instanceUserData(run.ofType("aws:ec2/instance:Instance")[0].inputs))[
      "/etc/puppet-multisite/host.env"
    ];
    expect(env).toContain(`STATE_VOLUME_ID='${volume.id}'`);
    expect(env).toContain("STATE_MOUNT_POINT='/var/lib/puppetdb'");
  });

  it("can be left unprotected for throwaway stacks", async () => {
    const run = await runProgram(() => void puppetdb({ ...volumeArgs, protect: false }));
    expect(run.ofType("aws:ebs/volume:Volume")[0].protect).toBe(false);
  });

  it("fails when a role with state has no volume, naming the fix", async () => {
    await expect(runProgram(() => void puppetdb())).rejects.toThrow(
      "PuppetHost db: the puppetdb role keeps its state on a volume of its own: give stateVolume",
    );
  });

  it("fails when a role without state is given one", async () => {
    await expect(
      runProgram(
        () =>
          void new PuppetHost("m1", {
            role: "compile-master",
            hostName: `master-1.site-a.${DOMAIN}`,
            config: masterHost(1),
            subnetId: "subnet-1",
            securityGroupIds: [],
            instanceType: "m6i.large",
            ami: "ami-0123456789abcdef0",
            scripts: scriptStore("m1"),
            readsSecrets: [],
            stateVolume: volumeArgs,
          }),
      ),
    ).rejects.toThrow("the compile-master role has no state to keep: leave stateVolume out");
  });

  it.each([0, 2.5, 16385])("fails when the size is %s GiB", async (sizeGb) => {
    await expect(runProgram(() => void puppetdb({ ...volumeArgs, sizeGb }))).rejects.toThrow(
      `stateVolume.sizeGb must be a whole number of GiB from 1 to 16384 (gp3), got ${sizeGb}`,
    );
  });
});

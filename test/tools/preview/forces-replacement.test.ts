import { describe, expect, it } from "vitest";
import { PlannedResource } from "../../../tools/plan/plan";
import { forcesReplacement, hasReplacementRules } from "../../../tools/preview/forces-replacement";
import { planDeployment } from "./helpers";

function resource(
  type: string,
  inputs: Record<string, unknown>,
  extra: Partial<PlannedResource> = {},
): PlannedResource {
  return {
    urn: `urn:pulumi:s::p::${type}::r`,
    type,
    name: "r",
    parent: null,
    dependencies: [],
    inputs,
    id: "r-1",
    outputs: {},
    protect: false,
    custom: true,
    provider: null,
    aliases: [],
    ignoreChanges: [],
    replaceOnChanges: [],
    deleteBeforeReplace: false,
    propertyDependencies: {},
    ...extra,
  };
}

const INSTANCE = "aws:ec2/instance:Instance";
const INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";

describe("forcesReplacement", () => {
  it("follows the provider: a zone's name replaces it, its comment does not", () => {
    const zone = resource("aws:route53/zone:Zone", {});
    expect(forcesReplacement(zone, zone, "name")).toBe(true);
    expect(forcesReplacement(zone, zone, "comment")).toBe(false);
  });

  it("replaces an instance for its user data only when it asks to be", () => {
    const asks = resource(INSTANCE, { userDataReplaceOnChange: true });
    const keeps = resource(INSTANCE, {});
    expect(forcesReplacement(asks, asks, "userData")).toBe(true);
    expect(forcesReplacement(keeps, keeps, "userData")).toBe(false);
  });

  it("grows a root volume in place, but re-encrypting it replaces the instance", () => {
    const before = resource(INSTANCE, { rootBlockDevice: { volumeSize: 50, encrypted: true } });
    const bigger = resource(INSTANCE, { rootBlockDevice: { volumeSize: 80, encrypted: true } });
    const plain = resource(INSTANCE, { rootBlockDevice: { volumeSize: 50, encrypted: false } });
    expect(forcesReplacement(before, bigger, "rootBlockDevice")).toBe(false);
    expect(forcesReplacement(before, plain, "rootBlockDevice")).toBe(true);
    expect(forcesReplacement(resource(INSTANCE, {}), before, "rootBlockDevice")).toBe(true);
  });

  it("grows a state volume in place; moving it to another zone replaces it", () => {
    const volume = (inputs: Record<string, unknown>) => resource("aws:ebs/volume:Volume", inputs);
    const before = volume({ availabilityZone: "us-east-1a", size: 10 });
    expect(
      forcesReplacement(before, volume({ availabilityZone: "us-east-1a", size: 20 }), "size"),
    ).toBe(false);
    expect(
      forcesReplacement(
        before,
        volume({ availabilityZone: "us-east-1b", size: 10 }),
        "availabilityZone",
      ),
    ).toBe(true);
    const attachment = resource("aws:ec2/volumeAttachment:VolumeAttachment", {});
    expect(forcesReplacement(attachment, attachment, "instanceId")).toBe(true);
    expect(forcesReplacement(attachment, attachment, "stopInstanceBeforeDetaching")).toBe(false);
  });

  it("updates a snapshot policy in place unless a schedule's copyTags changes", () => {
    const policy = (copyTags: boolean, count: number) =>
      resource("aws:dlm/lifecyclePolicy:LifecyclePolicy", {
        policyDetails: { schedules: [{ copyTags, retainRule: { count } }] },
      });
    expect(forcesReplacement(policy(true, 28), policy(true, 40), "policyDetails")).toBe(false);
    expect(forcesReplacement(policy(true, 28), policy(false, 28), "policyDetails")).toBe(true);
  });

  it("replaces a security group rule whose source changes kind, not one whose CIDR changes", () => {
    const cidr = resource(INGRESS, { cidrIpv4: "10.0.0.0/16" });
    const other = resource(INGRESS, { cidrIpv4: "10.1.0.0/16" });
    const group = resource(INGRESS, { referencedSecurityGroupId: "sg-1" });
    expect(forcesReplacement(cidr, other, "cidrIpv4")).toBe(false);
    expect(forcesReplacement(cidr, group, "cidrIpv4")).toBe(true);
  });

  it("honours the resource's own replaceOnChanges", () => {
    const r = resource("aws:kms/alias:Alias", {}, { replaceOnChanges: ["targetKeyId"] });
    expect(forcesReplacement(r, r, "targetKeyId")).toBe(true);
    expect(forcesReplacement(r, r, "tags")).toBe(false);
  });

  it("has rules for every type the program creates, in both stacks", async () => {
    const plans = await planDeployment();
    const types = new Set(
      [...plans.values()].flatMap((p) => p.resources.filter((r) => r.custom).map((r) => r.type)),
    );
    expect([...types].filter((t) => !hasReplacementRules(t))).toEqual([]);
  });
});

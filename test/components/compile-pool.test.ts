import { instanceUserData } from "../../infra/hostconfig";
import { describe, expect, it } from "vitest";
import { CompileMasterPool, CompileMasterPoolArgs } from "../../infra/components/compile-pool";
import { runProgram, userDataFiles } from "../harness";
import { DOMAIN, masterHost, scriptStore } from "./fixtures";

const members = (...indexes: number[]) =>
  indexes.map((i) => ({ hostName: masterHost(i).certname, config: masterHost(i) }));

const pool = (
  count: number,
  subnets = ["subnet-a", "subnet-b"],
  overrides: Partial<CompileMasterPoolArgs> = {},
) =>
  new CompileMasterPool("site-a-masters", {
    balancerName: "site-a-masters",
    members: members(...Array.from({ length: count }, (_, i) => i + 1)),
    vpcId: "vpc-1",
    subnetIds: subnets,
    securityGroupIds: ["sg-1"],
    balancerSecurityGroupIds: ["sg-lb"],
    instanceType: "m6i.xlarge",
    ami: "ami-0123456789abcdef0",
    scripts: scriptStore("site-a-masters"),
    readsSecrets: [{ name: "puppet-multisite/site-a/challenge", region: "us-east-1" }],
    ...overrides,
  });

describe("CompileMasterPool", () => {
  it("spreads N masters round-robin over the subnets, each with the CA disabled", async () => {
    const run = await runProgram(() => void pool(3));
    const instances = run.ofType("aws:ec2/instance:Instance");
    expect(instances).toHaveLength(3);
    expect(instances.map((i) => i.inputs.subnetId)).toEqual(["subnet-a", "subnet-b", "subnet-a"]);
    expect(
      instances.filter((i) => i.inputs.instanceType !== "m6i.xlarge").map((i) => i.name),
    ).toEqual([]);
    for (const [i, instance] of instances.entries()) {
      const files = userDataFiles(instanceUserData(instance.inputs));
      expect(files["/etc/puppet-multisite/puppetserver/ca.cfg"]).toContain(
        "certificate-authority-disabled-service",
      );
      expect(files["/etc/puppet-multisite/puppet.conf"]).toContain(`ca_server = ca.${DOMAIN}`);
      expect(files["/etc/puppet-multisite/puppet.conf"]).toContain(
        `dns_alt_names = master-${i + 1}.site-a.${DOMAIN},pool.site-a.${DOMAIN},puppet.${DOMAIN}`,
      );
    }
  });

  it("balances 8140 over TCP with an HTTPS /status/v1/simple health check", async () => {
    const run = await runProgram(() => void pool(2));
    const [lb] = run.ofType("aws:lb/loadBalancer:LoadBalancer");
    expect(lb.inputs).toMatchObject({
      loadBalancerType: "network",
      internal: true,
      subnets: ["subnet-a", "subnet-b"],
      // Only possible when the balancer is created.
      securityGroups: ["sg-lb"],
    });
    const [tg] = run.ofType("aws:lb/targetGroup:TargetGroup");
    expect(tg.inputs).toMatchObject({
      port: 8140,
      protocol: "TCP",
      healthCheck: { protocol: "HTTPS", path: "/status/v1/simple", port: "8140", matcher: "200" },
    });
    const [listener] = run.ofType("aws:lb/listener:Listener");
    expect(listener.inputs).toMatchObject({ port: 8140, protocol: "TCP" });
    expect(run.ofType("aws:lb/targetGroupAttachment:TargetGroupAttachment")).toHaveLength(2);
  });

  it("keeps load balancer names within AWS's 32 characters", async () => {
    const run = await runProgram(
      () =>
        void pool(1, ["subnet-a"], { balancerName: "a-very-long-site-name-for-a-region-masters" }),
    );
    const names = [
      ...run.ofType("aws:lb/loadBalancer:LoadBalancer"),
      ...run.ofType("aws:lb/targetGroup:TargetGroup"),
    ].map((r) => r.inputs.name as string);
    expect(names).toHaveLength(2);
    expect(names.filter((n) => n.length > 32)).toEqual([]);
  });

  it("names the balancer and target group with a suffix drawn again whenever either must be replaced", async () => {
    const run = await runProgram(() => void pool(2));
    const suffixes = run.ofType("random:index/randomString:RandomString");
    const suffix = (what: string) =>
      suffixes.find((r) => r.name === `site-a-masters-${what}-name`)!;
    const [lb] = run.ofType("aws:lb/loadBalancer:LoadBalancer");
    const [tg] = run.ofType("aws:lb/targetGroup:TargetGroup");
    expect(lb.inputs.name).toBe(`site-a-masters-${suffix("nlb").outputs.result as string}`);
    expect(tg.inputs.name).toBe(`site-a-masters-${suffix("targets").outputs.result as string}`);
    expect(lb.inputs.name).not.toBe(tg.inputs.name);
    // What forces a replacement is what draws a new suffix (and so a new name).
    expect(suffix("nlb").inputs.keepers).toEqual({
      subnets: "subnet-a,subnet-b",
      securityGroups: "sg-lb",
    });
    expect(suffix("targets").inputs.keepers).toEqual({ vpcId: "vpc-1" });
    expect(suffix("nlb").inputs).toMatchObject({ length: 6, upper: false, special: false });
  });

  it("fails when the balancer has no security group", async () => {
    await expect(
      runProgram(() => void pool(1, ["subnet-a"], { balancerSecurityGroupIds: [] })),
    ).rejects.toThrow("balancerSecurityGroupIds must name at least one security group, got none");
  });

  it("fails when the pool is empty", async () => {
    await expect(runProgram(() => void pool(0))).rejects.toThrow(
      "a pool needs at least one compile master, got 0",
    );
  });

  it("fails when there is no subnet", async () => {
    await expect(runProgram(() => void pool(1, []))).rejects.toThrow(
      "subnetIds must name at least one subnet",
    );
  });

  it("fails when two masters share a name", async () => {
    await expect(
      runProgram(() => void pool(2, ["subnet-a"], { members: members(1, 1) })),
    ).rejects.toThrow(`got master-1.site-a.${DOMAIN} twice`);
  });
});

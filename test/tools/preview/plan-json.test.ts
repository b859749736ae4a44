import { describe, expect, it } from "vitest";
import { readPlanJson } from "../../../tools/preview/plan-json";

/** A plan as an earlier `npm run plan -- --json` printed it: URNs with only the parent's own type. */
const OLD_PLAN = {
  stack: "site-a",
  resources: [
    {
      urn: "urn:pulumi:site-a::proj::pulumi:pulumi:Stack::proj-site-a",
      type: "pulumi:pulumi:Stack",
      name: "proj-site-a",
      parent: null,
      dependencies: [],
      inputs: {},
    },
    {
      urn: "urn:pulumi:site-a::proj::pulumi:pulumi:Stack$puppet:site:Site::site-a",
      type: "puppet:site:Site",
      name: "site-a",
      parent: "urn:pulumi:site-a::proj::pulumi:pulumi:Stack::proj-site-a",
      dependencies: [],
      inputs: {},
      custom: false,
    },
    {
      urn: "urn:pulumi:site-a::proj::puppet:site:Site$puppet:pool:CompileMasterPool::site-a-masters",
      type: "puppet:pool:CompileMasterPool",
      name: "site-a-masters",
      parent: "urn:pulumi:site-a::proj::pulumi:pulumi:Stack$puppet:site:Site::site-a",
      dependencies: [],
      inputs: {},
      custom: false,
    },
    {
      urn: "urn:pulumi:site-a::proj::puppet:pool:CompileMasterPool$aws:lb/loadBalancer:LoadBalancer::site-a-masters-nlb",
      type: "aws:lb/loadBalancer:LoadBalancer",
      name: "site-a-masters-nlb",
      parent:
        "urn:pulumi:site-a::proj::puppet:site:Site$puppet:pool:CompileMasterPool::site-a-masters",
      dependencies: [
        "urn:pulumi:site-a::proj::puppet:site:Site$puppet:pool:CompileMasterPool::site-a-masters",
      ],
      inputs: { internal: true },
      protect: true,
    },
  ],
  outputs: { site: "site-a" },
};

describe("readPlanJson", () => {
  it("derives URNs again from the parent chain, as the engine makes them", () => {
    const plan = readPlanJson(JSON.stringify(OLD_PLAN), "old");
    expect(plan.resources.map((r) => r.urn)).toEqual([
      "urn:pulumi:site-a::proj::pulumi:pulumi:Stack::proj-site-a",
      "urn:pulumi:site-a::proj::puppet:site:Site::site-a",
      "urn:pulumi:site-a::proj::puppet:site:Site$puppet:pool:CompileMasterPool::site-a-masters",
      "urn:pulumi:site-a::proj::puppet:site:Site$puppet:pool:CompileMasterPool$aws:lb/loadBalancer:LoadBalancer::site-a-masters-nlb",
    ]);
    expect(plan.resources[3].parent).toBe(plan.resources[2].urn);
    expect(plan.resources[3].dependencies).toEqual([plan.resources[2].urn]);
  });

  it("gives fields the plan did not have yet their defaults", () => {
    const nlb = readPlanJson(JSON.stringify(OLD_PLAN), "old").resources[3];
    expect(nlb).toMatchObject({
      protect: true,
      custom: true,
      aliases: [],
      ignoreChanges: [],
      replaceOnChanges: [],
      propertyDependencies: {},
      id: null,
      outputs: {},
    });
  });

  it("says where a plan that is not one came from", () => {
    expect(() => readPlanJson("plan failed", "base site-b")).toThrow(
      /^base site-b: the plan is not JSON/,
    );
    expect(() => readPlanJson('{"stack": "x"}', "base site-b")).toThrow(/^base site-b: not a plan/);
  });
});

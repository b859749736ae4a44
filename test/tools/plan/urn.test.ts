import { describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { aliasUrn, makeUrn, parseUrn } from "../../../tools/plan/urn";
import { runProgram } from "../../harness";

const STACK = "urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev";

class Box extends pulumi.ComponentResource {
  constructor(name: string, opts?: pulumi.ComponentResourceOptions) {
    super("test:index:Box", name, {}, opts);
    new pulumi.ComponentResource("test:index:Inner", `${name}-inner`, {}, { parent: this });
  }
}

describe("URNs", () => {
  it("leave the root stack out of the qualified type and chain every other parent's", () => {
    const box = makeUrn("dev", "proj", STACK, "test:index:Box", "b");
    expect(box).toBe("urn:pulumi:dev::proj::test:index:Box::b");
    const inner = makeUrn("dev", "proj", box, "test:index:Inner", "b-inner");
    expect(makeUrn("dev", "proj", inner, "aws:ec2/vpc:Vpc", "v")).toBe(
      "urn:pulumi:dev::proj::test:index:Box$test:index:Inner$aws:ec2/vpc:Vpc::v",
    );
    expect(parseUrn(inner)).toEqual({
      stack: "dev",
      project: "proj",
      qualifiedType: "test:index:Box$test:index:Inner",
      name: "b-inner",
    });
  });

  it("resolve an alias's empty fields to the resource's own", () => {
    const urn = "urn:pulumi:dev::proj::test:index:Box::new";
    expect(aliasUrn({ name: "old" }, urn, STACK)).toBe("urn:pulumi:dev::proj::test:index:Box::old");
    expect(aliasUrn({ urn: "urn:x" }, urn, STACK)).toBe("urn:x");
  });

  it("are what the plan records, with the aliases a program declares", async () => {
    const run = await runProgram(() => {
      new Box("new", { aliases: [{ name: "old" }] });
    });
    const inner = run.named("new-inner");
    expect(inner.urn).toBe(
      "urn:pulumi:test::puppet-multisite::test:index:Box$test:index:Inner::new-inner",
    );
    expect(run.named("new").aliases).toEqual([
      "urn:pulumi:test::puppet-multisite::test:index:Box::old",
    ]);
  });
});

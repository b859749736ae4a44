import * as pulumi from "@pulumi/pulumi";
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { Plan, SECRET, redact } from "../../../tools/plan/plan";
import { PROJECT_DIR as ROOT } from "../../../tools/plan/stack-config";
import { runProgram } from "../../harness";

describe("redact", () => {
  it("replaces secrets, however deep, and keeps everything else", () => {
    const secret = {
      [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig,
      value: "hunter2",
    };
    expect(redact({ a: 1, b: [secret, "x"], c: { d: secret } })).toEqual({
      a: 1,
      b: [SECRET, "x"],
      c: { d: SECRET },
    });
  });
});

describe("planStack", () => {
  it("records type, name, parent, dependencies and resolved inputs, and secret outputs as [secret]", async () => {
    class Thing extends pulumi.CustomResource {
      constructor(name: string, props: pulumi.Inputs, opts: pulumi.CustomResourceOptions) {
        super("test:index:Thing", name, props, opts);
      }
    }
    class Parent extends pulumi.ComponentResource {
      constructor() {
        super("test:index:Parent", "p");
      }
    }
    const run = await runProgram(() => {
      const parent = new Parent();
      const a = new Thing("a", { size: 3 }, { parent });
      const b = new Thing("b", { from: a.urn, password: pulumi.secret("s3cret") }, { parent });
      return { plain: "visible", hidden: pulumi.secret("s3cret"), b: b.urn };
    });
    const a = run.named("a");
    const b = run.named("b");
    expect(a).toMatchObject({
      type: "test:index:Thing",
      parent: run.named("p").urn,
      inputs: { size: 3 },
    });
    expect(b.dependencies).toEqual([a.urn]);
    expect(b.inputs).toEqual({ from: a.urn, password: SECRET });
    expect(run.outputs).toMatchObject({ plain: "visible", hidden: SECRET });
    expect(JSON.stringify(run)).not.toContain("s3cret");
  });
});

describe("npm run plan", () => {
  it("prints the whole plan of site-b as JSON, with site-a's outputs behind its stack reference", () => {
    const out = execFileSync(
      process.execPath,
      ["--import", "tsx", "tools/plan/cli.ts", "--stack", "site-b", "--json"],
      {
        cwd: ROOT,
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    // Larger than a pipe's buffer: a plan cut short at exit would not parse.
    expect(out.length).toBeGreaterThan(65536);
    const plan = JSON.parse(out) as Plan;
    expect(Object.keys(plan)).toEqual(["stack", "resources", "outputs", "calls"]);
    expect(plan.stack).toBe("site-b");
    for (const r of plan.resources) {
      expect(Object.keys(r)).toEqual(
        expect.arrayContaining(["urn", "type", "name", "parent", "dependencies", "inputs"]),
      );
    }
    expect(plan.outputs.caCertificatePem).toContain("(planned site-a-ca-cert)");
  });

  it("names the stacks there are when asked for another", () => {
    let stderr = "";
    try {
      execFileSync(
        process.execPath,
        ["--import", "tsx", "tools/plan/cli.ts", "--stack", "site-z"],
        { cwd: ROOT, stdio: "pipe" },
      );
    } catch (e) {
      stderr = String((e as { stderr: Buffer }).stderr);
    }
    expect(stderr).toContain("stack site-z: no");
    expect(stderr).toContain("the stacks are: site-a, site-b");
  });
});

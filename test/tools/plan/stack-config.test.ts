import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { listStacks, readStackConfig } from "../../../tools/plan/stack-config";

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "pm-stack-config-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe("readStackConfig", () => {
  it("layers the stack file over project-level values, objects as JSON, as the CLI passes them", () => {
    const dir = project({
      "Pulumi.yaml": [
        "name: demo",
        "runtime: nodejs",
        "config:",
        "  demo:domain: a.example",
        "  demo:masters:",
        "    count: 2",
        "  demo:declared:",
        "    type: string",
        "    default: from-default",
      ].join("\n"),
      "Pulumi.one.yaml": [
        "config:",
        "  aws:region: eu-west-1",
        "  demo:domain: b.example",
        "  demo:password:",
        "    secure: v1:abc",
      ].join("\n"),
    });
    const cfg = readStackConfig("one", dir);
    expect(cfg.project).toBe("demo");
    expect(cfg.config).toEqual({
      "demo:domain": "b.example",
      "demo:masters": '{"count":2}',
      "demo:declared": "from-default",
      "aws:region": "eu-west-1",
      "demo:password": "[secret]",
    });
    expect(cfg.secretKeys).toEqual(["demo:password"]);
    expect(listStacks(dir)).toEqual(["one"]);
  });

  it("fails for a stack without a file, naming the stacks there are", () => {
    const dir = project({ "Pulumi.yaml": "name: demo\n", "Pulumi.a.yaml": "config: {}\n" });
    expect(() => readStackConfig("b", dir)).toThrow("the stacks are: a");
  });
});

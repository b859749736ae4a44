// The pack as the Pulumi CLI runs it: Pulumi's policy-pack runner, started in the pack's directory
// with the project's node_modules, compiles index.ts and serves the Analyzer protocol on a loopback
// port; the engine's requests are made here with the SDK's own gRPC client.
import { ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import {
  AnalyzeRequest,
  AnalyzeResponse,
  AnalyzerInfo,
  AnalyzerResourceOptions,
} from "@pulumi/pulumi/proto/analyzer_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policies } from "../../policy/rules";
import { PlannedResource, planStack } from "../../tools/plan/plan";
import { PROJECT_DIR } from "../../tools/plan/stack-config";

let pack: ChildProcess;
let client: AnalyzerClient;
let instance: PlannedResource;

beforeAll(async () => {
  instance = (await planStack("site-a")).resources.find(
    (r) => r.type === "aws:ec2/instance:Instance",
  )!;
  const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack");
  // The CLI passes its own address first and the pack's directory, and reads the port from stdout.
  pack = spawn(process.execPath, [runner, "127.0.0.1:0", "."], {
    cwd: join(PROJECT_DIR, "policy"),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  pack.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<string>((resolve, reject) => {
    pack.stdout!.once("data", (d: Buffer) => resolve(d.toString().trim()));
    pack.once("exit", (code) => reject(new Error(`the pack exited (${code}): ${stderr}`)));
  });
  client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}, 120_000);

afterAll(() => {
  client?.close();
  pack?.kill();
});

/** A unary call as a promise. */
function call<Res>(
  method: (cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown,
): Promise<Res> {
  return new Promise((resolve, reject) => method((err, res) => (err ? reject(err) : resolve(res))));
}

describe("the policy pack served by Pulumi's runner", () => {
  it("declares every policy of rules.ts, mandatory", async () => {
    const info = await call<AnalyzerInfo>((cb) => client.getAnalyzerInfo(new Empty(), cb));
    expect(info.getName()).toBe("puppet-multisite");
    expect(info.getPoliciesList().map((p) => p.getName())).toEqual(policies.map((p) => p.name));
  });

  it("passes a planned instance and reports it once it is public and without IMDSv2", async () => {
    const analyze = async (inputs: Record<string, unknown>) => {
      const options = new AnalyzerResourceOptions();
      options.setProtect(instance.protect);
      const req = new AnalyzeRequest();
      req.setType(instance.type);
      req.setUrn(instance.urn);
      req.setName(instance.name);
      req.setProperties(Struct.fromJavaScript(inputs as Record<string, never>));
      req.setOptions(options);
      const res = await call<AnalyzeResponse>((cb) => client.analyze(req, cb));
      return res.getDiagnosticsList().map((d) => `${d.getPolicyname()}: ${d.getMessage()}`);
    };
    expect(await analyze(instance.inputs)).toEqual([]);
    const bad = {
      ...instance.inputs,
      associatePublicIpAddress: true,
      metadataOptions: { httpTokens: "optional" },
    };
    expect(await analyze(bad)).toEqual([
      expect.stringMatching(/^no-public-address: /),
      expect.stringMatching(/^imdsv2-required: /),
    ]);
  });
});

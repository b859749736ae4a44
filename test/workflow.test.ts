// The pull-request workflow: what it must do (one edited comment, the live preview only with
// credentials, in stack order) and its shell steps under shellcheck. `.ci/run` lints the file with
// actionlint (syntax, expressions, events, permissions, known actions' inputs).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { PROJECT_DIR } from "../tools/plan/stack-config";
import { itWithTools, run } from "./hostconfig/helpers";

interface Step {
  name?: string;
  id?: string;
  if?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  needs?: string[];
  if?: string;
  steps: Step[];
  outputs?: Record<string, string>;
}
interface Workflow {
  on: { pull_request: { types: string[] } };
  permissions: Record<string, string>;
  jobs: Record<string, Job>;
}

const PATH = join(PROJECT_DIR, ".github", "workflows", "preview.yml");
const workflow = parse(readFileSync(PATH, "utf8")) as Workflow;
const scripts = JSON.parse(readFileSync(join(PROJECT_DIR, "package.json"), "utf8")) as {
  scripts: Record<string, string>;
};

function step(job: string, uses: string): Step[] {
  return workflow.jobs[job].steps.filter((s) => s.uses?.startsWith(uses));
}

describe("the pull-request workflow", () => {
  it("declares what it needs: comments on pull requests, an OIDC token for the AWS role", () => {
    expect(workflow.permissions).toEqual({
      contents: "read",
      "pull-requests": "write",
      "id-token": "write",
    });
    expect(workflow.on.pull_request.types).toEqual(
      expect.arrayContaining(["opened", "synchronize", "labeled"]),
    );
  });

  it("installs from the lockfile, runs the README's tests, then the offline preview", () => {
    const runs = workflow.jobs.offline.steps.map((s) => s.run ?? "").join("\n");
    expect(runs).toMatch(/npm ci[^\n]*\n[\s\S]*npm test\n[\s\S]*npm run --silent preview:diff/);
    expect(scripts.scripts["preview:diff"]).toBeDefined();
    expect(
      workflow.jobs.offline.steps.find((s) => s.uses?.startsWith("actions/checkout"))?.with,
    ).toMatchObject({ "fetch-depth": 0 });
  });

  it("posts the report as one comment that each push edits", () => {
    const [comment] = step("offline", "marocchino/sticky-pull-request-comment@");
    expect(comment.with).toEqual({ header: "topology-preview", path: "preview.md" });
    expect(comment.if).toContain("always()");
  });

  it("runs pulumi preview only with credentials, primary first, with the action's comment", () => {
    const live = workflow.jobs.live;
    expect(live.needs).toContain("credentials");
    expect(live.if).toContain("needs.credentials.outputs.ready == 'true'");
    expect(workflow.jobs.credentials.outputs?.ready).toBe("${{ steps.check.outputs.ready }}");
    const check = workflow.jobs.credentials.steps[0];
    expect(check.run).toContain("::notice");
    expect(Object.keys(check.env ?? {}).sort()).toEqual([
      "AWS_ROLE_ARN",
      "PULUMI_ACCESS_TOKEN",
      "PULUMI_BACKEND_URL",
    ]);
    const previews = step("live", "pulumi/actions@");
    expect(previews.map((s) => s.with?.["stack-name"])).toEqual(["site-a", "site-b"]);
    for (const s of previews) {
      expect(s.with).toMatchObject({
        command: "preview",
        "comment-on-pr": true,
        "edit-pr-comment": true,
      });
    }
    const assume = step("live", "aws-actions/configure-aws-credentials@")[0];
    expect(live.steps.indexOf(assume)).toBeLessThan(live.steps.indexOf(previews[0]));
  });

  const shellSteps = Object.entries(workflow.jobs).flatMap(([job, j]) =>
    j.steps.filter((s) => s.run).map((s) => ({ job, step: s })),
  );
  for (const { job, step: s } of shellSteps) {
    itWithTools(
      ["shellcheck"],
      `${job}: "${s.name ?? s.run!.split("\n")[0]}" passes shellcheck`,
      () => {
        // Expressions are substituted before the shell sees the script; a quoted word stands in.
        const script = "#!/usr/bin/env bash\nset -e\n" + s.run!.replace(/\$\{\{[^}]*\}\}/g, "EXPR");
        const r = run("shellcheck", ["-s", "bash", "-"], { input: script });
        expect(r.status, r.stdout + r.stderr).toBe(0);
      },
    );
  }
});

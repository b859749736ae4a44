import { describe, expect, it } from "vitest";
import { LabReport, renderTable } from "../../lab/report";

const report: LabReport = {
  startedAt: "2026-12-01T00:00:00.000Z",
  machine: { cores: 2, memoryGb: 24 },
  options: {},
  scenarios: [
    {
      key: "cold-start",
      id: 1,
      name: "cold start",
      passed: true,
      figures: [{ name: "converged", value: 203.34, unit: " s", target: "< 240 s" }],
      notes: [],
      seconds: 203.4,
    },
    {
      key: "ca-down",
      id: 4,
      name: "CA down",
      passed: false,
      figures: [],
      notes: ["new agent failed"],
      seconds: 58,
    },
  ],
};

describe("renderTable", () => {
  it("gives each scenario a line with its number, name and key, then its figures and notes", () => {
    expect(renderTable(report).split("\n")).toEqual([
      "Lab run 2026-12-01T00:00:00.000Z on 2 cores, 24 GB",
      "",
      "PASS  1. cold start  [cold-start]  (203 s)",
      "        converged 203.3 s (target < 240 s)",
      "FAIL  4. CA down  [ca-down]  (58 s)",
      "        - new agent failed",
      "",
      "Lab: 1 passed, 1 failed",
      "",
    ]);
  });
});

import { describe, expect, it } from "vitest";
import { selectScenarios } from "../../lab/selection";

const CATALOGUE = [
  { key: "cold-start" },
  { key: "local-preference" },
  { key: "failover-stopped", needs: ["local-preference"] },
  { key: "ca-down" },
  { key: "bad-actors" },
];
const keys = (only?: string) => selectScenarios(CATALOGUE, only).map((s) => s.key);

describe("selectScenarios", () => {
  it("runs every scenario, in order, when --only is not given", () => {
    expect(keys()).toEqual(CATALOGUE.map((s) => s.key));
  });

  it("runs the cold start and the scenarios named, in catalogue order", () => {
    expect(keys("bad-actors,ca-down")).toEqual(["cold-start", "ca-down", "bad-actors"]);
  });

  it("adds what a scenario needs", () => {
    expect(keys("failover-stopped")).toEqual([
      "cold-start",
      "local-preference",
      "failover-stopped",
    ]);
  });

  it("fails on an unknown key, naming it and the keys there are", () => {
    expect(() => keys("ca-down,replace-mastr")).toThrow(
      '--only: got "replace-mastr"; expected comma-separated scenario keys: cold-start, local-preference, failover-stopped, ca-down, bad-actors',
    );
  });

  it("fails on a catalogue whose keys are not kebab-case or not unique", () => {
    expect(() => selectScenarios([{ key: "Cold start" }])).toThrow(
      'scenario key "Cold start" is not kebab-case',
    );
    expect(() => selectScenarios([{ key: "a" }, { key: "a" }])).toThrow(
      "scenario key a is used twice",
    );
  });
});

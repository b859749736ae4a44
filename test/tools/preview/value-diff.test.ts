import { describe, expect, it } from "vitest";
import { valueChanges } from "../../../tools/preview/value-diff";

describe("valueChanges", () => {
  it("names the keys of an object that changed", () => {
    expect(
      valueChanges({ Name: "a", site: "x", gone: 1 }, { Name: "b", site: "x", added: 2 }, "tags"),
    ).toEqual([
      { path: "tags.Name", kind: "set", before: "a", after: "b" },
      { path: "tags.added", kind: "set", before: undefined, after: 2 },
      { path: "tags.gone", kind: "set", before: 1, after: undefined },
    ]);
  });

  it("lists the items a list gains and loses, duplicates counted", () => {
    expect(valueChanges(["a", "b", "b"], ["b", "c"], "records")).toEqual([
      { path: "records", kind: "remove", value: "a" },
      { path: "records", kind: "remove", value: "b" },
      { path: "records", kind: "add", value: "c" },
    ]);
    expect(valueChanges(["a", "b"], ["b", "a"], "records")).toEqual([
      { path: "records", kind: "set", before: "(order)", after: "(reordered)" },
    ]);
  });

  it("lists the lines a text gains and loses", () => {
    const before = "#cloud-config\n  BRANCH=production\n  X=1\n";
    const after = "#cloud-config\n  BRANCH=main\n  X=1\n";
    expect(valueChanges(before, after, "userData")).toEqual([
      { path: "userData", kind: "remove", value: "BRANCH=production" },
      { path: "userData", kind: "add", value: "BRANCH=main" },
    ]);
  });

  it("finds nothing between equal values, and compares anything else whole", () => {
    expect(valueChanges({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }, "x")).toEqual([]);
    expect(valueChanges([{ a: 1 }], [{ a: 2 }], "x")).toEqual([
      { path: "x", kind: "set", before: [{ a: 1 }], after: [{ a: 2 }] },
    ]);
  });
});

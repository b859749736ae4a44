import { describe, expect, it } from "vitest";
import { lsnBytes } from "../../lab/database-failover";

describe("lsnBytes", () => {
  it("reads PostgreSQL's WAL positions as bytes: the high word, then the low one", () => {
    expect(lsnBytes("0/0")).toBe(0n);
    expect(lsnBytes("0/3000148")).toBe(0x3000148n);
    expect(lsnBytes("16/B374D848")).toBe((0x16n << 32n) + 0xb374d848n);
    // The difference of two positions is the WAL between them.
    expect(lsnBytes("1/0") - lsnBytes("0/FFFFFFF0")).toBe(16n);
  });

  it("refuses what is not a WAL position, naming it", () => {
    expect(() => lsnBytes("")).toThrow('not a WAL position: ""');
    expect(() => lsnBytes("16/B374D848/1")).toThrow("not a WAL position");
  });
});

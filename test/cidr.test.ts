import { describe, expect, it } from "vitest";
import {
  MAX_AZS,
  SUBNET_PREFIX,
  SUBNET_TIERS,
  TIER_PREFIX,
  VPC_PREFIX,
  cidrsOverlap,
  parseCidr,
  prefixLength,
  subnetCidr,
  tierCidr,
  tierCidrs,
} from "../infra/cidr";
import { SITE_A, SITE_B } from "./fixtures";

/** Integer range [first, last] of a CIDR, computed independently of the module under test. */
function range(cidr: string): [number, number] {
  const [ip, bits] = cidr.split("/");
  const start = ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
  return [start, start + 2 ** (32 - Number(bits)) - 1];
}

function inside(inner: string, outer: string): boolean {
  const [a, b] = range(inner);
  const [c, d] = range(outer);
  return a >= c && b <= d;
}

describe("constants", () => {
  it("carves a /16 into /18 tiers of four /20 subnets", () => {
    expect([VPC_PREFIX, TIER_PREFIX, SUBNET_PREFIX, MAX_AZS]).toEqual([16, 18, 20, 4]);
    expect(SUBNET_TIERS).toEqual(["public", "servers", "data"]);
  });
});

describe("parseCidr", () => {
  it.each([
    "10.40.0.0/16",
    "172.20.0.0/16",
    "10.40.64.0/18",
    "192.168.1.128/25",
    "0.0.0.0/0",
    "10.1.2.3/32",
  ])("accepts %s in network form", (cidr) => {
    const parsed = parseCidr(cidr);
    expect(parsed?.address).toBe(cidr);
    expect(prefixLength(cidr)).toBe(Number(cidr.split("/")[1]));
  });

  it("measures the prefixes around the /8 limit of agent networks", () => {
    expect(["0.0.0.0/0", "172.0.0.0/7", "10.0.0.0/8", "172.20.0.0/16"].map(prefixLength)).toEqual([
      0, 7, 8, 16,
    ]);
  });

  it.each([
    ["host bits set", "10.40.0.1/16"],
    ["host bits in the third octet", "10.40.1.0/16"],
    ["no prefix", "10.40.0.0"],
    ["prefix above 32", "10.40.0.0/33"],
    ["octet above 255", "10.256.0.0/16"],
    ["leading zeros", "10.040.0.0/16"],
    ["three octets", "10.40.0/16"],
    ["IPv6", "fd00::/8"],
    ["junk", "office"],
    ["empty", ""],
    ["whitespace", " 10.40.0.0/16"],
    ["trailing text", "10.40.0.0/16x"],
  ])("rejects %s (%s)", (_what, cidr) => {
    expect(parseCidr(cidr)).toBeUndefined();
  });
});

describe("cidrsOverlap", () => {
  it.each([
    ["10.40.0.0/16", "10.40.0.0/16", true],
    ["10.40.0.0/16", "10.40.0.0/17", true],
    ["10.40.128.0/17", "10.40.0.0/16", true],
    ["10.0.0.0/8", "10.50.0.0/16", true],
    ["10.40.255.255/32", "10.40.0.0/16", true],
    ["10.40.0.0/16", "10.50.0.0/16", false],
    ["10.40.0.0/16", "10.41.0.0/16", false],
    ["10.40.0.0/17", "10.40.128.0/17", false],
    ["10.41.0.0/32", "10.40.0.0/16", false],
    // The agent networks of the stack files, against each other and the VPCs.
    ["172.20.0.0/16", "172.21.0.0/16", false],
    ["172.20.0.0/16", "10.40.0.0/16", false],
    ["172.16.0.0/12", "172.21.0.0/16", true],
    ["172.20.128.0/17", "172.20.0.0/16", true],
  ] as const)("%s and %s overlap: %s", (a, b, expected) => {
    expect(cidrsOverlap(a, b)).toBe(expected);
    expect(cidrsOverlap(b, a)).toBe(expected);
  });
});

describe("tierCidr", () => {
  it("gives each tier its own aligned /18 in catalogue order", () => {
    expect(SUBNET_TIERS.map((t) => tierCidr(SITE_A.vpcCidr, t))).toEqual([
      "10.40.0.0/18",
      "10.40.64.0/18",
      "10.40.128.0/18",
    ]);
    expect(tierCidr(SITE_B.vpcCidr, "data")).toBe("10.50.128.0/18");
  });

  it("keeps every tier inside the VPC and on an /18 boundary", () => {
    for (const vpc of [SITE_A.vpcCidr, SITE_B.vpcCidr]) {
      for (const tier of SUBNET_TIERS) {
        const cidr = tierCidr(vpc, tier);
        expect(parseCidr(cidr), cidr).toBeDefined();
        expect(prefixLength(cidr)).toBe(18);
        expect(inside(cidr, vpc), `${cidr} in ${vpc}`).toBe(true);
      }
    }
  });

  it.each(["10.40.0.0/17", "10.0.0.0/8", "10.40.64.0/18"])(
    "fails when the VPC is not a /16 (%s)",
    (vpc) => {
      expect(() => tierCidr(vpc, "servers")).toThrow(RangeError);
      expect(() => tierCidr(vpc, "servers")).toThrow(`site VPCs are /16, got: ${vpc}`);
    },
  );
});

describe("subnetCidr", () => {
  it("carves /20s from the start of their tier, one per AZ", () => {
    expect(tierCidrs(SITE_A.vpcCidr, "public", MAX_AZS)).toEqual([
      "10.40.0.0/20",
      "10.40.16.0/20",
      "10.40.32.0/20",
      "10.40.48.0/20",
    ]);
    expect(tierCidrs(SITE_A.vpcCidr, "servers", 2)).toEqual(["10.40.64.0/20", "10.40.80.0/20"]);
    expect(tierCidrs(SITE_B.vpcCidr, "data", 3)).toEqual([
      "10.50.128.0/20",
      "10.50.144.0/20",
      "10.50.160.0/20",
    ]);
    expect(subnetCidr(SITE_B.vpcCidr, "data", 3)).toBe("10.50.176.0/20");
  });

  it("depends only on VPC, tier and AZ index: adding AZs never moves an existing subnet", () => {
    for (const tier of SUBNET_TIERS) {
      expect(tierCidrs(SITE_A.vpcCidr, tier, MAX_AZS).slice(0, 2)).toEqual(
        tierCidrs(SITE_A.vpcCidr, tier, 2),
      );
    }
  });

  it("keeps every subnet inside its tier and the VPC, with no two overlapping", () => {
    for (const vpc of [SITE_A.vpcCidr, SITE_B.vpcCidr]) {
      const all: string[] = [];
      for (const tier of SUBNET_TIERS) {
        for (let az = 0; az < MAX_AZS; az++) {
          const cidr = subnetCidr(vpc, tier, az);
          expect(parseCidr(cidr), cidr).toBeDefined();
          expect(prefixLength(cidr)).toBe(20);
          expect(inside(cidr, tierCidr(vpc, tier)), `${cidr} in ${tier}`).toBe(true);
          expect(inside(cidr, vpc), `${cidr} in ${vpc}`).toBe(true);
          all.push(cidr);
        }
      }
      expect(all).toHaveLength(SUBNET_TIERS.length * MAX_AZS);
      for (const [i, a] of all.entries()) {
        for (const b of all.slice(i + 1)) {
          expect(cidrsOverlap(a, b), `${a} vs ${b}`).toBe(false);
          const [[a0, a1], [b0, b1]] = [range(a), range(b)];
          expect(a1 < b0 || b1 < a0, `${a} vs ${b} (independent check)`).toBe(true);
        }
      }
    }
  });

  it("never reaches into another site's VPC", () => {
    const reaching: string[] = [];
    for (const [own, other] of [
      [SITE_A, SITE_B],
      [SITE_B, SITE_A],
    ]) {
      for (const tier of SUBNET_TIERS) {
        for (let az = 0; az < MAX_AZS; az++) {
          const cidr = subnetCidr(own.vpcCidr, tier, az);
          if (cidrsOverlap(cidr, other.vpcCidr))
            reaching.push(`${own.name} ${cidr} in ${other.name}`);
        }
      }
    }
    expect(reaching).toEqual([]);
  });

  it.each([-1, 4, 1.5, Number.NaN])("fails when azIndex is %s", (azIndex) => {
    expect(() => subnetCidr(SITE_A.vpcCidr, "servers", azIndex)).toThrow(RangeError);
    expect(() => subnetCidr(SITE_A.vpcCidr, "servers", azIndex)).toThrow(
      `azIndex must be between 0 and 3 inclusive, got: ${azIndex}`,
    );
  });

  it("fails when the VPC is not a /16", () => {
    expect(() => subnetCidr("10.40.0.0/20", "public", 0)).toThrow(
      "site VPCs are /16, got: 10.40.0.0/20",
    );
  });
});

// CIDR maths for site networks. Pure: no Pulumi here, so every stack (and the lab) carves the same
// subnets from the same VPC CIDR, and one site can compute another site's subnets from config alone.
import { Address4 } from "ip-address";

/** Subnet tiers, each with one subnet per availability zone. */
export const SUBNET_TIERS = ["public", "servers", "data"] as const;
export type SubnetTier = (typeof SUBNET_TIERS)[number];

/** Each tier is one aligned /18 of the VPC, so another site can name a whole tier without knowing
 * how many AZs that site uses (security-group rules across peered VPCs need CIDRs). */
export const TIER_PREFIX = 18;
/** Prefix length of every carved subnet (4,096 addresses): four fit in a tier. */
export const SUBNET_PREFIX = 20;
/** Availability zones a VPC can be carved for. */
export const MAX_AZS = 1 << (SUBNET_PREFIX - TIER_PREFIX);
/** VPCs are /16: room for four /18 tiers. */
export const VPC_PREFIX = 16;

/** Parses an IPv4 CIDR, or returns undefined when it is not one in network form (no host bits). */
export function parseCidr(cidr: string): Address4 | undefined {
  if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(cidr) || !Address4.isValid(cidr)) {
    return undefined;
  }
  const address = new Address4(cidr);
  return address.startAddress().address === address.addressMinusSuffix ? address : undefined;
}

/** True when two CIDRs share at least one address. */
export function cidrsOverlap(a: string, b: string): boolean {
  const x = new Address4(a);
  const y = new Address4(b);
  return x.isInSubnet(y) || y.isInSubnet(x);
}

/** Prefix length of a CIDR. */
export function prefixLength(cidr: string): number {
  return new Address4(cidr).subnetMask;
}

function block(base: string, index: number, prefix: number): string {
  const start =
    new Address4(base).startAddress().bigInt() + BigInt(index) * (1n << BigInt(32 - prefix));
  return `${Address4.fromBigInt(start).address}/${prefix}`;
}

/** The /18 of a tier within a /16 VPC. */
export function tierCidr(vpcCidr: string, tier: SubnetTier): string {
  if (prefixLength(vpcCidr) !== VPC_PREFIX) {
    throw new RangeError(`site VPCs are /${VPC_PREFIX}, got: ${vpcCidr}`);
  }
  return block(vpcCidr, SUBNET_TIERS.indexOf(tier), TIER_PREFIX);
}

/** The /20 of a tier in an availability zone. Depends only on the VPC CIDR, tier and AZ index. */
export function subnetCidr(vpcCidr: string, tier: SubnetTier, azIndex: number): string {
  if (!Number.isInteger(azIndex) || azIndex < 0 || azIndex >= MAX_AZS) {
    throw new RangeError(`azIndex must be between 0 and ${MAX_AZS - 1} inclusive, got: ${azIndex}`);
  }
  return block(tierCidr(vpcCidr, tier), azIndex, SUBNET_PREFIX);
}

/** Every subnet of a tier, one per availability zone. */
export function tierCidrs(vpcCidr: string, tier: SubnetTier, azCount: number): string[] {
  return Array.from({ length: azCount }, (_, i) => subnetCidr(vpcCidr, tier, i));
}

/**
 * The last address of a subnet that AWS lets a host use (it reserves the first four and the last):
 * far from where automatic assignment starts, for an address that must stay fixed.
 */
export function lastUsableAddress(cidr: string): string {
  const block = new Address4(cidr);
  return Address4.fromBigInt(block.endAddress().bigInt() - 1n).address;
}

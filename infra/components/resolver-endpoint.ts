import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { lastUsableAddress } from "../cidr";

export interface ResolverSubnet {
  readonly id: pulumi.Input<string>;
  /** The subnet's CIDR: the endpoint takes its last usable address. */
  readonly cidr: string;
}

export interface InboundResolverArgs {
  /** Subnets in different availability zones, at least two (AWS's minimum), one address each. */
  readonly subnets: readonly ResolverSubnet[];
  /** Security groups admitting DNS (53/udp and 53/tcp) from the networks that forward to it. */
  readonly securityGroupIds: pulumi.Input<string>[];
  /** Tags of the endpoint. Default none. */
  readonly tags?: Record<string, string>;
}

/**
 * A Route 53 Resolver inbound endpoint: the way for resolvers outside AWS (a data centre's, an
 * office's) to resolve the private hosted zone, which answers only inside its associated VPCs.
 * Its addresses are fixed (each subnet's last usable address), so the resolvers that forward to it
 * keep working when the endpoint is replaced.
 */
export class InboundResolver extends pulumi.ComponentResource {
  /** The addresses to forward the zone's queries to, one per subnet. */
  public readonly addresses: string[];
  public readonly endpointId: pulumi.Output<string>;

  constructor(name: string, args: InboundResolverArgs, opts?: pulumi.ComponentResourceOptions) {
    super("puppet:dns:InboundResolver", name, {}, opts);
    if (args.subnets.length < 2) {
      throw new Error(
        `InboundResolver ${name}: a Resolver endpoint needs subnets in at least two availability zones, got ${args.subnets.length}`,
      );
    }
    if (args.securityGroupIds.length === 0) {
      throw new Error(`InboundResolver ${name}: securityGroupIds must name at least one group`);
    }
    this.addresses = args.subnets.map((s) => lastUsableAddress(s.cidr));
    const endpoint = new aws.route53.ResolverEndpoint(
      `${name}-endpoint`,
      {
        direction: "INBOUND",
        securityGroupIds: args.securityGroupIds,
        ipAddresses: args.subnets.map((s, i) => ({ subnetId: s.id, ip: this.addresses[i] })),
        protocols: ["Do53"],
        tags: { ...args.tags, Name: name },
      },
      // The replacement needs the same addresses, so the original goes first (security groups
      // can only be set when an endpoint is created).
      { parent: this, deleteBeforeReplace: true },
    );
    this.endpointId = endpoint.id;
    this.registerOutputs({ addresses: this.addresses, endpointId: this.endpointId });
  }
}

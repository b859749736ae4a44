import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { MAX_AZS, SubnetTier, subnetCidr } from "../cidr";
import {
  FirewallInput,
  Rule,
  SECURITY_GROUPS,
  SecurityGroupName,
  firewallRules,
} from "../firewall";
import { regionalProvider } from "./regional-provider";

/** The primary site's VPC, for a secondary to peer with. */
export interface PeerVpc {
  /** The primary's VPC id: the accepter side of the peering connection. */
  readonly vpcId: pulumi.Input<string>;
  /** The primary's VPC CIDR, which this site's private route tables route through the peering. */
  readonly cidr: string;
  /** The primary's region, where the peering is accepted and the routes back are created. */
  readonly region: string;
  /** The primary's private route tables, which get a route back to this site. */
  readonly routeTableIds: readonly string[];
}

const ANYWHERE = "0.0.0.0/0";

export interface SiteNetworkArgs {
  /** The site's AWS region, the stack's own: its S3 endpoint is named after it. */
  readonly region: string;
  /** The site's /16: an aligned /18 per tier (public, servers, data), a /20 per AZ in each. */
  readonly cidr: string;
  /** Availability zones to spread subnets and NAT gateways over: an integer, 2 to `MAX_AZS` (4). */
  readonly azCount: number;
  /**
   * EC2 instance types the site runs: only zones that offer every one of them are used (a zone that
   * lacks one fails the instance's launch, not the plan).
   */
  readonly instanceTypes: readonly string[];
  /** Site catalogue, agent networks and git transport the security-group rules derive from. */
  readonly firewall: FirewallInput;
  /**
   * Set on a secondary: peer with the primary's VPC (requester here, accepter in the primary's
   * region). Default none: no peering, as on the primary.
   */
  readonly peer?: PeerVpc;
  /**
   * Tags of the VPC, subnets, gateways, Elastic IPs, route tables, security groups and peering
   * (most also get a Name). Default none.
   */
  readonly tags?: Record<string, string>;
}

/**
 * A site's VPC: public subnets holding only NAT gateways (egress for package installs), private
 * subnets for Puppet servers and for data, one per AZ and tier, and least-privilege security groups.
 */
export class SiteNetwork extends pulumi.ComponentResource {
  public readonly vpcId: pulumi.Output<string>;
  public readonly serverSubnetIds: pulumi.Output<string>[];
  public readonly dataSubnetIds: pulumi.Output<string>[];
  /** Availability zone of the subnets of each index (server and data subnet `i` share zone `i`). */
  public readonly zones: pulumi.Output<string>[];
  public readonly privateRouteTableIds: pulumi.Output<string>[];
  /** Security groups by role; only the primary and the failover site have a `database` group. */
  public readonly securityGroupIds: Partial<Record<SecurityGroupName, pulumi.Output<string>>>;
  public readonly peeringConnectionId?: pulumi.Output<string>;

  constructor(name: string, args: SiteNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("puppet:network:SiteNetwork", name, {}, opts);
    if (!Number.isInteger(args.azCount) || args.azCount < 2 || args.azCount > MAX_AZS) {
      throw new Error(
        `SiteNetwork ${name}: azCount must be between 2 and ${MAX_AZS}, got: ${args.azCount}`,
      );
    }
    const tags = { ...args.tags };
    const vpc = new aws.ec2.Vpc(
      `${name}-vpc`,
      {
        cidrBlock: args.cidr,
        enableDnsHostnames: true,
        enableDnsSupport: true,
        tags: { ...tags, Name: `${name}-vpc` },
      },
      { parent: this },
    );
    const zoneNames = usableZones(args.instanceTypes, args.azCount, this);
    const subnet = (tier: SubnetTier, i: number) =>
      new aws.ec2.Subnet(
        `${name}-${tier}-${i + 1}`,
        {
          vpcId: vpc.id,
          cidrBlock: subnetCidr(args.cidr, tier, i),
          availabilityZone: zoneNames.apply((names) => names[i]),
          mapPublicIpOnLaunch: false,
          tags: { ...tags, Name: `${name}-${tier}-${i + 1}`, "puppet:tier": tier },
        },
        { parent: this },
      );

    const igw = new aws.ec2.InternetGateway(
      `${name}-igw`,
      { vpcId: vpc.id, tags },
      { parent: this },
    );
    // No inline `routes` on any table: a table's inline routes are the whole set, so after a refresh
    // its next update would delete every route that is a resource of its own (the peering routes,
    // some written by the other site's stack). Every route here is an `aws.ec2.Route`.
    const publicRoutes = new aws.ec2.RouteTable(
      `${name}-public`,
      { vpcId: vpc.id, tags: { ...tags, Name: `${name}-public` } },
      { parent: this },
    );
    new aws.ec2.Route(
      `${name}-public-default`,
      { routeTableId: publicRoutes.id, destinationCidrBlock: ANYWHERE, gatewayId: igw.id },
      { parent: this },
    );

    const azIndexes = Array.from({ length: args.azCount }, (_, i) => i);
    const privateRouteTables = azIndexes.map((i) => {
      const publicSubnet = subnet("public", i);
      new aws.ec2.RouteTableAssociation(
        `${name}-public-${i + 1}`,
        { subnetId: publicSubnet.id, routeTableId: publicRoutes.id },
        { parent: this },
      );
      // One NAT gateway per AZ, so losing an AZ does not cut the others off from package mirrors.
      const eip = new aws.ec2.Eip(
        `${name}-nat-${i + 1}`,
        { domain: "vpc", tags },
        { parent: this },
      );
      const nat = new aws.ec2.NatGateway(
        `${name}-nat-${i + 1}`,
        {
          subnetId: publicSubnet.id,
          allocationId: eip.id,
          tags: { ...tags, Name: `${name}-nat-${i + 1}` },
        },
        { parent: this, dependsOn: [igw] },
      );
      const table = new aws.ec2.RouteTable(
        `${name}-private-${i + 1}`,
        { vpcId: vpc.id, tags: { ...tags, Name: `${name}-private-${i + 1}` } },
        { parent: this },
      );
      new aws.ec2.Route(
        `${name}-private-${i + 1}-default`,
        { routeTableId: table.id, destinationCidrBlock: ANYWHERE, natGatewayId: nat.id },
        { parent: this },
      );
      return table;
    });
    const privateSubnets = (tier: SubnetTier) =>
      azIndexes.map((i) => {
        const s = subnet(tier, i);
        new aws.ec2.RouteTableAssociation(
          `${name}-${tier}-${i + 1}`,
          { subnetId: s.id, routeTableId: privateRouteTables[i].id },
          { parent: this },
        );
        return s;
      });
    const servers = privateSubnets("servers");
    this.serverSubnetIds = servers.map((s) => s.id);
    this.dataSubnetIds = privateSubnets("data").map((s) => s.id);
    this.zones = servers.map((s) => s.availabilityZone);
    this.privateRouteTableIds = privateRouteTables.map((t) => t.id);
    // Hosts fetch their scripts (and the SSM agent) from S3 in this region: through the VPC, not
    // the NAT gateways, which a host's first boot then does not wait on and which bill by the byte.
    // The endpoint's policy is AWS's default (any bucket); the instance roles say what a host reads.
    const partition = aws.getPartitionOutput({}, { parent: this });
    new aws.ec2.VpcEndpoint(
      `${name}-s3`,
      {
        vpcId: vpc.id,
        serviceName: pulumi.interpolate`${partition.reverseDnsPrefix}.${args.region}.s3`,
        vpcEndpointType: "Gateway",
        routeTableIds: this.privateRouteTableIds,
        tags: { ...tags, Name: `${name}-s3` },
      },
      { parent: this },
    );

    const rules = firewallRules(args.firewall);
    const groupsInUse = SECURITY_GROUPS.filter((g) => rules.some((r) => r.group === g));
    const groups = Object.fromEntries(
      groupsInUse.map((g) => [
        g,
        new aws.ec2.SecurityGroup(
          `${name}-${g}`,
          {
            vpcId: vpc.id,
            description: `puppet-multisite ${g} hosts of ${name}`,
            // Rules are separate resources; an empty list here removes AWS's default allow-all egress.
            egress: [],
            ingress: [],
            tags: { ...tags, Name: `${name}-${g}` },
          },
          { parent: this, ignoreChanges: ["ingress", "egress"] },
        ),
      ]),
    ) as Partial<Record<SecurityGroupName, aws.ec2.SecurityGroup>>;
    rules.forEach((rule, i) => this.createRule(name, i, rule, groups));
    this.securityGroupIds = Object.fromEntries(groupsInUse.map((g) => [g, groups[g]!.id]));

    this.vpcId = vpc.id;
    if (args.peer) {
      this.peeringConnectionId = this.peerWith(
        name,
        args.peer,
        vpc,
        privateRouteTables,
        args.cidr,
        tags,
      );
    }
    this.registerOutputs({
      vpcId: this.vpcId,
      serverSubnetIds: this.serverSubnetIds,
      dataSubnetIds: this.dataSubnetIds,
      securityGroupIds: this.securityGroupIds,
    });
  }

  /** The id of a security group this site has. */
  securityGroup(group: SecurityGroupName): pulumi.Output<string> {
    const id = this.securityGroupIds[group];
    if (!id) throw new pulumi.ResourceError(`this site has no ${group} security group`, this);
    return id;
  }

  private createRule(
    name: string,
    index: number,
    rule: Rule,
    groups: Partial<Record<SecurityGroupName, aws.ec2.SecurityGroup>>,
  ): void {
    const group = groups[rule.group];
    const peerGroup = "group" in rule.peer ? groups[rule.peer.group] : undefined;
    if (!group || ("group" in rule.peer && !peerGroup)) {
      throw new pulumi.ResourceError(
        `rule ${index} refers to a security group this site does not have`,
        this,
      );
    }
    const protocol = rule.protocol ?? "tcp";
    const ruleArgs = {
      securityGroupId: group.id,
      ipProtocol: protocol,
      fromPort: rule.port,
      toPort: rule.port,
      description: rule.description,
      ...("cidr" in rule.peer
        ? { cidrIpv4: rule.peer.cidr }
        : { referencedSecurityGroupId: peerGroup!.id }),
    };
    // TCP rules keep the names they had before rules had a protocol.
    const suffix = protocol === "tcp" ? "" : `-${protocol}`;
    const ruleName = `${name}-${rule.group}-${rule.direction}-${rule.port}-${peerLabel(rule)}${suffix}`;
    if (rule.direction === "ingress") {
      new aws.vpc.SecurityGroupIngressRule(ruleName, ruleArgs, { parent: this });
    } else {
      new aws.vpc.SecurityGroupEgressRule(ruleName, ruleArgs, { parent: this });
    }
  }

  private peerWith(
    name: string,
    peer: PeerVpc,
    vpc: aws.ec2.Vpc,
    routeTables: aws.ec2.RouteTable[],
    cidr: string,
    tags: Record<string, string>,
  ): pulumi.Output<string> {
    const peerProvider = regionalProvider(`${name}-peer-region`, peer.region, { parent: this });
    const connection = new aws.ec2.VpcPeeringConnection(
      `${name}-peering`,
      {
        vpcId: vpc.id,
        peerVpcId: peer.vpcId,
        peerRegion: peer.region,
        tags: { ...tags, Name: `${name}-peering` },
      },
      { parent: this },
    );
    const accepter = new aws.ec2.VpcPeeringConnectionAccepter(
      `${name}-peering-accepter`,
      {
        vpcPeeringConnectionId: connection.id,
        autoAccept: true,
        tags: { ...tags, Name: `${name}-peering` },
      },
      { parent: this, provider: peerProvider },
    );
    routeTables.forEach(
      (table, i) =>
        new aws.ec2.Route(
          `${name}-to-peer-${i + 1}`,
          {
            routeTableId: table.id,
            destinationCidrBlock: peer.cidr,
            vpcPeeringConnectionId: accepter.id,
          },
          { parent: this },
        ),
    );
    peer.routeTableIds.forEach(
      (tableId, i) =>
        new aws.ec2.Route(
          `${name}-from-peer-${i + 1}`,
          {
            routeTableId: tableId,
            destinationCidrBlock: cidr,
            vpcPeeringConnectionId: accepter.id,
          },
          { parent: this, provider: peerProvider },
        ),
    );
    return connection.id;
  }
}

/**
 * The region's zones that need no opt-in (Local Zones and Wavelength Zones do, and can sort before the
 * region's own zones) and offer every instance type, in the region's order: the first `count`.
 */
function usableZones(
  instanceTypes: readonly string[],
  count: number,
  network: pulumi.Resource,
): pulumi.Output<string[]> {
  const zones = aws.getAvailabilityZonesOutput(
    {
      state: "available",
      filters: [
        { name: "opt-in-status", values: ["opt-in-not-required"] },
        { name: "zone-type", values: ["availability-zone"] },
      ],
    },
    { parent: network },
  );
  const types = [...new Set(instanceTypes)];
  const offerings = aws.ec2.getInstanceTypeOfferingsOutput(
    { locationType: "availability-zone", filters: [{ name: "instance-type", values: types }] },
    { parent: network },
  );
  return pulumi
    .all([zones.names, offerings.locations, offerings.instanceTypes])
    .apply(([names, locations, offered]) => {
      const offers = new Set(locations.map((zone, k) => `${zone} ${offered[k]}`));
      const usable = names.filter((zone) => types.every((t) => offers.has(`${zone} ${t}`)));
      if (usable.length < count) {
        // Found only once the region answers, so it is a resource error rather than a config error.
        const lacking = names
          .filter((zone) => !usable.includes(zone))
          .map(
            (zone) =>
              `${zone} lacks ${types.filter((t) => !offers.has(`${zone} ${t}`)).join(", ")}`,
          );
        throw new pulumi.ResourceError(
          `availabilityZoneCount is ${count} but only ${usable.length} zone(s) of the region need no opt-in and offer every instance type (${types.join(", ")}): ` +
            `${usable.join(", ") || "none"}${lacking.length ? `; ${lacking.join("; ")}` : ""}. ` +
            `Lower availabilityZoneCount to ${usable.length} or choose instance types every zone offers`,
          network,
        );
      }
      return usable.slice(0, count);
    });
}

function peerLabel(rule: Rule): string {
  return "group" in rule.peer ? rule.peer.group : rule.peer.cidr.replace(/[./]/g, "-");
}

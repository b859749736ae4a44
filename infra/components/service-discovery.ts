import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { SrvRecordSet, srvValue } from "../dns-records";

/** TTL of address records. */
const ADDRESS_TTL = 60;

export interface HostAddress {
  /** The host's FQDN, the A record's name; must be inside the deployment's domain. */
  readonly hostName: string;
  /** The address the A record answers with (TTL 60 seconds). */
  readonly privateIp: pulumi.Input<string>;
}

export interface ServiceDiscoveryArgs {
  /**
   * The deployment's private domain: the zone's name when this site creates it. Every record must
   * be inside it.
   */
  readonly domain: string;
  /** The site these records belong to: the latency record's set identifier. */
  readonly site: string;
  /** The site's region: where its latency record answers, and its VPC's region. */
  readonly region: string;
  /** The site's VPC, which the zone is created with or associated with. */
  readonly vpcId: pulumi.Input<string>;
  /**
   * The primary's zone, which this site associates its VPC with. Default none: this site creates
   * the zone (the primary).
   */
  readonly zoneId?: pulumi.Input<string>;
  /** The site's SRV record sets (see dns-records.ts). */
  readonly srvRecords: readonly SrvRecordSet[];
  /** A records: every host of the site. */
  readonly hosts: readonly HostAddress[];
  /** The site's compile-master pool: an alias to its load balancer, and the site's latency record. */
  readonly pool: {
    /** The pool's name: an alias A record to the load balancer. */
    readonly hostName: string;
    /** The load balancer's DNS name, the alias target. */
    readonly dnsName: pulumi.Input<string>;
    /** The load balancer's own hosted zone (not the private zone), the alias target's zone. */
    readonly zoneId: pulumi.Input<string>;
  };
  /** Name agents without SRV use; latency-routed to the nearest healthy site. */
  readonly genericName: string;
  /** Protect the zone, when this site creates it, from deletion. Default true. */
  readonly protect?: boolean;
  /**
   * Tags of the zone, when this site creates it; records and the association are not tagged.
   * Default none.
   */
  readonly tags?: Record<string, string>;
}

/**
 * Route 53 records of one site in the deployment's private zone: SRV records agents use to find
 * masters (own site first, the others as fallback) and the CA, A records for every host, an alias for
 * the pool, and a latency-routed generic name.
 */
export class ServiceDiscovery extends pulumi.ComponentResource {
  public readonly zoneId: pulumi.Output<string>;

  constructor(name: string, args: ServiceDiscoveryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("puppet:dns:ServiceDiscovery", name, {}, opts);
    const outside = [
      ...args.srvRecords.map((r) => r.name),
      ...args.hosts.map((h) => h.hostName),
      args.pool.hostName,
      args.genericName,
    ].find((n) => !n.endsWith(`.${args.domain}`));
    if (outside) {
      throw new Error(
        `ServiceDiscovery ${name}: record ${outside} is outside the domain ${args.domain}`,
      );
    }

    let zoneId: pulumi.Output<string>;
    if (args.zoneId === undefined) {
      const zone = new aws.route53.Zone(
        `${name}-zone`,
        {
          name: args.domain,
          comment: "puppet-multisite service discovery",
          vpcs: [{ vpcId: args.vpcId, vpcRegion: args.region }],
          tags: args.tags,
        },
        // Other sites associate their VPCs with ZoneAssociation; the zone must not undo that.
        { parent: this, protect: args.protect ?? true, ignoreChanges: ["vpcs"] },
      );
      zoneId = zone.zoneId;
    } else {
      zoneId = pulumi.output(args.zoneId);
      new aws.route53.ZoneAssociation(
        `${name}-zone-association`,
        { zoneId, vpcId: args.vpcId, vpcRegion: args.region },
        { parent: this },
      );
    }

    for (const record of args.srvRecords) {
      new aws.route53.Record(
        `${name}-${record.name}`,
        {
          zoneId,
          name: record.name,
          type: "SRV",
          ttl: record.ttl,
          records: record.targets.map(srvValue),
        },
        { parent: this },
      );
    }
    for (const host of args.hosts) {
      new aws.route53.Record(
        `${name}-${host.hostName}`,
        { zoneId, name: host.hostName, type: "A", ttl: ADDRESS_TTL, records: [host.privateIp] },
        { parent: this },
      );
    }
    const poolAlias = {
      name: args.pool.dnsName,
      zoneId: args.pool.zoneId,
      evaluateTargetHealth: true,
    };
    new aws.route53.Record(
      `${name}-${args.pool.hostName}`,
      { zoneId, name: args.pool.hostName, type: "A", aliases: [poolAlias] },
      { parent: this },
    );
    new aws.route53.Record(
      `${name}-${args.genericName}`,
      {
        zoneId,
        name: args.genericName,
        type: "A",
        setIdentifier: args.site,
        latencyRoutingPolicies: [{ region: args.region }],
        aliases: [poolAlias],
      },
      { parent: this },
    );

    this.zoneId = zoneId;
    this.registerOutputs({ zoneId: this.zoneId });
  }
}

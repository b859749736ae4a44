import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { CompileMasterHost } from "../hostconfig/types";
import { boundedName } from "../naming";
import { PUPPET_PORT } from "../ports";
import { SecretRef } from "../hostconfig/types";
import { PuppetHost } from "./puppet-host";
import { ScriptStore } from "./script-store";

export interface PoolMember {
  /** The master's FQDN and certname. */
  readonly hostName: string;
  /**
   * The master's first-boot settings, rendered into its user data; a change replaces the master
   * (compile masters are cattle).
   */
  readonly config: pulumi.Input<CompileMasterHost>;
}

export interface CompileMasterPoolArgs {
  /**
   * Start of the names of the pool's load balancer and target group, each followed by `-` and six
   * characters that change whenever the resource is replaced. AWS allows 32 characters in all: a
   * start longer than 25 keeps its beginning and ends in a hash of the whole.
   */
  readonly balancerName: string;
  /** One entry per compile master, at least one, each with its own host name; the pool size. */
  readonly members: readonly PoolMember[];
  /** VPC of the target group. */
  readonly vpcId: pulumi.Input<string>;
  /**
   * Subnets to spread masters (round-robin, in order) and the load balancer over, one per AZ; at
   * least one.
   */
  readonly subnetIds: pulumi.Input<string>[];
  /** Security groups of every master. */
  readonly securityGroupIds: pulumi.Input<string>[];
  /**
   * Security groups of the load balancer: AWS allows them only when a network load balancer is
   * created (a balancer made without any is replaced to get some); at least one.
   */
  readonly balancerSecurityGroupIds: pulumi.Input<string>[];
  /** EC2 instance type of every master. */
  readonly instanceType: string;
  /** AMI every master boots (Debian 12: their user data installs packages with apt). */
  readonly ami: pulumi.Input<string>;
  /** The site\'s script store, which the host fetches its scripts from. */
  readonly scripts: ScriptStore;
  /** Secrets each master reads at boot (the server challenge). */
  readonly readsSecrets: readonly SecretRef[];
  /** IAM path of every master's instance role. Default `/`. */
  readonly rolePath?: string;
  /** Tags of the masters, load balancer, target group and listener. Default none. */
  readonly tags?: Record<string, string>;
}

export interface MasterAddress {
  readonly hostName: string;
  readonly privateIp: pulumi.Output<string>;
}

/**
 * A site's compile masters (CA service disabled, round-robin over AZs) behind an internal network load
 * balancer on 8140 that sends traffic only to masters whose `/status/v1/simple` answers over HTTPS.
 */
export class CompileMasterPool extends pulumi.ComponentResource {
  public readonly masters: MasterAddress[];
  public readonly balancerDnsName: pulumi.Output<string>;
  public readonly balancerZoneId: pulumi.Output<string>;
  public readonly targetGroupArn: pulumi.Output<string>;
  public readonly balancerArn: pulumi.Output<string>;

  constructor(name: string, args: CompileMasterPoolArgs, opts?: pulumi.ComponentResourceOptions) {
    super("puppet:pool:CompileMasterPool", name, {}, opts);
    if (args.members.length === 0) {
      throw new Error(`CompileMasterPool ${name}: a pool needs at least one compile master, got 0`);
    }
    if (args.balancerSecurityGroupIds.length === 0) {
      throw new Error(
        `CompileMasterPool ${name}: balancerSecurityGroupIds must name at least one security group, got none`,
      );
    }
    if (args.subnetIds.length === 0) {
      throw new Error(
        `CompileMasterPool ${name}: subnetIds must name at least one subnet, got none`,
      );
    }
    const duplicate = args.members.find(
      (m, i) => args.members.findIndex((o) => o.hostName === m.hostName) !== i,
    );
    if (duplicate) {
      throw new Error(
        `CompileMasterPool ${name}: every master needs its own name, got ${duplicate.hostName} twice`,
      );
    }

    const hosts = args.members.map(
      (member, i) =>
        new PuppetHost(
          `${name}-${i + 1}`,
          {
            role: "compile-master",
            hostName: member.hostName,
            config: member.config,
            subnetId: args.subnetIds[i % args.subnetIds.length],
            securityGroupIds: args.securityGroupIds,
            instanceType: args.instanceType,
            ami: args.ami,
            scripts: args.scripts,
            readsSecrets: args.readsSecrets,
            rolePath: args.rolePath,
            tags: args.tags,
          },
          { parent: this },
        ),
    );

    // A name is unique per region, and Pulumi creates a replacement before it deletes the original:
    // each name ends in a suffix that is drawn again whenever what forces a replacement changes
    // (for the balancer its subnets, since removing one replaces it, and its security groups).
    const joined = (ids: pulumi.Input<string>[]) => pulumi.all(ids).apply((x) => x.join(","));
    const uniqueName = (what: string, keepers: Record<string, pulumi.Input<string>>) =>
      pulumi.interpolate`${boundedName(args.balancerName, 25)}-${
        new random.RandomString(
          `${name}-${what}-name`,
          { length: 6, special: false, upper: false, keepers },
          { parent: this },
        ).result
      }`;
    const balancer = new aws.lb.LoadBalancer(
      `${name}-nlb`,
      {
        name: uniqueName("nlb", {
          subnets: joined(args.subnetIds),
          securityGroups: joined(args.balancerSecurityGroupIds),
        }),
        loadBalancerType: "network",
        internal: true,
        subnets: args.subnetIds,
        securityGroups: args.balancerSecurityGroupIds,
        enableCrossZoneLoadBalancing: true,
        tags: args.tags,
      },
      { parent: this },
    );
    const targetGroup = new aws.lb.TargetGroup(
      `${name}-targets`,
      {
        name: uniqueName("targets", { vpcId: args.vpcId }),
        port: PUPPET_PORT,
        protocol: "TCP",
        targetType: "instance",
        vpcId: args.vpcId,
        // Agents hold long catalog requests; give them time to finish when a master leaves.
        deregistrationDelay: 60,
        healthCheck: {
          protocol: "HTTPS",
          port: String(PUPPET_PORT),
          path: "/status/v1/simple",
          matcher: "200",
          interval: 10,
          healthyThreshold: 3,
          unhealthyThreshold: 2,
        },
        tags: args.tags,
      },
      { parent: this },
    );
    hosts.forEach(
      (host, i) =>
        new aws.lb.TargetGroupAttachment(
          `${name}-${i + 1}-target`,
          { targetGroupArn: targetGroup.arn, targetId: host.instanceId, port: PUPPET_PORT },
          { parent: this },
        ),
    );
    new aws.lb.Listener(
      `${name}-listener`,
      {
        loadBalancerArn: balancer.arn,
        port: PUPPET_PORT,
        protocol: "TCP",
        defaultActions: [{ type: "forward", targetGroupArn: targetGroup.arn }],
        tags: args.tags,
      },
      { parent: this },
    );

    this.masters = args.members.map((m, i) => ({
      hostName: m.hostName,
      privateIp: hosts[i].privateIp,
    }));
    this.balancerDnsName = balancer.dnsName;
    this.balancerZoneId = balancer.zoneId;
    this.balancerArn = balancer.arn;
    this.targetGroupArn = targetGroup.arn;
    this.registerOutputs({ balancerDnsName: this.balancerDnsName, masters: this.masters });
  }
}

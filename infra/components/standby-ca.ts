import * as pulumi from "@pulumi/pulumi";
import { CaHost } from "../hostconfig/types";
import { isIamPath } from "../naming";
import { PuppetHost, StateVolumeArgs } from "./puppet-host";
import { ScriptStore } from "./script-store";

export interface StandbyCertificateAuthorityArgs {
  /**
   * The standby's first-boot settings (`standby: true`): its certname, the active CA it copies
   * (`caServer`), the CA key and challenge secrets as replicated to its own region.
   */
  readonly host: Omit<CaHost, "caCertificatePem">;
  /** The CA certificate (PEM), as the primary's stack outputs it. */
  readonly caCertificatePem: pulumi.Input<string>;
  /**
   * IAM path of the host's role: the CA key's resource policy, in the primary's stack, admits the
   * roles under it (a role of another stack cannot be named there before it exists).
   */
  readonly rolePath: string;
  /** Subnet the standby runs in. */
  readonly subnetId: pulumi.Input<string>;
  /** Security groups of the standby. */
  readonly securityGroupIds: pulumi.Input<string>[];
  /** EC2 instance type. */
  readonly instanceType: string;
  /** AMI the host boots (Debian 12). */
  readonly ami: pulumi.Input<string>;
  /** The site\'s script store, which the host fetches its scripts from. */
  readonly scripts: ScriptStore;
  /**
   * The standby's state volume: its copy of the active CA's records, and once it is promoted the
   * CA's records themselves. Protected with the other stateful resources.
   */
  readonly stateVolume: Omit<StateVolumeArgs, "protect">;
  /** Protect the state volume from deletion. Default true. */
  readonly protect?: boolean;
  /** Tags of the host and its volumes. Default none. */
  readonly tags?: Record<string, string>;
}

/**
 * The standby Puppet CA of the failover site: the CA's key (its region's replica of the secret),
 * the active CA's records copied continuously onto a volume of its own, the CA certificate and the
 * CRL served to agents that reach it, and no signature until it is promoted (README: losing the
 * primary site).
 */
export class StandbyCertificateAuthority extends pulumi.ComponentResource {
  public readonly hostName: string;
  public readonly privateIp: pulumi.Output<string>;
  public readonly roleArn: pulumi.Output<string>;

  constructor(
    name: string,
    args: StandbyCertificateAuthorityArgs,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("puppet:ca:StandbyCertificateAuthority", name, {}, opts);
    if (!isIamPath(args.rolePath)) {
      throw new Error(
        `StandbyCertificateAuthority ${name}: rolePath must be an IAM path such as /puppet-multisite/servers/ca/, got ${JSON.stringify(args.rolePath)}`,
      );
    }
    const host = args.host;
    if (host.role !== "ca" || !host.standby) {
      throw new Error(
        `StandbyCertificateAuthority ${name}: host must be a CA with standby: true, got the ${host.role} ${host.certname}`,
      );
    }
    const standby = new PuppetHost(
      `${name}-host`,
      {
        role: "ca",
        hostName: host.certname,
        config: pulumi
          .output(args.caCertificatePem)
          .apply((pem): CaHost => ({ ...host, caCertificatePem: pem })),
        subnetId: args.subnetId,
        securityGroupIds: args.securityGroupIds,
        instanceType: args.instanceType,
        ami: args.ami,
        scripts: args.scripts,
        readsSecrets: [host.caKeySecret, host.serverChallengeSecret, host.agentChallengeSecret],
        rolePath: args.rolePath,
        stateVolume: { ...args.stateVolume, protect: args.protect ?? true },
        tags: args.tags,
      },
      { parent: this },
    );
    this.hostName = host.certname;
    this.privateIp = standby.privateIp;
    this.roleArn = standby.roleArn;
    this.registerOutputs({ hostName: this.hostName, privateIp: this.privateIp });
  }
}

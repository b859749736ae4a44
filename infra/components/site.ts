import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { subnetCidr } from "../cidr";
import { DEBIAN_IMAGE_OWNER, Settings } from "../config";
import { gitSshPort } from "../control-repo";
import { siteSrvInput, siteSrvRecords } from "../dns-records";
import {
  DatabaseEndpoint,
  agentSite,
  caHostSettings,
  masterHostSettings,
  puppetdbHostSettings,
  controlRepoSecret,
  secretRef,
} from "../host-settings";
import { renderAgentConfig } from "../hostconfig";
import {
  SITE_TAG,
  SNAPSHOT_TAG,
  caHostName,
  caRolePath,
  genericPuppetName,
  masterHostNames,
  poolHostName,
  puppetdbHostName,
  serverRolePath as serverRolePathOf,
  siteDomain,
} from "../naming";
import { PrimaryOutputs, checkPrimary } from "../peer";
import { DATABASE_NAME, DATABASE_USER } from "../postgres";
import { CertificateAuthority } from "./certificate-authority";
import { CompileMasterPool } from "./compile-pool";
import { PuppetDatabase } from "./database";
import { failoverResources } from "./failover";
import { SiteNetwork } from "./network";
import { PuppetHost } from "./puppet-host";
import { InboundResolver } from "./resolver-endpoint";
import { ScriptStore } from "./script-store";
import { SecretsKey } from "./secrets-key";
import { ServiceDiscovery } from "./service-discovery";
import { MAX_COPY_TARGETS, StateSnapshots } from "./state-snapshots";

/**
 * GiB of each role's state volume. The CA's directory holds a few KB per certificate; PuppetDB's
 * queue holds every command the database has not taken yet (a catalog can be MBs), so it gets room
 * for hours of an outage.
 */
const STATE_VOLUME_GB = { ca: 10, puppetdb: 50 } as const;

/** Days a snapshot copy is kept in another site's region. */
const SNAPSHOT_COPY_RETAIN_DAYS = 7;

export interface SiteArgs {
  /** This stack's validated settings. */
  readonly settings: Settings;
  /**
   * The primary's stack outputs (their region and VPC CIDR must match the site catalogue); required
   * on a secondary, absent on the primary. Default none.
   */
  readonly primary?: PrimaryOutputs;
}

/** The primary's stack outputs: whatever a site exports, and every output a secondary reads. */
type PrimaryStackOutputs = Readonly<Record<string, pulumi.Input<unknown>>> & {
  readonly [K in keyof PrimaryOutputs]: pulumi.Input<PrimaryOutputs[K]>;
};

/** What the primary shares with the other sites, wherever it comes from. */
interface Shared {
  readonly caCertificatePem: pulumi.Input<string>;
  readonly database: pulumi.Input<DatabaseEndpoint>;
  readonly zoneId?: pulumi.Input<string>;
}

/**
 * One site of the deployment. The primary owns the CA, the database and the zone; a secondary reads
 * them from the primary's stack. Every site has its network, a compile-master pool, a PuppetDB host
 * and its service-discovery records.
 */
export class Site extends pulumi.ComponentResource {
  /** The stack's outputs; on the primary, every output a secondary reads (see peer.ts). */
  public readonly outputs: Readonly<Record<string, pulumi.Input<unknown>>>;

  constructor(name: string, args: SiteArgs, opts?: pulumi.ComponentResourceOptions) {
    super("puppet:site:Site", name, {}, opts);
    const settings = args.settings;
    const peer = checkPrimary(settings, args.primary);
    const { domain } = settings;
    const site = settings.site.name;
    const tags = { "puppet:deployment": settings.project, [SITE_TAG]: site };
    // The failover site keeps a standby CA and a replica of the database (README: losing the
    // primary site).
    const failover = settings.failoverSite?.name === site;

    const network = new SiteNetwork(
      `${name}-network`,
      {
        region: settings.site.region,
        cidr: settings.site.vpcCidr,
        azCount: settings.azCount,
        instanceTypes: [
          settings.masters.instanceType,
          settings.puppetdbInstanceType,
          ...(peer && !failover ? [] : [settings.caInstanceType]),
        ],
        firewall: {
          site,
          sites: settings.sites,
          primarySite: settings.primarySite.name,
          standbyCaSite: settings.failoverSite?.name,
          gitSshPort: gitSshPort(settings.controlRepo.url),
        },
        peer: peer && {
          vpcId: peer.vpcId,
          cidr: settings.primarySite.vpcCidr,
          region: settings.primarySite.region,
          routeTableIds: peer.privateRouteTableIds,
        },
        tags,
      },
      { parent: this },
    );
    // The image is pinned by name (or AMI id): a new Debian image never replaces a host by itself.
    const ami =
      settings.image.kind === "ami"
        ? settings.image.id
        : aws.ec2.getAmiOutput(
            {
              owners: [DEBIAN_IMAGE_OWNER],
              filters: [{ name: "name", values: [settings.image.name] }],
            },
            { parent: this },
          ).id;
    const scripts = new ScriptStore(`${name}-scripts`, { site, tags }, { parent: this });
    const serverGroups = [network.securityGroup("puppetserver")];
    // The CA and PuppetDB hosts run in the first zone's subnets: their state volumes live there.
    const snapshotTags = { [SNAPSHOT_TAG]: `${settings.project}-${site}` };
    const stateVolume = (sizeGb: number) => ({
      sizeGb,
      availabilityZone: network.zones[0],
      snapshotTags,
    });
    // Every Puppet server of every site reads the server challenge; only their roles may.
    const serverRolePath = serverRolePathOf(settings.project);
    // The CAs' roles, in whichever stack: only they read the CA key.
    const caRoles = caRolePath(settings.project);
    const serverChallenge = secretRef(settings, "server-challenge");
    const repoSecret = controlRepoSecret(settings);
    const repoCredential = repoSecret ? [repoSecret] : [];

    let shared: Shared;
    let ca: CertificateAuthority | undefined;
    let primaryOnly: Record<string, pulumi.Input<unknown>> = {};
    if (peer) {
      shared = {
        caCertificatePem: peer.caCertificatePem,
        database: { host: peer.databaseHost, port: peer.databasePort },
        zoneId: peer.zoneId,
      };
    } else {
      const replicaRegions = [...new Set(settings.sites.map((x) => x.region))].filter(
        (r) => r !== settings.site.region,
      );
      const key = new SecretsKey(
        `${name}-secrets`,
        { replicaRegions, protect: settings.protectStateful, tags },
        { parent: this },
      );
      const encryption = { kmsKeyArn: key.kmsKeyArn, replicaKmsKeyArns: key.replicaKmsKeyArns };
      ca = new CertificateAuthority(
        `${name}-ca`,
        {
          host: caHostSettings(settings),
          subnetId: network.serverSubnetIds[0],
          securityGroupIds: serverGroups,
          instanceType: settings.caInstanceType,
          ami,
          scripts,
          stateVolume: stateVolume(STATE_VOLUME_GB.ca),
          ...encryption,
          serverRolePath,
          caRolePath: caRoles,
          secretAdministrators: settings.secretAdministrators,
          protect: settings.protectStateful,
          tags,
        },
        { parent: this },
      );
      const database = new PuppetDatabase(
        `${name}-database`,
        {
          ...settings.database,
          subnetIds: network.dataSubnetIds,
          securityGroupIds: [network.securityGroup("database")],
          passwordSecretName: secretRef(settings, "database").name,
          ...encryption,
          protect: settings.protectStateful,
          tags,
        },
        { parent: this },
      );
      shared = {
        caCertificatePem: ca.certificatePem,
        database: pulumi
          .all([database.address, database.port])
          .apply(([host, port]) => ({ host, port })),
      };
      const failoverRegion = settings.failoverSite?.region;
      primaryOnly = {
        databaseArn: database.arn,
        ...(failoverRegion !== undefined && {
          failoverKmsKeyArn:
            failoverRegion === settings.site.region
              ? key.kmsKeyArn
              : key.replicaKmsKeyArns[failoverRegion],
        }),
      };
    }

    const masterNames = masterHostNames(site, domain, settings.masters.count);
    const pool = new CompileMasterPool(
      `${name}-masters`,
      {
        balancerName: `${site}-masters`,
        members: masterNames.map((hostName, i) => ({
          hostName,
          config: pulumi
            .output(shared.caCertificatePem)
            .apply((pem) => masterHostSettings(settings, i + 1, hostName, pem)),
        })),
        vpcId: network.vpcId,
        subnetIds: network.serverSubnetIds,
        securityGroupIds: serverGroups,
        balancerSecurityGroupIds: [network.securityGroup("balancer")],
        instanceType: settings.masters.instanceType,
        ami,
        scripts,
        readsSecrets: [serverChallenge, ...repoCredential],
        rolePath: serverRolePath,
        tags,
      },
      { parent: this },
    );

    // Before this site's PuppetDB, which reads from the replica.
    const { standbyCa, replica } =
      failover && peer
        ? failoverResources(
            name,
            {
              settings,
              peer,
              caCertificatePem: shared.caCertificatePem,
              ami,
              scripts,
              serverSubnetId: network.serverSubnetIds[0],
              serverSecurityGroupIds: serverGroups,
              dataSubnetIds: network.dataSubnetIds,
              databaseSecurityGroupId: network.securityGroup("database"),
              caStateVolume: stateVolume(STATE_VOLUME_GB.ca),
              tags,
            },
            this,
          )
        : {};

    const puppetdbName = puppetdbHostName(site, domain);
    const puppetdb = new PuppetHost(
      `${name}-puppetdb`,
      {
        role: "puppetdb",
        hostName: puppetdbName,
        config: pulumi
          .all([
            shared.caCertificatePem,
            shared.database,
            replica && pulumi.all([replica.address, replica.port]),
          ])
          .apply(([pem, db, r]) =>
            puppetdbHostSettings(settings, pem, db, r && { host: r[0], port: r[1] }),
          ),
        subnetId: network.dataSubnetIds[0],
        securityGroupIds: [network.securityGroup("puppetdb")],
        instanceType: settings.puppetdbInstanceType,
        ami,
        scripts,
        readsSecrets: [secretRef(settings, "database"), serverChallenge],
        rolePath: serverRolePath,
        stateVolume: {
          ...stateVolume(STATE_VOLUME_GB.puppetdb),
          protect: settings.protectStateful,
        },
        tags,
      },
      { parent: this },
    );

    // Every state volume of the site, snapshotted on a schedule and copied to the other sites'
    // regions (at most three), where a lost region's state can be restored from.
    const copyRegions = [...new Set(settings.sites.map((x) => x.region))]
      .filter((r) => r !== settings.site.region)
      .slice(0, MAX_COPY_TARGETS);
    new StateSnapshots(
      `${name}-snapshots`,
      {
        targetTags: snapshotTags,
        sourceRegion: settings.site.region,
        copyTo: copyRegions.map((region) => ({ region, retainDays: SNAPSHOT_COPY_RETAIN_DAYS })),
        tags,
      },
      { parent: this },
    );

    const discovery = new ServiceDiscovery(
      `${name}-dns`,
      {
        domain,
        site,
        region: settings.site.region,
        vpcId: network.vpcId,
        zoneId: shared.zoneId,
        srvRecords: siteSrvRecords(siteSrvInput(settings)),
        hosts: [
          ...pool.masters,
          { hostName: puppetdbName, privateIp: puppetdb.privateIp },
          ...(ca ? [{ hostName: ca.hostName, privateIp: ca.privateIp }] : []),
          ...(standbyCa ? [{ hostName: standbyCa.hostName, privateIp: standbyCa.privateIp }] : []),
        ],
        pool: {
          hostName: poolHostName(site, domain),
          dnsName: pool.balancerDnsName,
          zoneId: pool.balancerZoneId,
        },
        genericName: genericPuppetName(domain),
        protect: settings.protectStateful,
        tags,
      },
      { parent: this },
    );

    // Agents outside AWS resolve the private zone through this endpoint; a catalogue without agent
    // networks has no resolver security group, and no endpoint.
    const resolverGroup = network.securityGroupIds.resolver;
    const resolver =
      resolverGroup &&
      new InboundResolver(
        `${name}-resolver`,
        {
          subnets: [0, 1].map((i) => ({
            id: network.serverSubnetIds[i],
            cidr: subnetCidr(settings.site.vpcCidr, "servers", i),
          })),
          securityGroupIds: [resolverGroup],
          tags,
        },
        { parent: this, dependsOn: [discovery] },
      );

    const siteOutputs = {
      site,
      role: settings.role,
      region: settings.site.region,
      domain,
      srvDomain: siteDomain(site, domain),
      vpcId: network.vpcId,
      vpcCidr: settings.site.vpcCidr,
      privateRouteTableIds: pulumi.all(network.privateRouteTableIds),
      zoneId: discovery.zoneId,
      caHost: caHostName(domain),
      caCertificatePem: pulumi.output(shared.caCertificatePem),
      poolHost: poolHostName(site, domain),
      masters: masterNames,
      puppetdbHost: puppetdbName,
      // The challenge agents put into their CSRs (the server challenge is for servers' roles only).
      agentChallengeSecretName: secretRef(settings, "agent-challenge").name,
      agentPuppetConf: renderAgentConfig(agentSite(settings)),
      // Where the agent networks' resolvers forward the zone's queries (README: on-premises DNS).
      resolverAddresses: resolver ? resolver.addresses : [],
      ...(standbyCa && { standbyCaHost: standbyCa.hostName }),
      ...(replica && { databaseReplicaHost: replica.address }),
    };
    this.outputs = ca
      ? ({
          ...siteOutputs,
          caKeySecretName: ca.caKeySecretName,
          databaseHost: pulumi.output(shared.database).apply((d) => d.host),
          databasePort: pulumi.output(shared.database).apply((d) => d.port),
          databaseName: DATABASE_NAME,
          databaseUser: DATABASE_USER,
          databaseSecretName: secretRef(settings, "database").name,
          ...primaryOnly,
        } satisfies PrimaryStackOutputs)
      : siteOutputs;
    this.registerOutputs({ outputs: this.outputs });
  }
}

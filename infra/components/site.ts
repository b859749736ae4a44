import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { gitSshPort } from "../control-repo";
import { siteSrvRecords } from "../dns-records";
import { renderAgentConfig } from "../hostconfig";
import { CompileMasterHost, HostCommon, PuppetdbHost, SecretRef } from "../hostconfig/types";
import {
  caHostName,
  genericPuppetName,
  masterAltNames,
  masterHostNames,
  poolHostName,
  puppetSrvName,
  puppetdbHostName,
  puppetdbUrls,
  SITE_TAG,
  secretName,
  siteDomain,
} from "../naming";
import { PrimaryOutputs } from "../peer";
import { Settings } from "../settings";
import { CertificateAuthority } from "./certificate-authority";
import { CompileMasterPool } from "./compile-pool";
import { DATABASE_NAME, DATABASE_USER, PuppetDatabase } from "./database";
import { SiteNetwork } from "./network";
import { PuppetHost } from "./puppet-host";
import { SecretsKey } from "./secrets-key";
import { ServiceDiscovery } from "./service-discovery";

/** JVM heaps, sized for the default instance types (8 GiB). */
const HEAP_MB = { ca: 2048, master: 3072, puppetdb: 2048 } as const;

export interface SiteArgs {
  readonly settings: Settings;
  /** The primary's outputs; required on a secondary, absent on the primary. */
  readonly primary?: PrimaryOutputs;
}

/** What the primary shares with the other sites, wherever it comes from. */
interface Shared {
  readonly caCertificatePem: pulumi.Input<string>;
  readonly database: pulumi.Input<{ host: string; port: number }>;
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
    const s = args.settings;
    const peer = checkPrimary(s, args.primary);
    const site = s.site.name;
    const siteNames = s.sites.map((x) => x.name);
    const tags = { "puppet:deployment": s.project, [SITE_TAG]: site };
    const region = s.site.region;
    const ref = (secret: "ca-key" | "challenge" | "database"): SecretRef => ({
      name: secretName(s.project, s.primarySite, secret),
      region,
    });
    const common = (certname: string, heapMb: number): Omit<HostCommon, "caCertificatePem"> => ({
      certname,
      site,
      domain: s.domain,
      region,
      caServer: caHostName(s.domain),
      challengeSecret: ref("challenge"),
      heapMb,
    });

    const primarySite = s.sites.find((x) => x.name === s.primarySite)!;
    const network = new SiteNetwork(
      `${name}-network`,
      {
        cidr: s.site.vpcCidr,
        azCount: s.azCount,
        firewall: {
          site,
          sites: s.sites,
          primarySite: s.primarySite,
          gitSshPort: gitSshPort(s.controlRepo.url),
        },
        peer: peer && {
          vpcId: peer.vpcId,
          cidr: primarySite.vpcCidr,
          region: primarySite.region,
          routeTableIds: peer.privateRouteTableIds,
        },
        tags,
      },
      { parent: this },
    );
    const ami =
      s.amiId ?? aws.ssm.getParameterOutput({ name: s.imageParameter }, { parent: this }).value;
    const serverGroups = [network.securityGroup("puppetserver")];

    let shared: Shared;
    let ca: CertificateAuthority | undefined;
    if (peer) {
      shared = {
        caCertificatePem: peer.caCertificatePem,
        database: { host: peer.databaseHost, port: peer.databasePort },
        zoneId: peer.zoneId,
      };
    } else {
      const replicaRegions = [...new Set(s.sites.map((x) => x.region))].filter((r) => r !== region);
      const key = new SecretsKey(
        `${name}-secrets`,
        { replicaRegions, protect: s.protectStateful, tags },
        { parent: this },
      );
      ca = new CertificateAuthority(
        `${name}-ca`,
        {
          host: {
            ...common(caHostName(s.domain), HEAP_MB.ca),
            role: "ca",
            caKeySecret: ref("ca-key"),
            dnsAltNames: [caHostName(s.domain)],
          },
          subnetId: network.serverSubnetIds[0],
          securityGroupIds: serverGroups,
          instanceType: s.caInstanceType,
          ami,
          kmsKeyArn: key.keyArn,
          replicaKmsKeyArns: key.replicaKeyArns,
          protect: s.protectStateful,
          tags,
        },
        { parent: this },
      );
      const database = new PuppetDatabase(
        `${name}-database`,
        {
          ...s.database,
          subnetIds: network.dataSubnetIds,
          securityGroupIds: [network.securityGroup("database")],
          passwordSecretName: ref("database").name,
          kmsKeyArn: key.keyArn,
          replicaKmsKeyArns: key.replicaKeyArns,
          protect: s.protectStateful,
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
    }

    const masterNames = masterHostNames(site, s.domain, s.masters.count);
    const pool = new CompileMasterPool(
      `${name}-masters`,
      {
        balancerName: `${site}-masters`,
        members: masterNames.map((hostName, i) => ({
          hostName,
          config: pulumi.output(shared.caCertificatePem).apply((pem): CompileMasterHost => ({
            ...common(hostName, HEAP_MB.master),
            caCertificatePem: pem,
            role: "compile-master",
            dnsAltNames: masterAltNames(site, s.domain, i + 1),
            puppetdbUrls: puppetdbUrls(site, siteNames, s.domain),
            controlRepo: s.controlRepo,
          })),
        })),
        vpcId: network.vpcId,
        subnetIds: network.serverSubnetIds,
        securityGroupIds: serverGroups,
        instanceType: s.masters.instanceType,
        ami,
        readsSecrets: [ref("challenge")],
        tags,
      },
      { parent: this },
    );

    const puppetdbName = puppetdbHostName(site, s.domain);
    const puppetdb = new PuppetHost(
      `${name}-puppetdb`,
      {
        role: "puppetdb",
        hostName: puppetdbName,
        config: pulumi
          .all([shared.caCertificatePem, shared.database])
          .apply(([pem, db]): PuppetdbHost => ({
            ...common(puppetdbName, HEAP_MB.puppetdb),
            caCertificatePem: pem,
            role: "puppetdb",
            database: {
              ...db,
              name: DATABASE_NAME,
              user: DATABASE_USER,
              passwordSecret: ref("database"),
            },
            migrate: site === s.primarySite,
            // The masters, this site's too, come from the SRV records: a pool that grows or shrinks
            // leaves PuppetDB's user data, and so the host, as it is.
            certificateAllowlist: [caHostName(s.domain)],
            allowlistSrvRecords: siteNames.map((x) => puppetSrvName(x, s.domain)),
          })),
        subnetId: network.dataSubnetIds[0],
        securityGroupIds: [network.securityGroup("puppetdb")],
        instanceType: s.puppetdbInstanceType,
        ami,
        readsSecrets: [ref("database"), ref("challenge")],
        tags,
      },
      { parent: this },
    );

    const discovery = new ServiceDiscovery(
      `${name}-dns`,
      {
        domain: s.domain,
        site,
        region,
        vpcId: network.vpcId,
        zoneId: shared.zoneId,
        srvRecords: siteSrvRecords({
          site,
          domain: s.domain,
          sites: siteNames,
          masterCount: s.masters.count,
          masterWeight: s.masters.srvWeight,
        }),
        hosts: [
          ...pool.masters,
          { hostName: puppetdbName, privateIp: puppetdb.privateIp },
          ...(ca ? [{ hostName: ca.hostName, privateIp: ca.privateIp }] : []),
        ],
        pool: {
          hostName: poolHostName(site, s.domain),
          dnsName: pool.balancerDnsName,
          zoneId: pool.balancerZoneId,
        },
        genericName: genericPuppetName(s.domain),
        protect: s.protectStateful,
        tags,
      },
      { parent: this },
    );

    const agentConfig = renderAgentConfig({
      site,
      domain: s.domain,
      caServer: caHostName(s.domain),
      serverList: [
        poolHostName(site, s.domain),
        ...siteNames.filter((x) => x !== site).map((x) => poolHostName(x, s.domain)),
      ],
    });
    const siteOutputs = {
      site,
      role: s.role,
      region,
      domain: s.domain,
      srvDomain: siteDomain(site, s.domain),
      vpcId: network.vpcId,
      vpcCidr: s.site.vpcCidr,
      privateRouteTableIds: pulumi.all(network.privateRouteTableIds),
      zoneId: discovery.zoneId,
      caHost: caHostName(s.domain),
      caCertificatePem: pulumi.output(shared.caCertificatePem),
      poolHost: poolHostName(site, s.domain),
      masters: masterNames,
      puppetdbHost: puppetdbName,
      challengeSecretName: ref("challenge").name,
      agentPuppetConf: agentConfig,
    };
    this.outputs = ca
      ? {
          ...siteOutputs,
          caKeySecretName: ca.caKeySecretName,
          databaseHost: pulumi.output(shared.database).apply((d) => d.host),
          databasePort: pulumi.output(shared.database).apply((d) => d.port),
          databaseName: DATABASE_NAME,
          databaseUser: DATABASE_USER,
          databaseSecretName: ref("database").name,
        }
      : siteOutputs;
    this.registerOutputs({ outputs: this.outputs });
  }
}

/** A secondary needs the primary's outputs, and they must describe the primary the catalogue names. */
function checkPrimary(
  s: Settings,
  primary: PrimaryOutputs | undefined,
): PrimaryOutputs | undefined {
  if (s.role === "primary") {
    if (primary)
      throw new Error(`site ${s.site.name} is the primary (primarySite); it reads no peer stack`);
    return undefined;
  }
  if (!primary) {
    throw new Error(
      `site ${s.site.name} is secondary: it needs the outputs of the primary stack (config peerStack)`,
    );
  }
  const catalogue = s.sites.find((x) => x.name === s.primarySite)!;
  for (const [output, expected, key] of [
    ["region", catalogue.region, `sites.${catalogue.name}.region`],
    ["vpcCidr", catalogue.vpcCidr, `sites.${catalogue.name}.vpcCidr`],
  ] as const) {
    if (primary[output] !== expected) {
      throw new Error(
        `config peerStack: output ${output} of ${s.peerStack} is ${JSON.stringify(primary[output])} but ${key} is ${JSON.stringify(expected)}; ` +
          `peerStack must name the primary site's stack`,
      );
    }
  }
  return primary;
}

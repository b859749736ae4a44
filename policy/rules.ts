// The deployment's invariants as policies: what every stack of this project must keep however its
// code changes. Pure functions over the inputs the engine shows a policy, so the tests run them over
// the offline plans; `index.ts` only wraps them in a PolicyPack for `pulumi preview --policy-pack`.
//
// The engine hands a resource's inputs through a proxy that throws when a value is unknown (during a
// preview, before the values it comes from exist) and then reports the policy as not run: checks
// read only the properties they judge, and test presence with `in` where the value does not matter.
import type {
  PolicyResource,
  ReportViolation,
  ResourceValidation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationPolicy,
} from "@pulumi/policy";
import { gunzipSync } from "node:zlib";
import { CatalogueConfig, Network, admittedNetworks, admittingNetwork } from "./catalogue";

type Props = Record<string, unknown>;
type Check = (
  props: Props,
  report: (message: string) => void,
  args: ResourceValidationArgs,
) => void;

export const T = {
  instance: "aws:ec2/instance:Instance",
  launchTemplate: "aws:ec2/launchTemplate:LaunchTemplate",
  subnet: "aws:ec2/subnet:Subnet",
  eip: "aws:ec2/eip:Eip",
  eipAssociation: "aws:ec2/eipAssociation:EipAssociation",
  loadBalancer: "aws:lb/loadBalancer:LoadBalancer",
  albLoadBalancer: "aws:alb/loadBalancer:LoadBalancer",
  elb: "aws:elb/loadBalancer:LoadBalancer",
  volume: "aws:ebs/volume:Volume",
  rdsInstance: "aws:rds/instance:Instance",
  rdsCluster: "aws:rds/cluster:Cluster",
  secret: "aws:secretsmanager/secret:Secret",
  secretVersion: "aws:secretsmanager/secretVersion:SecretVersion",
  lifecyclePolicy: "aws:dlm/lifecyclePolicy:LifecyclePolicy",
  securityGroup: "aws:ec2/securityGroup:SecurityGroup",
  securityGroupRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
  ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  keyPair: "aws:ec2/keyPair:KeyPair",
  ssmParameter: "aws:ssm/parameter:Parameter",
  randomPassword: "random:index/randomPassword:RandomPassword",
  privateKey: "tls:index/privateKey:PrivateKey",
  selfSignedCert: "tls:index/selfSignedCert:SelfSignedCert",
  locallySignedCert: "tls:index/locallySignedCert:LocallySignedCert",
  certRequest: "tls:index/certRequest:CertRequest",
} as const;

function record(value: unknown): Props | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Props)
    : undefined;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * A validation that applies `checks` by resource type and tells the engine the others are not
 * applicable. With one type, the function carries it as `__pulumiType`, the mark
 * `validateResourceOfType` leaves, so the engine skips other types without calling it.
 */
function byType(checks: Record<string, Check>): ResourceValidation {
  const validate = (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
    const check = checks[args.type];
    if (!check) return args.notApplicable(`applies to ${Object.keys(checks).join(", ")}`);
    check(args.props as Props, (message) => reportViolation(message), args);
  };
  const types = Object.keys(checks);
  return types.length === 1 ? Object.assign(validate, { __pulumiType: types[0] }) : validate;
}

// ---- no public address -------------------------------------------------------------------------

const loadBalancerInternal: Check = (lb, report) => {
  if (lb.internal !== true)
    report("load balancers are internal (internal: true); agents reach them over private routes");
};

export const noPublicAddress: ResourceValidationPolicy = {
  name: "no-public-address",
  description:
    "No host, subnet, load balancer or database gets a public address: instances without " +
    "associatePublicIpAddress, subnets without mapPublicIpOnLaunch, internal load balancers, " +
    "databases not publicly accessible, no Elastic IP on a host (NAT gateways keep theirs).",
  validateResource: byType({
    [T.instance]: (instance, report) => {
      if (instance.associatePublicIpAddress === true)
        report("associatePublicIpAddress is true; hosts are reached through SSM, never directly");
    },
    [T.launchTemplate]: (template, report) => {
      for (const nic of list(template.networkInterfaces)) {
        const value = record(nic)?.associatePublicIpAddress;
        if (value === true || value === "true")
          report("a network interface of the template associates a public address");
      }
    },
    [T.subnet]: (subnet, report) => {
      if (subnet.mapPublicIpOnLaunch === true)
        report("mapPublicIpOnLaunch is true; no subnet hands out public addresses");
    },
    [T.loadBalancer]: loadBalancerInternal,
    [T.albLoadBalancer]: loadBalancerInternal,
    [T.elb]: loadBalancerInternal,
    [T.rdsInstance]: (db, report) => {
      if (db.publiclyAccessible === true) report("publiclyAccessible is true");
    },
    [T.eip]: (eip, report) => {
      if ("instance" in eip || "networkInterface" in eip)
        report("an Elastic IP is attached to a host; only NAT gateways hold public addresses");
    },
    [T.eipAssociation]: (_, report) =>
      report("an Elastic IP is associated with a host; only NAT gateways hold public addresses"),
  }),
};

// ---- IMDSv2 ------------------------------------------------------------------------------------

const tokensRequired: Check = (resource, report) => {
  const tokens = record(resource.metadataOptions)?.httpTokens;
  if (tokens !== "required")
    report(
      `metadataOptions.httpTokens is ${JSON.stringify(tokens) ?? "unset"}, not "required" (IMDSv2)`,
    );
};

export const imdsv2Required: ResourceValidationPolicy = {
  name: "imdsv2-required",
  description:
    'Every instance and launch template requires IMDSv2 (metadataOptions.httpTokens "required"), ' +
    "so a request forged through a host cannot read its role's credentials.",
  validateResource: byType({ [T.instance]: tokensRequired, [T.launchTemplate]: tokensRequired }),
};

// ---- encrypted storage ------------------------------------------------------------------------

const storageEncrypted: Check = (db, report) => {
  if (db.storageEncrypted !== true) report("storageEncrypted is not true");
};

export const encryptedStorage: ResourceValidationPolicy = {
  name: "encrypted-storage",
  description:
    "Everything stored is encrypted: instance root and EBS block devices, EBS volumes, launch " +
    "template volumes, RDS storage, snapshot copies to other regions, and Secrets Manager secrets " +
    "(with the deployment's KMS key, on every replica too).",
  validateResource: byType({
    [T.instance]: (instance, report) => {
      if (record(instance.rootBlockDevice)?.encrypted !== true)
        report("rootBlockDevice.encrypted is not true");
      list(instance.ebsBlockDevices).forEach((device, i) => {
        if (record(device)?.encrypted !== true)
          report(`ebsBlockDevices[${i}].encrypted is not true`);
      });
    },
    [T.launchTemplate]: (template, report) => {
      list(template.blockDeviceMappings).forEach((mapping, i) => {
        const ebs = record(record(mapping)?.ebs);
        if (ebs && ebs.encrypted !== true && ebs.encrypted !== "true")
          report(`blockDeviceMappings[${i}].ebs.encrypted is not true`);
      });
    },
    [T.volume]: (volume, report) => {
      if (volume.encrypted !== true) report("encrypted is not true");
    },
    [T.rdsInstance]: storageEncrypted,
    [T.rdsCluster]: storageEncrypted,
    [T.lifecyclePolicy]: (policy, report) => {
      list(record(policy.policyDetails)?.schedules).forEach((schedule, i) => {
        list(record(schedule)?.crossRegionCopyRules).forEach((copy, j) => {
          if (record(copy)?.encrypted !== true)
            report(`schedules[${i}].crossRegionCopyRules[${j}].encrypted is not true`);
        });
      });
    },
    [T.secret]: (secret, report) => {
      if (!("kmsKeyId" in secret)) report("kmsKeyId is unset: the secret uses AWS's default key");
      list(secret.replicas).forEach((replica, i) => {
        if (!("kmsKeyId" in (record(replica) ?? {}))) report(`replicas[${i}].kmsKeyId is unset`);
      });
    },
  }),
};

// ---- ingress ------------------------------------------------------------------------------------

/** One ingress permission, whatever resource shape holds it. */
interface Ingress {
  readonly where: string;
  readonly protocol: string;
  readonly fromPort?: number;
  readonly toPort?: number;
  readonly ipv4: readonly string[];
  /** Sources no catalogue network can admit: IPv6 ranges and prefix lists. */
  readonly foreign: readonly string[];
}

function strings(value: unknown): string[] {
  return list(value).filter((v): v is string => typeof v === "string");
}

function port(value: unknown): number | undefined {
  return typeof value === "number" ? value : undefined;
}

/** An inline block or a SecurityGroupRule: `protocol`, `cidrBlocks`, `ipv6CidrBlocks`, ... */
function classicIngress(rule: Props, where: string): Ingress {
  return {
    where,
    protocol: String(rule.protocol),
    fromPort: port(rule.fromPort),
    toPort: port(rule.toPort),
    ipv4: strings(rule.cidrBlocks),
    foreign: [...strings(rule.ipv6CidrBlocks), ...strings(rule.prefixListIds)],
  };
}

/** The ingress a resource grants: none for egress or for types that grant none. */
export function ingressOf(type: string, props: Props): Ingress[] {
  switch (type) {
    case T.ingressRule:
      return [
        {
          where: "the rule",
          protocol: String(props.ipProtocol),
          fromPort: port(props.fromPort),
          toPort: port(props.toPort),
          ipv4: "cidrIpv4" in props ? [String(props.cidrIpv4)] : [],
          foreign: [
            ...("cidrIpv6" in props ? [String(props.cidrIpv6)] : []),
            ...("prefixListId" in props ? [String(props.prefixListId)] : []),
          ],
        },
      ];
    case T.securityGroupRule:
      return props.type === "ingress" ? [classicIngress(props, "the rule")] : [];
    case T.securityGroup:
      return list(props.ingress).map((rule, i) =>
        classicIngress(record(rule) ?? {}, `ingress[${i}]`),
      );
    default:
      return [];
  }
}

const INGRESS_TYPES = [T.ingressRule, T.securityGroupRule, T.securityGroup];

/** Checks for every security-group shape, applying `check` to each permission it grants. */
function ingressChecks(
  check: (
    ingress: Ingress,
    report: (message: string) => void,
    args: ResourceValidationArgs,
  ) => void,
): Record<string, Check> {
  const each: Check = (props, report, args) => {
    for (const ingress of ingressOf(args.type, props)) check(ingress, report, args);
  };
  return Object.fromEntries(INGRESS_TYPES.map((t) => [t, each]));
}

export const NO_INGRESS_OUTSIDE_CATALOGUE = "no-ingress-outside-catalogue";

export const ingressFromCatalogueOnly: ResourceValidationPolicy = {
  name: NO_INGRESS_OUTSIDE_CATALOGUE,
  description:
    "Security groups admit only the catalogue's networks (every site's vpcCidr and agentCidrs) " +
    "or other security groups: no IPv6 range, prefix list or other IPv4 range.",
  configSchema: {
    properties: {
      sites: {
        type: "object",
        description:
          "The sites catalogue (site name -> { vpcCidr, agentCidrs }), as puppet-multisite:sites " +
          "in Pulumi.yaml. Default: read from the project's files for the stack being checked.",
        additionalProperties: {
          type: "object",
          properties: {
            vpcCidr: { type: "string" },
            agentCidrs: { type: "array", items: { type: "string" } },
          },
          required: ["vpcCidr"],
        },
      },
      projectDir: {
        type: "string",
        description:
          "Directory of the project's Pulumi.yaml and stack files, relative to the pack. Default '..'.",
      },
    },
  },
  validateResource: byType(
    ingressChecks((ingress, report, args) => {
      let networks: Network[];
      try {
        networks = admittedNetworks(args.getConfig<CatalogueConfig>(), args.urn);
      } catch (err) {
        // Without the catalogue nothing can be shown to be inside it: fail closed.
        report(`no sites catalogue to check ${ingress.where} against: ${(err as Error).message}`);
        return;
      }
      for (const source of ingress.foreign)
        report(`${ingress.where} admits ${source}, which is not a network of the sites catalogue`);
      for (const cidr of ingress.ipv4) {
        if (!admittingNetwork(cidr, networks))
          report(
            `${ingress.where} admits ${cidr}, outside every network of the sites catalogue ` +
              `(${networks.map((n) => n.cidr).join(", ")})`,
          );
      }
    }),
  ),
};

// ---- SSH ----------------------------------------------------------------------------------------

const SSH = 22;

/** True when the permission lets TCP port 22 in: all protocols, or TCP over a range holding 22. */
export function opensPort(ingress: Ingress, target: number): boolean {
  if (["-1", "all"].includes(ingress.protocol)) return true;
  if (!["tcp", "6"].includes(ingress.protocol)) return false;
  const from = ingress.fromPort ?? 0;
  const to = ingress.toPort ?? 65535;
  return from <= target && target <= to;
}

export const noSsh: ResourceValidationPolicy = {
  name: "no-ssh",
  description:
    "No SSH: no security group opens TCP 22 (nor all traffic), no instance or launch template " +
    "names a key pair and no key pair is created. Hosts are reached through SSM Session Manager.",
  validateResource: byType({
    ...ingressChecks((ingress, report) => {
      if (opensPort(ingress, SSH))
        report(`${ingress.where} opens port ${SSH} (protocol ${ingress.protocol})`);
    }),
    [T.instance]: (instance, report) => {
      if ("keyName" in instance) report("keyName is set: an SSH key pair on a host");
    },
    [T.launchTemplate]: (template, report) => {
      if ("keyName" in template) report("keyName is set: an SSH key pair on hosts");
    },
    [T.keyPair]: (_, report) => report("an SSH key pair; hosts are reached through SSM"),
  }),
};

// ---- stateful resources protected -------------------------------------------------------------

/** What must outlive a mistaken `pulumi destroy` or a replacement: the CA, secrets, data, zone. */
export const STATEFUL_TYPES: readonly string[] = [
  T.privateKey,
  T.selfSignedCert,
  T.randomPassword,
  T.secret,
  T.rdsInstance,
  "aws:route53/zone:Zone",
  "aws:kms/key:Key",
  "aws:kms/replicaKey:ReplicaKey",
  T.volume,
];

const deletionProtected: Check = (db, report) => {
  if (db.deletionProtection !== true) report("deletionProtection is not true");
  // A read replica cannot keep a final snapshot (RDS refuses one): its source keeps them.
  if (db.skipFinalSnapshot === true && db.replicateSourceDb === undefined) {
    report("skipFinalSnapshot is true: no final snapshot");
  }
};

export const statefulProtected: ResourceValidationPolicy = {
  name: "stateful-protected",
  description:
    "Stateful resources (CA key and certificate, random passwords, secrets, database, zone, KMS " +
    "keys, state volumes) carry Pulumi's protect option, and the database has deletion " +
    "protection and a final snapshot. A stack with protectStateful: false disables this policy.",
  configSchema: {
    properties: {
      statefulTypes: {
        type: "array",
        items: { type: "string" },
        description: "Type tokens that must be protected.",
        default: [...STATEFUL_TYPES],
      },
    },
  },
  validateResource: (args, reportViolation) => {
    const types = args.getConfig<{ statefulTypes?: string[] }>().statefulTypes ?? STATEFUL_TYPES;
    const database = args.type === T.rdsInstance || args.type === T.rdsCluster;
    if (!types.includes(args.type) && !database)
      return args.notApplicable("applies to stateful resource types");
    if (types.includes(args.type) && !args.opts.protect)
      reportViolation("not protected: set the protect resource option (protectStateful)");
    if (database) deletionProtected(args.props as Props, (m) => reportViolation(m), args);
  },
};

// ---- secrets ------------------------------------------------------------------------------------

/** Text that is secret material whatever surrounds it. */
const SECRET_PATTERNS: readonly [RegExp, string][] = [
  [/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/, "a PEM private key"],
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/, "an AWS access key ID"],
  [/aws_secret_access_key\s*[=:]\s*[A-Za-z0-9/+]{40}/i, "an AWS secret access key"],
];

/** Names under which a parameter would hold a secret. */
const SECRET_NAME = /passw|secret|(^|[^a-z])key([^a-z]|$)|private.?key|token|challenge|credential/i;

function secretIn(text: string): string | undefined {
  return SECRET_PATTERNS.find(([pattern]) => pattern.test(text))?.[1];
}

/** User data as the host reads it: base64, possibly gzipped (cloud-init accepts both). */
function decodeUserData(base64: string): string {
  const bytes = Buffer.from(base64, "base64");
  try {
    return bytes[0] === 0x1f && bytes[1] === 0x8b
      ? gunzipSync(bytes).toString("utf8")
      : bytes.toString("utf8");
  } catch {
    return bytes.toString("utf8");
  }
}

function checkUserData(props: Props, report: (message: string) => void): void {
  const texts: [string, string][] = [];
  if (typeof props.userData === "string") {
    // A launch template's userData is base64; an instance's is the text itself.
    texts.push(["userData", props.userData], ["userData", decodeUserData(props.userData)]);
  }
  if (typeof props.userDataBase64 === "string")
    texts.push(["userDataBase64", decodeUserData(props.userDataBase64)]);
  for (const [key, text] of texts) {
    const found = secretIn(text);
    if (found) {
      report(`${key} holds ${found}; hosts read secrets from Secrets Manager at boot`);
      return;
    }
  }
}

export const secretsInSecretsManager: ResourceValidationPolicy = {
  name: "secrets-in-secrets-manager",
  description:
    "Secrets live only in Secrets Manager: no SSM parameter is a SecureString or holds a " +
    "secret-looking name or value, and no user data or tag carries a private key or AWS key.",
  validateResource: (args, reportViolation) => {
    const props = args.props as Props;
    const report = (message: string) => reportViolation(message);
    if (args.type === T.ssmParameter) {
      if (props.type === "SecureString")
        report("a SecureString parameter: secrets belong in Secrets Manager");
      if (typeof props.name === "string" && SECRET_NAME.test(props.name))
        report(`parameter ${props.name} is named as a secret; keep it in Secrets Manager`);
      const found = typeof props.value === "string" ? secretIn(props.value) : undefined;
      if (found) report(`the parameter's value is ${found}`);
    }
    if (args.type === T.instance || args.type === T.launchTemplate) checkUserData(props, report);
    // Tags are plain text to anyone who may describe the resource.
    if ("tags" in props) {
      for (const [key, value] of Object.entries(record(props.tags) ?? {})) {
        const found = typeof value === "string" ? secretIn(value) : undefined;
        if (found) report(`tag ${key} holds ${found}`);
      }
    }
  },
};

/** Resources whose outputs are secret material, and the inputs allowed to receive it. */
const SECRET_SOURCES = new Set<string>([T.randomPassword, T.privateKey]);
const SECRET_SINKS: Readonly<Record<string, readonly string[]>> = {
  [T.secretVersion]: ["secretString", "secretBinary"],
  [T.selfSignedCert]: ["privateKeyPem"],
  [T.locallySignedCert]: ["caPrivateKeyPem"],
  [T.certRequest]: ["privateKeyPem"],
  // The database must be given its master password; it keeps it as AWS keeps any secret.
  [T.rdsInstance]: ["password"],
  [T.rdsCluster]: ["masterPassword"],
};

export const secretMaterialOnlyInSecretsManager: StackValidationPolicy = {
  name: "secret-material-only-in-secrets-manager",
  description:
    "Generated secrets (random passwords, TLS private keys) flow only into Secrets " +
    "Manager secret versions, the certificates they sign and the database's master password: " +
    "never into user data, tags, parameters or any other input.",
  validateStack: (args, reportViolation) => {
    for (const resource of args.resources) {
      // Components pass values along to their children; the children are checked.
      if (!resource.provider) continue;
      for (const [property, deps] of Object.entries(resource.propertyDependencies)) {
        const source = deps.find((d: PolicyResource) => SECRET_SOURCES.has(d.type));
        if (source && !(SECRET_SINKS[resource.type] ?? []).includes(property))
          reportViolation(
            `${resource.type} ${resource.name}: ${property} comes from the secret ${source.name} ` +
              `(${source.type}); store it in Secrets Manager and read it there`,
            resource.urn,
          );
      }
    }
  },
};

/** Every policy of the pack. */
export const policies = [
  noPublicAddress,
  imdsv2Required,
  encryptedStorage,
  ingressFromCatalogueOnly,
  noSsh,
  statefulProtected,
  secretsInSecretsManager,
  secretMaterialOnlyInSecretsManager,
];

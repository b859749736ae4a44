// Pulumi mocks that stand in for AWS, TLS and random providers: every resource gets a deterministic id
// and the outputs the program reads (addresses, ARNs, DNS names), so plans are reproducible and can be
// diffed between two commits. Used by the offline plan, the tests and the benchmarks.
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { Address4 } from "ip-address";

export const MOCK_ACCOUNT = "123456789012";

/** Outputs of a stack referenced by name, as a StackReference would read them. */
export type StackOutputsByName = Readonly<Record<string, Record<string, unknown>>>;

/** A string input, or the fallback when the input is unset or not a string. */
function text(value: unknown, fallback: string): string {
  return typeof value === "string" ? value : fallback;
}

function hash(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\0")).digest("hex");
}

/** The `filters` of a data source's inputs (name and accepted values). */
function filtersOf(inputs: unknown): { name: string; values: string[] }[] {
  const filters = (inputs as { filters?: { name: string; values: string[] }[] }).filters;
  return filters ?? [];
}

/** The AWS service of a resource type token, for fake ARNs: `aws:ec2/vpc:Vpc` -> `ec2`. */
function service(type: string): string {
  return /^aws:([a-z0-9]+)\//.exec(type)?.[1] ?? "mock";
}

export class PlanMocks implements pulumi.runtime.Mocks {
  /** State of every resource by id, so later resources can look up earlier ones (an instance's subnet). */
  private readonly byId = new Map<string, Record<string, unknown>>();
  private readonly addressesUsed = new Map<string, number>();
  /** Every function the program called (its token), in order: what the plan depends on besides config. */
  readonly calls: string[] = [];

  constructor(
    private readonly region: string,
    private readonly stackOutputs: StackOutputsByName = {},
    private readonly zoneCount = 4,
    /** Instance types a zone does not offer, by zone name; every other zone offers every type. */
    private readonly missingOfferings: Readonly<Record<string, readonly string[]>> = {},
  ) {}

  newResource(args: pulumi.runtime.MockResourceArgs): {
    id: string | undefined;
    state: Record<string, unknown>;
  } {
    const inputs = args.inputs as Record<string, unknown>;
    if (args.type === "pulumi:pulumi:StackReference") {
      return this.stackReference(args.name, inputs);
    }
    const region =
      typeof inputs.region === "string" ? inputs.region : this.providerRegion(args.provider);
    const digest = hash(args.type, args.name);
    const id = `${args.name}-${digest.slice(0, 8)}`;
    const arn = `arn:aws:${service(args.type)}:${region}:${MOCK_ACCOUNT}:${args.name}`;
    const state: Record<string, unknown> = {
      ...inputs,
      arn,
      ...this.outputsOf(args.type, args.name, inputs, region, digest),
    };
    this.byId.set(id, state);
    return { id, state };
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    this.calls.push(args.token);
    const region = this.providerRegion(args.provider);
    switch (args.token) {
      case "aws:index/getAvailabilityZones:getAvailabilityZones": {
        const zones = this.zones(region).filter((z) =>
          filtersOf(args.inputs).every(({ name, values }) => values.includes(String(z[name]))),
        );
        return {
          names: zones.map((z) => z.name),
          zoneIds: zones.map((z) => z.zoneId),
        };
      }
      case "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": {
        const types = filtersOf(args.inputs).find((f) => f.name === "instance-type")?.values ?? [];
        const offers = this.zones(region).flatMap((z) =>
          types
            .filter((t) => !(this.missingOfferings[z.name] ?? []).includes(t))
            .map((t) => ({ zone: z.name, type: t })),
        );
        return {
          locations: offers.map((o) => o.zone),
          instanceTypes: offers.map((o) => o.type),
          locationTypes: offers.map(() => "availability-zone"),
        };
      }
      case "aws:index/getCallerIdentity:getCallerIdentity":
        return {
          accountId: MOCK_ACCOUNT,
          arn: `arn:aws:iam::${MOCK_ACCOUNT}:user/plan`,
          userId: "AIDAPLAN",
        };
      case "aws:iam/getSessionContext:getSessionContext":
        return {
          arn: (args.inputs as Record<string, unknown>).arn,
          issuerArn: `arn:aws:iam::${MOCK_ACCOUNT}:role/deployer`,
          issuerName: "deployer",
        };
      case "aws:index/getPartition:getPartition":
        return { partition: "aws", dnsSuffix: "amazonaws.com", reverseDnsPrefix: "com.amazonaws" };
      case "aws:ec2/getAmi:getAmi": {
        // One image per name and region, as Debian publishes them.
        const name = filtersOf(args.inputs).find((f) => f.name === "name")?.values[0] ?? "";
        return { id: `ami-${hash(name, region).slice(0, 17)}`, name };
      }
      case "aws:ssm/getParameter:getParameter": {
        const name = text((args.inputs as Record<string, unknown>).name, "");
        return { name, type: "String", value: `ami-${hash(name, region).slice(0, 17)}` };
      }
      default:
        throw new Error(`no mock for the call ${args.token}; add it to tools/plan/mocks.ts`);
    }
  }

  /**
   * A region's zones as DescribeAvailabilityZones lists them: an opted-in Local Zone first (its name
   * sorts before the region's own zones), then `zoneCount` availability zones.
   */
  private zones(region: string): Record<string, string>[] {
    const localZone = {
      name: `${region}-bos-1a`,
      zoneId: "lz1",
      "opt-in-status": "opted-in",
      "zone-type": "local-zone",
      state: "available",
    };
    const own = "abcdef"
      .slice(0, this.zoneCount)
      .split("")
      .map((z, i) => ({
        name: `${region}${z}`,
        zoneId: `az${i + 1}`,
        "opt-in-status": "opt-in-not-required",
        "zone-type": "availability-zone",
        state: "available",
      }));
    return [localZone, ...own];
  }

  /** Providers are resources too: their region is in their recorded state. */
  private providerRegion(provider: string | undefined): string {
    const id = provider?.split("::").pop();
    const region = id ? this.byId.get(id)?.region : undefined;
    return typeof region === "string" ? region : this.region;
  }

  private stackReference(name: string, inputs: Record<string, unknown>) {
    const stack = text(inputs.name, name);
    const outputs = this.stackOutputs[stack];
    if (!outputs) {
      throw new Error(
        `stack reference ${stack}: no planned outputs for it (known: ${Object.keys(this.stackOutputs).join(", ") || "none"})`,
      );
    }
    return { id: stack, state: { name: stack, outputs, secretOutputNames: [] } };
  }

  private outputsOf(
    type: string,
    name: string,
    inputs: Record<string, unknown>,
    region: string,
    digest: string,
  ): Record<string, unknown> {
    switch (type) {
      case "aws:ec2/instance:Instance":
        return { privateIp: this.addressIn(String(inputs.subnetId)), publicIp: "" };
      case "aws:lb/loadBalancer:LoadBalancer":
        return {
          dnsName: `${text(inputs.name, name)}-${digest.slice(0, 10)}.elb.${region}.amazonaws.com`,
          zoneId: `Z${digest.slice(0, 13).toUpperCase()}`,
        };
      case "aws:rds/instance:Instance":
        return {
          address: `${name}.${digest.slice(0, 12)}.${region}.rds.amazonaws.com`,
          endpoint: `${name}.${digest.slice(0, 12)}.${region}.rds.amazonaws.com:${typeof inputs.port === "number" ? inputs.port : 5432}`,
          port: inputs.port ?? 5432,
        };
      case "aws:route53/zone:Zone":
        return { zoneId: `Z${digest.slice(0, 20).toUpperCase()}` };
      case "aws:iam/role:Role":
      case "aws:iam/instanceProfile:InstanceProfile":
        return {
          name: inputs.name ?? `${name}-${digest.slice(0, 7)}`,
          arn: `arn:aws:iam::${MOCK_ACCOUNT}:role/${name}`,
        };
      case "aws:s3/bucket:Bucket":
        // The provider appends 26 characters to the prefix.
        return {
          bucket: inputs.bucket ?? `${text(inputs.bucketPrefix, `${name}-`)}${digest.slice(0, 26)}`,
        };
      case "aws:kms/key:Key":
        return { keyId: digest.slice(0, 32) };
      case "aws:rds/subnetGroup:SubnetGroup":
      case "aws:rds/parameterGroup:ParameterGroup":
        return { name: inputs.name ?? `${name}-${digest.slice(0, 7)}` };
      case "tls:index/privateKey:PrivateKey":
        return {
          privateKeyPem: `-----BEGIN RSA PRIVATE KEY-----\n(planned ${name})\n-----END RSA PRIVATE KEY-----\n`,
          publicKeyPem: "",
        };
      case "tls:index/selfSignedCert:SelfSignedCert":
        return {
          certPem: `-----BEGIN CERTIFICATE-----\n(planned ${name})\n-----END CERTIFICATE-----\n`,
        };
      case "random:index/randomId:RandomId":
        return { hex: digest.slice(0, 2 * Number(inputs.byteLength ?? 8)) };
      case "random:index/randomString:RandomString":
        return { result: digest.slice(0, Number(inputs.length ?? 16)) };
      case "random:index/randomPassword:RandomPassword":
        return { result: `planned-${digest.slice(0, Number(inputs.length ?? 32) - 8)}` };
      default:
        return {};
    }
  }

  /** The next free address in a subnet, skipping the five AWS reserves. */
  private addressIn(subnetId: string): string {
    const cidr = this.byId.get(subnetId)?.cidrBlock;
    if (typeof cidr !== "string") return "10.255.255.254";
    const used = (this.addressesUsed.get(cidr) ?? 3) + 1;
    this.addressesUsed.set(cidr, used);
    return Address4.fromBigInt(new Address4(cidr).startAddress().bigInt() + BigInt(used)).address;
  }
}

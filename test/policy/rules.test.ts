// The policy pack over the offline plans of both stacks: every rule holds on what the program plans,
// and each rule reports a resource of the plan with one property broken.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { beforeAll, describe, expect, it } from "vitest";
import {
  NO_INGRESS_OUTSIDE_CATALOGUE,
  T,
  encryptedStorage,
  imdsv2Required,
  ingressFromCatalogueOnly,
  noPublicAddress,
  noSsh,
  policies,
  secretMaterialOnlyInSecretsManager,
  secretsInSecretsManager,
  statefulProtected,
} from "../../policy/rules";
import { Plan, PlannedResource, planWithPeers } from "../../tools/plan/plan";
import { PROJECT_DIR } from "../../tools/plan/stack-config";
import { Run, withQueries } from "../harness";
import { Candidate, broken, validate, validateStack } from "./engine";

let a: Run;
let b: Run;
let plans: Run[];

beforeAll(async () => {
  const planned = await planWithPeers("site-b");
  a = withQueries(planned.get("site-a")!);
  b = withQueries(planned.get("site-b")!);
  plans = [a, b];
});

const resourcePolicies = policies.filter(
  (p): p is ResourceValidationPolicy => "validateResource" in p,
);

/** The first planned resource of a type in site-a (which holds every type the rules judge). */
function first(type: string, where: Plan = a): PlannedResource {
  const found = where.resources.find((r) => r.type === type);
  if (!found) throw new Error(`no ${type} in the plan of ${where.stack}`);
  return found;
}

async function violations(
  policy: ResourceValidationPolicy,
  resource: Candidate,
  config: object = {},
): Promise<string[]> {
  const outcome = await validate(policy, resource, config);
  expect(outcome.applicable, `${policy.name} applies to ${resource.type}`).toBe(true);
  return outcome.violations;
}

describe("the policy pack on the planned stacks", () => {
  it("names every policy once", () => {
    const names = policies.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toHaveLength(8);
  });

  it.each(resourcePolicies.map((p) => [p.name, p] as const))(
    "%s holds on every resource of site-a and site-b, and applies to some",
    async (_, policy) => {
      const found: string[] = [];
      let applicable = 0;
      for (const plan of plans) {
        for (const r of plan.resources) {
          const outcome = await validate(policy, r);
          if (outcome.applicable) applicable++;
          found.push(...outcome.violations.map((v) => `${plan.stack} ${r.type} ${r.name}: ${v}`));
        }
      }
      expect(found).toEqual([]);
      expect(applicable).toBeGreaterThan(0);
    },
  );

  it("secret-material-only-in-secrets-manager holds on both stacks, whose secrets do flow", async () => {
    for (const plan of plans)
      expect(await validateStack(secretMaterialOnlyInSecretsManager, plan)).toEqual([]);
    // Not vacuous: site-a feeds generated secrets into secret versions, the CA cert and RDS.
    const consumers = a.resources.filter((r) =>
      Object.values(r.propertyDependencies)
        .flat()
        .some((u) => /randomPassword|privateKey:PrivateKey/.test(u)),
    );
    expect(consumers.map((r) => r.type)).toEqual(
      expect.arrayContaining([T.secretVersion, T.selfSignedCert, T.rdsInstance]),
    );
  });
});

describe("each rule rejects a bad resource", () => {
  it("no-public-address: a public instance, subnet, load balancer, database, host EIP", async () => {
    const cases: [Candidate, RegExp][] = [
      [broken(first(T.instance), { associatePublicIpAddress: true }), /associatePublicIpAddress/],
      [broken(first(T.subnet), { mapPublicIpOnLaunch: true }), /mapPublicIpOnLaunch/],
      [broken(first(T.loadBalancer), { internal: false }), /internal/],
      [broken(first(T.loadBalancer), { internal: undefined }), /internal/],
      [broken(first(T.rdsInstance), { publiclyAccessible: true }), /publiclyAccessible/],
      [broken(first(T.eip), { instance: first(T.instance).id }), /Elastic IP/],
    ];
    for (const [resource, message] of cases) {
      expect(await violations(noPublicAddress, resource)).toEqual([expect.stringMatching(message)]);
    }
  });

  it("imdsv2-required: an instance with optional or unset tokens", async () => {
    const instance = first(T.instance);
    const optional = { ...(instance.inputs.metadataOptions as object), httpTokens: "optional" };
    for (const inputs of [{ metadataOptions: optional }, { metadataOptions: undefined }]) {
      expect(await violations(imdsv2Required, broken(instance, inputs))).toEqual([
        expect.stringMatching(/httpTokens/),
      ]);
    }
  });

  it("encrypted-storage: an unencrypted root device, EBS device, volume, database, snapshot copy, secret", async () => {
    const instance = first(T.instance);
    const root = { ...(instance.inputs.rootBlockDevice as object), encrypted: false };
    const dlm = first(T.lifecyclePolicy);
    const details = structuredClone(dlm.inputs.policyDetails) as {
      schedules: { crossRegionCopyRules: { encrypted: boolean }[] }[];
    };
    details.schedules[0].crossRegionCopyRules[0].encrypted = false;
    const secret = first(T.secret);
    const replicas = (secret.inputs.replicas as object[]).map((r) => ({
      ...r,
      kmsKeyId: undefined,
    }));
    const cases: [Candidate, RegExp][] = [
      [broken(instance, { rootBlockDevice: root }), /rootBlockDevice/],
      [broken(instance, { ebsBlockDevices: [{ deviceName: "/dev/sdf" }] }), /ebsBlockDevices\[0\]/],
      [broken(first(T.volume), { encrypted: false }), /encrypted/],
      [broken(first(T.rdsInstance), { storageEncrypted: false }), /storageEncrypted/],
      [broken(dlm, { policyDetails: details }), /crossRegionCopyRules\[0\]/],
      [broken(secret, { kmsKeyId: undefined }), /kmsKeyId is unset/],
      [
        broken(secret, { replicas: JSON.parse(JSON.stringify(replicas)) as unknown }),
        /replicas\[0\]/,
      ],
    ];
    for (const [resource, message] of cases) {
      expect(await violations(encryptedStorage, resource)).toEqual([
        expect.stringMatching(message),
      ]);
    }
  });

  it("no-ingress-outside-catalogue: the Internet, an unknown network, IPv6, a prefix list, inline ingress", async () => {
    const rule = a.named("site-a-network-puppetserver-ingress-8140-172-20-0-0-16");
    const group = first(T.securityGroup);
    const inline = {
      protocol: "tcp",
      fromPort: 8140,
      toPort: 8140,
      cidrBlocks: ["10.40.0.0/16", "0.0.0.0/0"],
    };
    const cases: [Candidate, RegExp][] = [
      [broken(rule, { cidrIpv4: "0.0.0.0/0" }), /admits 0\.0\.0\.0\/0, outside/],
      [broken(rule, { cidrIpv4: "10.60.0.0/16" }), /admits 10\.60\.0\.0\/16, outside/],
      // Wider than an agent network: contains it, but is not contained by it.
      [broken(rule, { cidrIpv4: "172.20.0.0/15" }), /admits 172\.20\.0\.0\/15/],
      [broken(rule, { cidrIpv4: undefined, cidrIpv6: "::/0" }), /admits ::\/0/],
      [broken(rule, { cidrIpv4: undefined, prefixListId: "pl-1234" }), /admits pl-1234/],
      [broken(group, { ingress: [inline] }), /ingress\[0\] admits 0\.0\.0\.0\/0/],
    ];
    for (const [resource, message] of cases) {
      expect(await violations(ingressFromCatalogueOnly, resource)).toEqual([
        expect.stringMatching(message),
      ]);
    }
    // A classic rule resource is judged the same way; its egress is not ingress.
    const classic: Candidate = {
      ...rule,
      type: T.securityGroupRule,
      inputs: {
        type: "ingress",
        protocol: "tcp",
        fromPort: 8140,
        toPort: 8140,
        cidrBlocks: ["0.0.0.0/0"],
      },
    };
    expect(await violations(ingressFromCatalogueOnly, classic)).toHaveLength(1);
    expect(
      await violations(ingressFromCatalogueOnly, {
        ...classic,
        inputs: { ...classic.inputs, type: "egress" },
      }),
    ).toEqual([]);
  });

  it("no-ingress-outside-catalogue reads the catalogue from policy config, or from the project's files", async () => {
    const rule = a.named("site-a-network-puppetserver-ingress-8140-172-20-0-0-16");
    const sites = { "site-a": { vpcCidr: "10.40.0.0/16" }, "site-b": { vpcCidr: "10.50.0.0/16" } };
    // The config's catalogue replaces the project's: without agent networks, 172.20/16 is refused.
    expect(await violations(ingressFromCatalogueOnly, rule, { sites })).toEqual([
      expect.stringMatching(/172\.20\.0\.0\/16, outside .*10\.40\.0\.0\/16, 10\.50\.0\.0\/16/),
    ]);
    const third = {
      ...sites,
      "site-c": { vpcCidr: "10.60.0.0/16", agentCidrs: ["172.20.0.0/16"] },
    };
    expect(await violations(ingressFromCatalogueOnly, rule, { sites: third })).toEqual([]);

    // A project directory whose catalogue gains a site admits it, for the stack the URN names.
    const dir = mkdtempSync(join(tmpdir(), "policy-catalogue-"));
    const project = readFileSync(join(PROJECT_DIR, "Pulumi.yaml"), "utf8");
    writeFileSync(
      join(dir, "Pulumi.yaml"),
      project.replace(
        /(\n {4}site-b:\n)/,
        "\n    site-c:\n      region: eu-north-1\n      vpcCidr: 10.60.0.0/16$1",
      ),
    );
    const site = readFileSync(join(PROJECT_DIR, "Pulumi.site-a.yaml"), "utf8");
    writeFileSync(join(dir, "Pulumi.site-a.yaml"), site);
    const fromC = broken(rule, { cidrIpv4: "10.60.0.0/16" });
    expect(await violations(ingressFromCatalogueOnly, fromC)).toHaveLength(1);
    expect(await violations(ingressFromCatalogueOnly, fromC, { projectDir: dir })).toEqual([]);

    // No catalogue at all: refused rather than admitted.
    const empty = mkdtempSync(join(tmpdir(), "policy-no-catalogue-"));
    expect(await violations(ingressFromCatalogueOnly, rule, { projectDir: empty })).toEqual([
      expect.stringMatching(/no sites catalogue/),
    ]);
    expect(NO_INGRESS_OUTSIDE_CATALOGUE).toBe(ingressFromCatalogueOnly.name);
  });

  it("no-ssh: port 22, all traffic, a range over 22, a key pair on a host", async () => {
    const rule = a.named("site-a-network-puppetserver-ingress-8140-172-20-0-0-16");
    const cases: [Candidate, RegExp][] = [
      [broken(rule, { fromPort: 22, toPort: 22 }), /opens port 22/],
      [broken(rule, { fromPort: 1, toPort: 1024 }), /opens port 22/],
      [broken(rule, { ipProtocol: "-1", fromPort: undefined, toPort: undefined }), /opens port 22/],
      [broken(first(T.instance), { keyName: "ops" }), /keyName/],
    ];
    for (const [resource, message] of cases) {
      expect(await violations(noSsh, resource)).toEqual([expect.stringMatching(message)]);
    }
    // UDP 22 is not SSH.
    expect(
      await violations(noSsh, broken(rule, { ipProtocol: "udp", fromPort: 22, toPort: 22 })),
    ).toEqual([]);
  });

  it("stateful-protected: an unprotected volume, key or secret; a database without deletion protection", async () => {
    for (const type of [T.volume, T.privateKey, T.secret, "aws:route53/zone:Zone"]) {
      const r = first(type);
      expect(await violations(statefulProtected, broken(r, {}, false))).toEqual([
        expect.stringMatching(/not protected/),
      ]);
    }
    const db = first(T.rdsInstance);
    expect(await violations(statefulProtected, broken(db, { deletionProtection: false }))).toEqual([
      expect.stringMatching(/deletionProtection/),
    ]);
    expect(await violations(statefulProtected, broken(db, { skipFinalSnapshot: true }))).toEqual([
      expect.stringMatching(/final snapshot/),
    ]);
    // The list is policy config: a type added there must be protected too.
    const group = first(T.securityGroup);
    expect((await validate(statefulProtected, group)).applicable).toBe(false);
    expect(
      await violations(statefulProtected, group, { statefulTypes: [T.securityGroup] }),
    ).toEqual([expect.stringMatching(/not protected/)]);
  });

  it("secrets-in-secrets-manager: a private key in user data or a tag, a SecureString parameter", async () => {
    const instance = first(T.instance);
    const pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n";
    // The planned user data (gzipped cloud-config) with a key written into it.
    const planned = gunzipSync(Buffer.from(instance.inputs.userDataBase64 as string, "base64"));
    const userData = gzipSync(Buffer.concat([planned, Buffer.from(pem)])).toString("base64");
    expect(
      await violations(secretsInSecretsManager, broken(instance, { userDataBase64: userData })),
    ).toEqual([expect.stringMatching(/userDataBase64 holds a PEM private key/)]);
    const tags = { ...(instance.inputs.tags as object), deployKey: "AKIAABCDEFGHIJKLMNOP" };
    expect(await violations(secretsInSecretsManager, broken(instance, { tags }))).toEqual([
      expect.stringMatching(/tag deployKey holds an AWS access key ID/),
    ]);
    // A parameter standing in for one of the deployment's secrets.
    const secret = first(T.secret);
    const parameter: Candidate = {
      ...secret,
      type: T.ssmParameter,
      urn: secret.urn.replace(T.secret, T.ssmParameter),
      inputs: { name: `/${secret.inputs.name as string}`, type: "SecureString", value: "[secret]" },
    };
    expect(await violations(secretsInSecretsManager, parameter)).toEqual([
      expect.stringMatching(/SecureString/),
      expect.stringMatching(/named as a secret/),
    ]);
  });

  it("secret-material-only-in-secrets-manager: a generated password templated into user data", async () => {
    const password = a.named("site-a-database-password");
    const instance = first(T.instance);
    const leaky: Plan = {
      ...a,
      resources: a.resources.map((r) =>
        r === instance
          ? {
              ...r,
              propertyDependencies: {
                ...r.propertyDependencies,
                userDataBase64: [...(r.propertyDependencies.userDataBase64 ?? []), password.urn],
              },
            }
          : r,
      ),
    };
    const found = await validateStack(secretMaterialOnlyInSecretsManager, leaky);
    expect(found.map((v) => v.urn)).toEqual([instance.urn]);
    expect(found[0].message).toMatch(
      /userDataBase64 comes from the secret site-a-database-password/,
    );
  });

  it("judges site-b's own resources too", async () => {
    const peeringRoute = first("aws:ec2/route:Route", b);
    expect((await validate(noPublicAddress, peeringRoute)).applicable).toBe(false);
    const rule = first(T.ingressRule, b);
    expect(
      await violations(ingressFromCatalogueOnly, broken(rule, { cidrIpv4: "0.0.0.0/0" })),
    ).toHaveLength(1);
  });
});

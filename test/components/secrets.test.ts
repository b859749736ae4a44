import { describe, expect, it } from "vitest";
import {
  ReplicatedSecret,
  ReplicatedSecretArgs,
  arnLike,
} from "../../infra/components/replicated-secret";
import { SecretsKey } from "../../infra/components/secrets-key";
import { SECRET } from "../../tools/plan/plan";
import { runProgram } from "../harness";

describe("SecretsKey", () => {
  it("is a rotated multi-Region key with a protected replica in every other region, made there", async () => {
    const run = await runProgram(
      () =>
        void new SecretsKey("site-a-secrets", { replicaRegions: ["eu-west-1", "ap-southeast-2"] }),
    );
    const [key] = run.ofType("aws:kms/key:Key");
    expect(key.inputs).toMatchObject({ multiRegion: true, enableKeyRotation: true });
    expect(key.protect).toBe(true);
    const replicas = run.ofType("aws:kms/replicaKey:ReplicaKey");
    expect(replicas).toHaveLength(2);
    const providers = run.ofType("pulumi:providers:aws");
    expect(providers.map((p) => p.inputs.region).sort()).toEqual(["ap-southeast-2", "eu-west-1"]);
    for (const replica of replicas) {
      const region = replica.name.replace("site-a-secrets-replica-", "");
      const provider = providers.find((p) => p.inputs.region === region)!;
      expect(replica.provider).toContain(provider.urn);
      expect(replica.protect).toBe(true);
    }
  });
});

describe("ReplicatedSecret", () => {
  it("stores the value as a secret, never in plain text", async () => {
    const run = await runProgram(
      () =>
        void new ReplicatedSecret("s", {
          secretName: "puppet-multisite/site-a/challenge",
          description: "d",
          value: "plain-text-value-from-test",
          kmsKeyArn: "arn:key",
          replicaKmsKeyArns: {},
        }),
    );
    expect(JSON.stringify(run.resources)).not.toContain("plain-text-value-from-test");
    expect(
      run.ofType("aws:secretsmanager/secretVersion:SecretVersion")[0].inputs.secretString,
    ).toBe(SECRET);
    expect(run.ofType("aws:secretsmanager/secretPolicy:SecretPolicy")).toHaveLength(0);
    expect(run.ofType("aws:secretsmanager/secret:Secret")[0].inputs).toMatchObject({
      recoveryWindowInDays: 30,
      kmsKeyId: "arn:key",
    });
  });

  const secret = (extra: Partial<ConstructorParameters<typeof ReplicatedSecret>[1]>) =>
    new ReplicatedSecret("s", {
      secretName: "puppet-multisite/site-a/server-challenge",
      description: "d",
      value: "v",
      kmsKeyArn: "arn:key",
      replicaKmsKeyArns: {},
      ...extra,
    });

  it("admits every role under readerRolePaths, of the deploying account, and the deployer", async () => {
    const run = await runProgram(() => void secret({ readerRolePaths: ["/pm/servers/"] }));
    const [policy] = run.ofType("aws:secretsmanager/secretPolicy:SecretPolicy");
    const doc = JSON.parse(policy.inputs.policy as string) as {
      Statement: { Condition: unknown }[];
    };
    expect(doc.Statement.map((st) => st.Condition)).toEqual([
      {
        ArnNotLike: {
          "aws:PrincipalArn": [
            "arn:aws:iam::123456789012:role/pm/servers/*",
            "arn:aws:iam::123456789012:role/deployer",
          ],
        },
      },
    ]);
  });

  it.each(["servers", "/servers", "/a b/", ""])(
    "fails when a reader role path is not an IAM path: %j",
    async (path) => {
      await expect(runProgram(() => void secret({ readerRolePaths: [path] }))).rejects.toThrow(
        `readerRolePaths must be IAM paths such as /puppet-multisite/servers/, got ${JSON.stringify(path)}`,
      );
    },
  );

  const policyOf = async (extra: Partial<ReplicatedSecretArgs>) => {
    const run = await runProgram(() => void secret(extra));
    const [policy] = run.ofType("aws:secretsmanager/secretPolicy:SecretPolicy");
    return JSON.parse(policy.inputs.policy as string) as {
      Statement: { Resource: unknown; Action: unknown; Condition: { ArnNotLike: unknown } }[];
    };
  };

  it("admits the configured administrators instead of whoever runs the update, in every replica's region", async () => {
    const administrators = [
      "arn:aws:iam::123456789012:role/ci-deployer",
      "arn:aws:iam::123456789012:role/dep*",
    ];
    const doc = await policyOf({ readers: ["arn:aws:iam::123456789012:role/ca"], administrators });
    expect(doc.Statement).toHaveLength(1);
    expect(doc.Statement[0]).toMatchObject({
      Action: "secretsmanager:GetSecretValue",
      // The secret itself wherever it is replicated: a replica's ARN names its own region.
      Resource: "*",
      Condition: {
        ArnNotLike: {
          "aws:PrincipalArn": ["arn:aws:iam::123456789012:role/ca", ...administrators],
        },
      },
    });
  });

  it("fails when the administrators leave out the principal running the update, naming it", async () => {
    await expect(
      runProgram(
        () =>
          void secret({
            readers: ["arn:aws:iam::123456789012:role/ca"],
            administrators: ["arn:aws:iam::123456789012:role/ci-deployer"],
          }),
      ),
    ).rejects.toThrow(
      "secretAdministrators does not include arn:aws:iam::123456789012:role/deployer, the principal running this update",
    );
  });
});

describe("arnLike", () => {
  it.each([
    ["arn:aws:iam::123456789012:role/ci", "arn:aws:iam::123456789012:role/ci", true],
    ["arn:aws:iam::123456789012:role/c?", "arn:aws:iam::123456789012:role/ci", true],
    ["arn:aws:iam::*:role/ci", "arn:aws:iam::123456789012:role/ci", true],
    [
      "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_Admin_*",
      "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0a1b",
      true,
    ],
    ["arn:aws:iam::123456789012:role/CI", "arn:aws:iam::123456789012:role/ci", false],
    ["arn:aws:iam::123456789012:role/ci", "arn:aws:iam::123456789012:role/ci2", false],
    // `*` stays within one colon-separated part, as in IAM.
    ["arn:aws:*", "arn:aws:iam::123456789012:role/ci", false],
    ["arn:aws:iam::123456789012:role/c.", "arn:aws:iam::123456789012:role/ci", false],
  ])("%s matches %s: %s", (pattern, arn, expected) => {
    expect(arnLike(pattern, arn)).toBe(expected);
  });
});

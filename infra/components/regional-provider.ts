// Extra AWS providers (another site's region) are explicit resources, and an explicit provider
// reads none of the stack's `aws:*` configuration: without it, a stack deployed with `aws:profile`
// or `aws:assumeRoles` would create the peering accepter and the KMS replicas with whatever
// credentials the environment happens to hold. Each extra provider therefore carries every `aws:*`
// setting of the stack, with only the region changed.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** Credentials, kept secret even when the stack holds them in plain text. */
const CREDENTIALS = new Set(["accessKey", "secretKey", "token"]);

/**
 * Whether the stack marks a key secret. The SDK exports this from its runtime's config module without
 * declaring it; if a later SDK drops it, only credentials are kept secret.
 */
const isSecretKey = (key: string): boolean =>
  (pulumi.runtime as { isConfigSecret?: (k: string) => boolean }).isConfigSecret?.(key) ?? false;

/** `aws:*` settings whose values are numbers in the provider's schema. */
const NUMERIC = new Set(["maxRetries", "tokenBucketRateLimiterCapacity"]);

/**
 * The provider arguments the stack's `aws:*` configuration gives the default provider, less
 * `region`: structured values (lists, maps, booleans, numbers) parsed from the JSON the engine keeps
 * them as, and secret values kept secret.
 */
export function stackProviderSettings(): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(pulumi.runtime.allConfig())) {
    const match = /^aws:(.+)$/.exec(key);
    if (!match || match[1] === "region") continue;
    const name = match[1];
    const secret = isSecretKey(key) || CREDENTIALS.has(name);
    const value = parseSetting(name, raw, secret);
    settings[name] = secret ? pulumi.secret(value) : value;
  }
  return settings;
}

function parseSetting(name: string, raw: string, secret: boolean): unknown {
  const structured = /^[[{]/.test(raw.trim()) || raw === "true" || raw === "false";
  if (structured || (NUMERIC.has(name) && /^\d+$/.test(raw))) {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      const shown = secret ? "its (secret) value" : JSON.stringify(raw);
      throw new Error(
        `config aws:${name}: ${shown} is not valid JSON; give lists and maps as YAML structures`,
      );
    }
  }
  return raw;
}

/** An AWS provider for `region` with the stack's credentials and every other `aws:*` setting. */
export function regionalProvider(
  name: string,
  region: string,
  opts: pulumi.CustomResourceOptions,
): aws.Provider {
  return new aws.Provider(name, { ...stackProviderSettings(), region }, opts);
}

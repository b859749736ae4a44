// The two-site deployment of the repository's stack files (Pulumi.yaml, Pulumi.site-a.yaml,
// Pulumi.site-b.yaml) as raw config, the shape `infra/config/load.ts` hands to `parseSettings`.
// Tests tweak it with overrides instead of writing whole configurations.
import { knownHostsName, parseGitUrl } from "../infra/control-repo";
import { RawConfig, RawContext, Settings, SiteEntry, parseSettings } from "../infra/config";
import { mergeSettings } from "../tools/plan/edit";

export const PROJECT = "puppet-multisite";
export const DOMAIN = "puppet.example.internal";
export const CONTROL_REPO_URL = "https://git.example.com/puppet/control-repo.git";

/** The catalogue entries of Pulumi.yaml, agent networks included. */
export const SITE_A: SiteEntry = {
  name: "site-a",
  region: "us-east-1",
  vpcCidr: "10.40.0.0/16",
  agentCidrs: ["172.20.0.0/16"],
  failover: false,
};
export const SITE_B: SiteEntry = {
  name: "site-b",
  region: "eu-west-1",
  vpcCidr: "10.50.0.0/16",
  agentCidrs: ["172.21.0.0/16"],
  // The other site of a two-site deployment runs the standby CA by default.
  failover: true,
};
/** A third site for catalogue-shape tests; not part of the repository's deployment. */
export const SITE_C: SiteEntry = {
  name: "site-c",
  region: "ap-southeast-2",
  vpcCidr: "10.60.0.0/16",
  agentCidrs: ["172.22.0.0/16"],
  failover: false,
};

export type FixtureStack = "site-a" | "site-b";

export const PEER_STACK = `organization/${PROJECT}/site-a`;

type Overrides = Readonly<Record<string, unknown>>;

/** Merges `overrides` into `base`, setting by setting (mergeSettings). */
export const merge = mergeSettings;

/** The image the fixture stacks pin. */
export const IMAGE = "debian-12-amd64-20240717-1811";

/** A catalogue entry as the stack file writes it; without agent networks when `agents` is false. */
export function siteConfig(s: SiteEntry, agents = true): Record<string, unknown> {
  const entry = { region: s.region, vpcCidr: s.vpcCidr };
  return agents ? { ...entry, agentCidrs: [...s.agentCidrs] } : entry;
}

/** Raw config of a stack as the stack files give it, with `overrides` merged in (see `merge`). */
export function rawConfig(overrides: Overrides = {}, stack: FixtureStack = "site-a"): RawConfig {
  const base: Record<string, unknown> = {
    domain: DOMAIN,
    primarySite: SITE_A.name,
    sites: { [SITE_A.name]: siteConfig(SITE_A), [SITE_B.name]: siteConfig(SITE_B) },
    controlRepo: { url: CONTROL_REPO_URL, branch: "production" },
    masters: { count: 2, instanceType: "m6i.large" },
    image: IMAGE,
    ...(stack === "site-b" ? { peerStack: PEER_STACK } : {}),
  };
  return merge(base, overrides);
}

/** The minimum a stack must set (no agent networks): everything else comes from the defaults. */
export function minimalRawConfig(overrides: Overrides = {}): RawConfig {
  return merge(
    {
      domain: DOMAIN,
      sites: {
        [SITE_A.name]: siteConfig(SITE_A, false),
        [SITE_B.name]: siteConfig(SITE_B, false),
      },
      controlRepo: { url: CONTROL_REPO_URL },
      image: IMAGE,
    },
    overrides,
  );
}

/** Project, stack and `aws:region` of a stack, as `infra/config/load.ts` reads them. */
export function context(stack: string = "site-a", overrides: Partial<RawContext> = {}): RawContext {
  const region = [SITE_A, SITE_B, SITE_C].find((s) => s.name === stack)?.region;
  return { project: PROJECT, stack, awsRegion: region, ...overrides };
}

/** Validated settings of a fixture stack. */
export function settings(stack: FixtureStack = "site-a", overrides: Overrides = {}): Settings {
  return parseSettings(rawConfig(overrides, stack), context(stack));
}

/** A git server's host key as known_hosts carries it (type and base64 key; made for these tests). */
export const SSH_HOST_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

/** A controlRepo setting for `url`, with the deploy key and host key an SSH URL needs. */
export function repoSetting(url: string): Record<string, unknown> {
  const git = parseGitUrl(url);
  if (git?.transport !== "ssh") return { url };
  return {
    url,
    sshKeySecret: "puppet/deploy-key",
    knownHosts: [`${knownHostsName(git)} ${SSH_HOST_KEY}`],
  };
}

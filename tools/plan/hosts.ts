// The hosts of a plan: its instances, named by the tags every host carries.
import { ROLE_TAG, SITE_TAG } from "../../infra/naming";
import { PlannedResource } from "./plan";

export interface HostTags {
  readonly name?: string;
  readonly site?: string;
  readonly role?: string;
}

const INSTANCE = "aws:ec2/instance:Instance";

/** A planned instance's name, site and role, from its tags; undefined for anything else. */
export function hostTags(r: PlannedResource): HostTags | undefined {
  if (r.type !== INSTANCE) return undefined;
  const tags = (r.inputs.tags ?? {}) as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === "string" ? v : undefined);
  return { name: text(tags.Name), site: text(tags[SITE_TAG]), role: text(tags[ROLE_TAG]) };
}

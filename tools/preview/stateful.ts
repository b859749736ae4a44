// Resources whose replacement or deletion loses what cannot be made again from the program: the CA's
// key and certificate (every certificate it signed), the state volumes (the CA's signing records and
// CRL, the standby CA's copy of them, PuppetDB's queued commands; the hosts themselves are
// replaceable), the database and its replica in the failover site (every report and catalog), the
// hosted zone (the names every agent resolves) and the key the secrets are encrypted with. The
// program protects them; these rules hold even where protection has been switched off, and anything
// the program protects counts too.
import { ROLE_TAG } from "../../infra/naming";
import { PlannedResource } from "../plan/plan";

interface Rule {
  readonly type: string;
  /** The role tag (`puppet:role`) the resource carries. */
  readonly role?: string;
  /** The role of the stack's site (`primary`, `secondary`), where only one holds such a resource. */
  readonly siteRole?: string;
  /** An input the resource has (a replica names its source). */
  readonly input?: string;
  readonly why: string;
}

/** What a rule may ask of the stack a resource is planned in. */
export interface StackContext {
  /** The site's role, the stack's `role` output: `primary` or `secondary`. */
  readonly siteRole?: string;
}

const RULES: readonly Rule[] = [
  {
    type: "tls:index/privateKey:PrivateKey",
    why: "the CA key: every certificate it signed stops verifying",
  },
  {
    type: "tls:index/selfSignedCert:SelfSignedCert",
    why: "the CA certificate: every agent and server trusts the old one",
  },
  // A secondary's CA is the standby: it holds a copy, which the active CA's volume outlives.
  {
    type: "aws:ebs/volume:Volume",
    role: "ca",
    siteRole: "secondary",
    why: "the standby CA's state volume: its copy of the CA's records (signed certificates, serials, CRL)",
  },
  {
    type: "aws:ebs/volume:Volume",
    role: "ca",
    why: "the CA's state volume: its signing records, serial numbers and CRL",
  },
  {
    type: "aws:ebs/volume:Volume",
    role: "puppetdb",
    why: "a PuppetDB's state volume: the commands it has queued and not yet stored",
  },
  {
    type: "aws:rds/instance:Instance",
    input: "replicateSourceDb",
    why:
      "the database's replica in the failover site: a new one copies the whole database across " +
      "regions, and it is what is promoted when the primary is lost",
  },
  {
    type: "aws:rds/instance:Instance",
    why: "the database: PuppetDB's reports, facts and catalogs",
  },
  { type: "aws:route53/zone:Zone", why: "the hosted zone: every name agents and servers resolve" },
  {
    type: "aws:kms/key:Key",
    why: "the key the secrets are encrypted with: they cannot be read once it is deleted",
  },
];

/** Why the resource must be kept, or undefined when it may be replaced freely. */
export function statefulReason(r: PlannedResource, stack: StackContext = {}): string | undefined {
  // Hosts and their volumes carry their role's tag.
  const role = (r.inputs.tags as Record<string, unknown> | undefined)?.[ROLE_TAG];
  const rule = RULES.find(
    (x) =>
      x.type === r.type &&
      (!x.role || role === x.role) &&
      (!x.siteRole || stack.siteRole === x.siteRole) &&
      (!x.input || r.inputs[x.input] !== undefined),
  );
  if (rule) return rule.why;
  return r.protect ? "protected by the program (holds state)" : undefined;
}

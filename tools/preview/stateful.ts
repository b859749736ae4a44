// Resources whose replacement or deletion loses what cannot be made again from the program: the CA's
// key and certificate (every certificate it signed), the state volumes (the CA's signing records and
// CRL, PuppetDB's queued commands; the hosts themselves are replaceable), the database (every report and catalog), the hosted zone (the names every agent resolves) and the key the
// secrets are encrypted with. The program protects them; these rules hold even where protection has
// been switched off, and anything the program protects counts too.
import { ROLE_TAG } from "../../infra/naming";
import { PlannedResource } from "../plan/plan";

interface Rule {
  readonly type: string;
  readonly role?: string;
  readonly why: string;
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
    why: "the database: PuppetDB's reports, facts and catalogs",
  },
  { type: "aws:route53/zone:Zone", why: "the hosted zone: every name agents and servers resolve" },
  {
    type: "aws:kms/key:Key",
    why: "the key the secrets are encrypted with: they cannot be read once it is deleted",
  },
];

/** Why the resource must be kept, or undefined when it may be replaced freely. */
export function statefulReason(r: PlannedResource): string | undefined {
  // Hosts and their volumes carry their role's tag.
  const role = (r.inputs.tags as Record<string, unknown> | undefined)?.[ROLE_TAG];
  const rule = RULES.find((x) => x.type === r.type && (!x.role || role === x.role));
  if (rule) return rule.why;
  return r.protect ? "protected by the program (holds state)" : undefined;
}

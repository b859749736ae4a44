// Resources whose replacement or deletion loses what cannot be made again from the program: the CA's
// key and certificate (every certificate it signed), the CA host (its signing records and CRL), the
// database (every report and catalog), the hosted zone (the names every agent resolves) and the key the
// secrets are encrypted with. The program protects them; these rules hold even where protection has
// been switched off, and anything the program protects counts too.
import { hostTags } from "../plan/hosts";
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
    type: "aws:ec2/instance:Instance",
    role: "ca",
    why: "the CA host: its signing records, serial numbers and CRL",
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
  const role = hostTags(r)?.role;
  const rule = RULES.find((x) => x.type === r.type && (!x.role || role === x.role));
  if (rule) return rule.why;
  return r.protect ? "protected by the program (holds state)" : undefined;
}

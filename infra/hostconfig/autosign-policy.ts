// The CA's autosign policy, read by scripts/autosign.rb: which CSRs are signed with no person, by
// which challenge they carry. Server names are given as the naming module's templates, so the CA
// knows the names of masters a pool gains later without being told each one.
import { PUPPET_PORT } from "../ports";
import {
  DNS_LABEL_PATTERN,
  HOST_NAME_TEMPLATES,
  HostNameKind,
  MASTER_ALT_NAMES,
  fillHostName,
} from "../naming";
import { MAX_MASTERS } from "../config/types";
import { CA_DIR, LOG_DIR, PUPPETSERVER_DIR, SSL_DIR } from "./paths";
import { AUTH_ROLES, CaHost } from "./types";

/** The server challenge on the CA: root-owned, readable by puppetserver's group only. */
export const SERVER_CHALLENGE_PATH = `${PUPPETSERVER_DIR}/autosign-server-challenge`;
/** The agent challenge on the CA, likewise. */
export const AGENT_CHALLENGE_PATH = `${PUPPETSERVER_DIR}/autosign-agent-challenge`;

/** What a server of one role may be called, and exactly which alt names its certificate carries. */
export interface ServerIdentity {
  /** Template of its certname (`{site}`, `{index}` to be matched). */
  readonly certname: string;
  /** Templates of its alt names, filled with what the certname matched; empty: no alt names. */
  readonly altNames: readonly string[];
}

/**
 * On a CA's state volume: present while the CA is the standby, and its autosigner then signs
 * nothing. Promotion removes it.
 */
export const STANDBY_MARKER = `${CA_DIR}/puppet-multisite-standby`;

/** On a CA's state volume: which CA of a newer epoch fenced this one (autosign.rb, ca-sync.rb). */
export const FENCE_RECORD = `${CA_DIR}/puppet-multisite-fence.json`;

export interface AutosignPolicy {
  /** Files holding each challenge (one value a line, so a challenge can be rotated). */
  readonly challenges: { readonly server: string; readonly agent: string };
  /** Regular expressions (unanchored) of the templates' placeholders. */
  readonly placeholders: { readonly site: string; readonly index: string };
  /** Server identities by `pp_auth_role`: the roles a server challenge may ask for. */
  readonly servers: Readonly<Record<string, ServerIdentity>>;
  /** Templates of every name the deployment uses for its servers: never an agent's certname. */
  readonly reservedCertnames: readonly string[];
  /** How the autosigner reaches its own CA to revoke a replaced server's previous certificate. */
  readonly ca: {
    readonly certname: string;
    readonly port: number;
    /** The CA's own address, so a revocation never depends on DNS. */
    readonly address: string;
    readonly signedDir: string;
    readonly requestsDir: string;
    /** Present while this CA is the standby (see STANDBY_MARKER). */
    readonly standbyMarker: string;
    /** The deployment's other CAs: a newer epoch in one's CRL fences this CA (autosign.rb). */
    readonly peers: readonly string[];
    /** This CA's CRL, whose number gives its epoch. */
    readonly crl: string;
    /** Where a fenced CA records which CA fenced it (ca-sync.rb then copies from that one). */
    readonly fenceRecord: string;
    /** The CA host's certificate (it carries pp_cli_auth) and key, and the CA certificate. */
    readonly cert: string;
    readonly key: string;
    readonly cacert: string;
  };
  readonly logFile: string;
}

/** `1`..`MAX_MASTERS` without leading zeros, as a pattern. */
const INDEX_PATTERN = `[1-9][0-9]{0,${String(MAX_MASTERS).length - 1}}`;

export function autosignPolicy(
  host: Pick<CaHost, "certname" | "domain" | "peerCas">,
): AutosignPolicy {
  const template = (kind: HostNameKind) => fillHostName(kind, { domain: host.domain });
  // The standby CA, by its exact name: a CA's certificate also names ca.<domain>, which no other
  // server may be given.
  const standby = host.peerCas?.find((name) => name !== template("ca"));
  return {
    challenges: { server: SERVER_CHALLENGE_PATH, agent: AGENT_CHALLENGE_PATH },
    placeholders: { site: DNS_LABEL_PATTERN, index: INDEX_PATTERN },
    servers: {
      [AUTH_ROLES["compile-master"]]: {
        certname: template("master"),
        altNames: MASTER_ALT_NAMES.map(template),
      },
      // Masters reach PuppetDB by its own name: its certificate needs no other.
      [AUTH_ROLES.puppetdb]: { certname: template("puppetdb"), altNames: [] },
      // The active CA makes its own certificate when it is imported; the standby asks for one.
      ...(standby && {
        [AUTH_ROLES.ca]: { certname: standby, altNames: [standby, template("ca")] },
      }),
    },
    reservedCertnames: (Object.keys(HOST_NAME_TEMPLATES) as HostNameKind[]).map(template),
    ca: {
      certname: host.certname,
      port: PUPPET_PORT,
      address: "127.0.0.1",
      signedDir: `${CA_DIR}/signed`,
      requestsDir: `${CA_DIR}/requests`,
      standbyMarker: STANDBY_MARKER,
      peers: host.peerCas ?? [],
      crl: `${CA_DIR}/ca_crl.pem`,
      fenceRecord: FENCE_RECORD,
      cert: `${SSL_DIR}/certs/${host.certname}.pem`,
      key: `${SSL_DIR}/private_keys/${host.certname}.pem`,
      cacert: `${SSL_DIR}/certs/ca.pem`,
    },
    logFile: `${LOG_DIR}/autosign.log`,
  };
}

/** The policy as JSON (autosign.rb reads it with Ruby's JSON parser). */
export function renderAutosignPolicy(
  host: Pick<CaHost, "certname" | "domain" | "peerCas">,
): string {
  return `${JSON.stringify(autosignPolicy(host), null, 2)}\n`;
}

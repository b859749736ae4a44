// site-loss's database half: what the failover site's replica holds at the loss, its promotion as
// the README's runbook gives it (RDS: `aws rds promote-read-replica`; the lab: pg_promote() on the
// standby), and the failover site's PuppetDB storing in it what it queued during the outage, with
// nothing changed on that PuppetDB: its writes follow the database that takes them, and its
// discard-replay timer retries what waited for the lost primary.
import { existsSync, readFileSync } from "node:fs";
import { AgentRun } from "./agents";
import { hostPath } from "./host";
import { Lab } from "./lab";
import { promoteStandby, queryAsPostgres } from "./postgres";
import { runFigures, storedReports, uuidsOf, waitStored } from "./puppetdb-faults";
import { Outcome } from "./scenarios";

/** How long the outage's reports may take to be stored after the promotion. */
const STORED_WITHIN_MS = 240_000;

/** A WAL position as PostgreSQL prints it ("16/B374D848"), in bytes. */
export function lsnBytes(lsn: string): bigint {
  const m = /^([0-9A-F]+)\/([0-9A-F]+)$/i.exec(lsn.trim());
  if (!m) throw new Error(`not a WAL position: ${JSON.stringify(lsn)}`);
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}

/** The primary just before the loss: its WAL position and how many reports it holds. */
export interface PrimaryAtLoss {
  readonly lsn: string;
  readonly reports: number;
}

/** What the primary holds just before the loss; undefined without a replica. */
export async function primaryAtLoss(lab: Lab): Promise<PrimaryAtLoss | undefined> {
  if (!lab.replica()) return undefined;
  const [lsn, reports] = (
    await queryAsPostgres(
      lab.byRole("database")[0].host,
      "SELECT pg_current_wal_lsn(), count(*) FROM reports",
    )
  ).split("|");
  return { lsn, reports: Number(reports) };
}

/**
 * After the loss: the replica's lag behind the primary at the loss, its promotion, and the reports
 * of `runs` (the failover site's runs during the outage) stored through the site's PuppetDB.
 */
export async function promoteDatabase(
  lab: Lab,
  site: string,
  atLoss: PrimaryAtLoss | undefined,
  runs: Map<string, AgentRun>,
): Promise<Outcome> {
  const replica = lab.replica();
  if (!replica || !atLoss) {
    return { passed: false, figures: [], notes: ["the plans have no database replica"] };
  }
  const notes: string[] = [];
  // Cut off from the primary, the standby holds what it had replayed at the loss.
  const [replayed, known] = (
    await queryAsPostgres(replica.host, "SELECT pg_last_wal_replay_lsn(), count(*) FROM reports")
  ).split("|");
  const behind = lsnBytes(atLoss.lsn) - lsnBytes(replayed);
  const uuids = uuidsOf(runs);
  const storedBefore = await storedReports(lab, uuids, site);

  const promotedAt = Date.now();
  await promoteStandby(replica.host);
  const promoteSeconds = (Date.now() - promotedAt) / 1000;
  const { stored, seconds } = await waitStored(lab, uuids, STORED_WITHIN_MS, site);
  const puppetdb = lab.byRole("puppetdb", site)[0];
  // PuppetDB started again with the primary still lost (a reload, a reboot): it must find both
  // its databases in the promoted replica.
  await lab.stopServer(puppetdb);
  lab.startServer(puppetdb);
  const restarted = await lab.waitReady(puppetdb, 180_000).then(
    (s) => s,
    () => undefined,
  );
  const queue = hostPath(puppetdb.host, "/var/lib/puppet-multisite/puppetdb-queue.json");
  notes.push(
    `the replica at the loss: replayed to ${replayed}, the primary at ${atLoss.lsn}; ` +
      `${site}'s outage reports stored before the promotion: ${storedBefore}/${uuids.length}; ` +
      `${puppetdb.topo.certname}'s queue after it: ${existsSync(queue) ? readFileSync(queue, "utf8").trim() : "(no status)"}`,
  );
  return {
    passed:
      behind <= 0n &&
      Number(known) === atLoss.reports &&
      storedBefore === 0 &&
      uuids.length === runs.size &&
      stored === runs.size &&
      restarted !== undefined,
    figures: [
      {
        name: "database RPO: WAL the replica had not replayed at the loss",
        value: Number(behind > 0n ? behind : 0n),
        unit: " bytes",
        target: "0",
      },
      {
        name: "database RPO: reports in the primary at the loss, in the replica",
        value: `${known}/${atLoss.reports}`,
      },
      { name: "replica promotion", value: promoteSeconds, unit: " s" },
      ...runFigures(runs, stored),
      {
        name: "promotion to every outage report stored",
        value: stored === runs.size ? seconds : "never",
        unit: stored === runs.size ? " s" : "",
      },
      {
        name: `${site}'s PuppetDB restarted with the primary lost: serving after`,
        value: restarted ?? "never",
        unit: restarted === undefined ? "" : " s",
      },
    ],
    notes,
  };
}

// Which scenarios a run makes. Every scenario has a stable kebab-case key (the report's `key`), so a
// run can be narrowed to a few while they are being worked on; the cold start always runs, since
// every other scenario needs the lab it brings up.

export interface ScenarioEntry {
  /** Stable, kebab-case: the key in lab-report.json and what `--only` takes. */
  readonly key: string;
  /** Scenarios this one needs to have run first in the same lab (their figures or state). */
  readonly needs?: readonly string[];
}

const KEY = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/**
 * The scenarios to run, in catalogue order: the first (the cold start) always, then those `only`
 * names (comma-separated) with what they need; every scenario when `only` is undefined.
 */
export function selectScenarios<T extends ScenarioEntry>(
  catalogue: readonly T[],
  only?: string,
): T[] {
  const keys = catalogue.map((s) => s.key);
  const bad = keys.find((k) => !KEY.test(k));
  if (bad !== undefined) throw new Error(`scenario key ${JSON.stringify(bad)} is not kebab-case`);
  const duplicate = keys.find((k, i) => keys.indexOf(k) !== i);
  if (duplicate !== undefined) throw new Error(`scenario key ${duplicate} is used twice`);
  if (only === undefined) return [...catalogue];
  const asked = only.split(",").map((k) => k.trim());
  const unknown = asked.find((k) => !keys.includes(k));
  if (unknown !== undefined) {
    throw new Error(
      `--only: got ${JSON.stringify(unknown)}; expected comma-separated scenario keys: ${keys.join(", ")}`,
    );
  }
  const wanted = new Set([keys[0]]);
  const add = (key: string) => {
    if (wanted.has(key)) return;
    wanted.add(key);
    for (const need of catalogue.find((s) => s.key === key)?.needs ?? []) add(need);
  };
  for (const key of asked) add(key);
  return catalogue.filter((s) => wanted.has(s.key));
}

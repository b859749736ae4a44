// `npm run preview:diff -- --base <git ref> [--out report.md] [--allow-destroy] [--max-chars n]`:
// plans every stack at the base commit and in the working tree, offline, and writes a Markdown
// report of the difference (with less detail where it must fit in --max-chars). Exit status: 0 when the report is written; 2 when stateful resources would be replaced
// or deleted and --allow-destroy is not given (the report is still written); 1 when a stack of the
// working tree fails to plan or the command cannot run.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { listStacks, PROJECT_DIR } from "../plan/stack-config";
import { compareStacks } from "./compare";
import { StackComparison, destructions, renderReport } from "./report";
import { checkoutCommit, describeWorkingTree, planStacks, resolveCommit } from "./trees";

const USAGE =
  "usage: npm run preview:diff -- --base <git ref> [--out <file>] [--allow-destroy] [--max-chars <n>]";

/** Below this a report cannot hold its own warning and summary. */
const MIN_CHARS = 1000;

function maxChars(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < MIN_CHARS) {
    throw new Error(
      `--max-chars: got ${JSON.stringify(text)}; expected a whole number of characters, at least ${MIN_CHARS} (a pull-request comment holds 65536)`,
    );
  }
  return Number(text);
}

async function cli(): Promise<number> {
  const { values } = parseArgs({
    options: {
      base: { type: "string", short: "b" },
      out: { type: "string", short: "o" },
      "allow-destroy": { type: "boolean", default: false },
      "max-chars": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.base) throw new Error(`--base is required; ${USAGE}`);
  const limit = maxChars(values["max-chars"]);
  const commit = await resolveCommit(PROJECT_DIR, values.base);
  const head = await describeWorkingTree(PROJECT_DIR);
  const checkout = await checkoutCommit(PROJECT_DIR, commit);
  let stacks: StackComparison[];
  try {
    stacks = compareStacks(
      await planStacks(checkout.dir, listStacks(checkout.dir)),
      await planStacks(PROJECT_DIR, listStacks(PROJECT_DIR)),
    );
  } finally {
    checkout.remove();
  }
  const report = renderReport({
    base: `\`${values.base}\` (${commit.slice(0, 7)})`,
    head,
    stacks,
    allowDestroy: values["allow-destroy"],
    maxChars: limit,
  });
  if (values.out) writeFileSync(values.out, report);
  else await new Promise<void>((resolve) => process.stdout.write(report, () => resolve()));

  const lost = destructions(stacks);
  const failing = stacks.filter((s) => s.headError);
  for (const s of failing) console.error(`preview: stack ${s.stack} fails to plan: ${s.headError}`);
  if (failing.length > 0) return 1;
  if (lost.length > 0) {
    const names = lost.map((d) => `${d.stack}: ${d.change.kind} ${d.change.name}`).join(", ");
    console.error(
      `preview: stateful resources would be replaced or deleted (${names})` +
        (values["allow-destroy"]
          ? "; allowed by --allow-destroy"
          : "; rerun with --allow-destroy if intended"),
    );
    return values["allow-destroy"] ? 0 : 2;
  }
  return 0;
}

cli().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`preview failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);

// The lab polls (servers starting, commits reaching the masters) in more than one place: one delay.
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

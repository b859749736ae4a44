import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", "./test/summary-reporter.ts"],
    // The Pulumi runtime is process-global: each test file gets its own process.
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});

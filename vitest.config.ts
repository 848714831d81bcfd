import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Suites that start a local cloud each bind their own ports; two workers suit a 2-core machine.
    maxWorkers: 2,
  },
});

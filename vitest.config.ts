import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Suites that start a local cloud each bind their own ports. Three workers on a 2-core machine:
    // the suites wait on simulated clocks about as much as they compute, and a third keeps the CPU
    // busy (test/rollout + test/images: 222 s with two, 184 s with three, all passing).
    maxWorkers: 3,
    // Local clouds the tests start record their endpoint here, never beside the developer's own
    // (`phoenix … --local` in the checkout must not find a test's cloud, nor a test the developer's).
    env: { PHOENIX_RUN_DIR: join(tmpdir(), `phoenix-test-run-${process.pid}`) },
  },
});

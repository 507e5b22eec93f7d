import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/globalSetup.ts"],
    // a guard against a hang, not a speed check (that is bench/'s job): the suite takes ~90 s on a
    // quiet 2-core machine, and a loaded one has been seen to run single git-heavy tests 20x slower
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});

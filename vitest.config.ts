import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // The official conformance suite (@langchain/langgraph-checkpoint-validation) uses global describe/it.
    globals: true,
    globalSetup: ["test/support/global-setup.ts"],
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});

import { defineProject } from "vitest/config"

export default defineProject({
  ssr: { resolve: { conditions: ["@batchfx/source"] } },
  test: {
    name: "@batchfx/jobs",
    include: ["test/**/*.test.ts"],
    setupFiles: ["../../vitest.setup.ts"],
    // A guard against hangs, not a speed check: CI is a 2-core machine that may be busy.
    testTimeout: 30_000
  }
})

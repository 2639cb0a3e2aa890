import { defineProject } from "vitest/config"

export default defineProject({
  ssr: { resolve: { conditions: ["@batchfx/source"] } },
  test: {
    name: "@batchfx/cli",
    include: ["test/**/*.test.ts"],
    setupFiles: ["../../vitest.setup.ts"],
    globalSetup: ["./test/globalSetup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000
  }
})

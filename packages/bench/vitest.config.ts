import { defineProject } from "vitest/config"

export default defineProject({
  ssr: { resolve: { conditions: ["@batchfx/source"] } },
  test: {
    name: "@batchfx/bench",
    include: ["test/**/*.test.ts"],
    setupFiles: ["../../vitest.setup.ts"]
  }
})

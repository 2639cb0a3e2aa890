/**
 * The worker's settings from the environment: runner addresses and enqueued-token limits, read as
 * `Config`s, with one sentence naming the variable when a value is wrong.
 */
import { Jobs } from "@batchfx/jobs"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"

const readWith = <A>(config: Effect.Effect<A, unknown>, env: Record<string, string>) =>
  Effect.either(Effect.withConfigProvider(config, ConfigProvider.fromMap(new Map(Object.entries(env)))))

describe("worker settings from the environment", () => {
  it.effect("runner addresses: unset, host:port and [IPv6]:port", () =>
    Effect.gen(function*() {
      const none = yield* readWith(Jobs.runnerAddressConfig, {})
      assert.strictEqual(none._tag, "Right")
      if (none._tag === "Right") {
        assert.deepStrictEqual(none.right, { runnerAddress: undefined, listenAddress: undefined })
      }
      const both = yield* readWith(Jobs.runnerAddressConfig, {
        BATCHFX_RUNNER_ADDRESS: "10.0.0.5:34431",
        BATCHFX_RUNNER_LISTEN: "[::1]:34431"
      })
      assert.strictEqual(both._tag, "Right")
      if (both._tag === "Right") {
        assert.deepStrictEqual(both.right, { runnerAddress: "10.0.0.5:34431", listenAddress: "[::1]:34431" })
      }
    }))

  it.effect("a runner address that is not host:port fails naming the variable", () =>
    Effect.gen(function*() {
      for (const [name, value] of [["BATCHFX_RUNNER_ADDRESS", "10.0.0.5"], ["BATCHFX_RUNNER_LISTEN", "[::1]:70000"]]) {
        const read = yield* readWith(Jobs.runnerAddressConfig, { [name!]: value! })
        assert.strictEqual(read._tag, "Left", `${name}=${value}`)
        if (read._tag === "Left") {
          assert.include(String(read.left), `${name}: '${value}' is not a runner address: write host:port`)
        }
      }
    }))

  it.effect("a wildcard is a place to listen, not an address other workers reach", () =>
    Effect.gen(function*() {
      const listenOnly = yield* readWith(Jobs.runnerAddressConfig, { BATCHFX_RUNNER_LISTEN: "0.0.0.0:34431" })
      assert.strictEqual(listenOnly._tag, "Left")
      if (listenOnly._tag === "Left") {
        assert.include(
          String(listenOnly.left),
          "BATCHFX_RUNNER_LISTEN: listening on 0.0.0.0:34431 needs a runner address too"
        )
      }
      const both = yield* readWith(Jobs.runnerAddressConfig, {
        BATCHFX_RUNNER_ADDRESS: "10.0.0.5:34431",
        BATCHFX_RUNNER_LISTEN: "0.0.0.0:34431"
      })
      assert.strictEqual(both._tag, "Right")
      assert.deepStrictEqual(Jobs.runnerAddressesProblem({ runnerAddress: "[::]:1" }), {
        option: "runnerAddress",
        problem:
          "'[::]:1' cannot be reached by other workers: :: means every interface of this machine; give an address of this machine they can reach, e.g. 10.0.0.5:1"
      })
      assert.strictEqual(Jobs.runnerAddressesProblem({ listenAddress: "127.0.0.1:1" }), undefined)
      // other spellings of a wildcard are wildcards too
      for (const spelling of ["0:34431", "[::0]:34431", "[0:0:0:0:0:0:0:0]:34431", "[::ffff:0.0.0.0]:34431"]) {
        assert.include(
          Jobs.runnerAddressesProblem({ runnerAddress: spelling })?.problem ?? "",
          "means every interface of this machine",
          spelling
        )
        assert.include(
          Jobs.runnerAddressesProblem({ listenAddress: spelling })?.problem ?? "",
          "needs a runner address too",
          spelling
        )
      }
      assert.strictEqual(Jobs.runnerAddressesProblem({ runnerAddress: "127.1:34431" }), undefined)
      assert.include(
        Jobs.runnerAddressesProblem({ runnerAddress: "[localhost]:1" })?.problem ?? "",
        "is not a runner address"
      )
    }))

  it.effect("token limits: MODEL=N pairs, and a bad pair named", () =>
    Effect.gen(function*() {
      const read = yield* readWith(Jobs.tokenLimitsConfig, {
        BATCHFX_TOKEN_LIMITS: "gpt-4o-mini=2_000_000, gpt-4o=90000"
      })
      assert.strictEqual(read._tag, "Right")
      if (read._tag === "Right") assert.deepStrictEqual(read.right, { "gpt-4o-mini": 2_000_000, "gpt-4o": 90_000 })
      const bad = yield* readWith(Jobs.tokenLimitsConfig, { BATCHFX_TOKEN_LIMITS: "gpt-4o=lots" })
      assert.strictEqual(bad._tag, "Left")
      if (bad._tag === "Left") assert.include(String(bad.left), "BATCHFX_TOKEN_LIMITS needs MODEL=N")
    }))
})

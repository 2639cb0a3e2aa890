#!/usr/bin/env bash
# `pnpm test`: every package's vitest, two at a time. The jobs package's tests take the longest
# (real Postgres servers, worker processes): they start at once, followed by the short suites,
# while the CLI's and the client's run beside them; arguments go to each vitest.
set -u
cd "$(dirname "$0")/.."
lane() {
  local status=0
  pnpm -r --filter @batchfx/jobs test "$@" || status=1
  pnpm -r --no-sort --no-bail --workspace-concurrency=1 --filter @batchfx/testkit --filter @batchfx/core \
    --filter @batchfx/bench --filter @batchfx/examples test "$@" || status=1
  return "$status"
}
lane "$@" &
lane_pid=$!
others=0
pnpm -r --no-sort --no-bail --workspace-concurrency=1 --filter @batchfx/cli --filter @batchfx/client test "$@" || others=1
first=0
wait "$lane_pid" || first=1
exit $((others || first))

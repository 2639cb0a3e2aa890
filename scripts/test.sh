#!/usr/bin/env bash
# `pnpm test`: every package's vitest, two at a time. The jobs package's tests take the longest
# (real Postgres servers, worker processes), so they run from the start beside the others, which
# run one after another; arguments go to each vitest.
set -u
cd "$(dirname "$0")/.."
pnpm -r --filter @batchfx/jobs test "$@" &
jobs_pid=$!
pnpm -r --no-sort --no-bail --workspace-concurrency=1 --filter '!@batchfx/jobs' test "$@"
others=$?
wait "$jobs_pid"
jobs=$?
exit $((others != 0 || jobs != 0))

#!/usr/bin/env bash
# Makes sure the Postgres tests can start their own servers (packages/jobs/test/postgresServer.ts
# runs initdb and postgres on a free port of 127.0.0.1 per test file and stops them): Debian's
# postgresql package brings the binaries and, for a root run, the 'postgres' user to run them as.
set -euo pipefail

has_binaries() {
  [ -n "${BATCHFX_PG_BIN:-}" ] && [ -x "$BATCHFX_PG_BIN/initdb" ] && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && return 0
  command -v initdb >/dev/null 2>&1
}

if ! has_binaries || { [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; }; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql
fi
echo "postgres for tests: $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1 || command -v initdb)"

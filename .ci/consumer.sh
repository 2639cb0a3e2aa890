#!/usr/bin/env bash
# Installs the packed packages into a fresh app with plain npm, as a user would, and checks:
# - installing core + client brings none of @effect/cluster, sql, workflow, rpc;
# - the app keeps one copy of effect (it pins effect, platform and platform-node one patch back);
# - the README's library example type-checks (strict, NodeNext) and runs against the emulator;
# - the testkit's FakeOpenAiClient gives the installed client's services over the emulator;
# - the CLI's tarball, installed globally into a prefix, runs its bundle (--version, --help).
# Run after `pnpm build`. Prints "consumer: ok" or the first failure, and exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d)
trap 'kill "${emulator:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

fail() { echo "consumer: $*"; exit 1; }

for pkg in core client testkit cli; do
  pnpm --filter "@batchfx/$pkg" pack --pack-destination "$work" >/dev/null
done
tarball() { ls "$work"/batchfx-"$1"-*.tgz; }

for pkg in core client testkit; do
  listing=$(tar -tzf "$(tarball "$pkg")")
  grep -qx 'package/LICENSE' <<<"$listing" || fail "the $pkg tarball has no LICENSE"
  grep -qx 'package/README.md' <<<"$listing" || fail "the $pkg tarball has no README.md"
done

app=$work/app
mkdir -p "$app"
cd "$app"
cat >package.json <<'EOF'
{ "name": "consumer", "private": true, "type": "module" }
EOF
npm install --no-audit --no-fund --silent \
  effect@3.22.1 @effect/platform@0.97.1 "$(tarball core)" "$(tarball client)" >/dev/null
for unwanted in cluster sql workflow rpc; do
  [ ! -e "node_modules/@effect/$unwanted" ] || fail "installing the client brought @effect/$unwanted"
done

npm install --no-audit --no-fund --silent \
  @effect/platform-node@0.108.1 "$(tarball testkit)" typescript@5.9 @types/node@20 >/dev/null
copies=$(find node_modules -path '*/effect/package.json' -not -path '*/effect/*/*' | wc -l)
[ "$copies" = 1 ] || fail "$copies copies of effect are installed: $(find node_modules -path '*/effect/package.json' -not -path '*/effect/*/*')"

# The README's library example, as the user copies it.
awk '/^## Using the library/{f=1} f&&/^```ts$/{c=1;next} c&&/^```$/{exit} c' "$repo/README.md" >readme.ts
[ -s readme.ts ] || fail "no library example found in README.md"
cat >tsconfig.json <<'EOF'
{ "compilerOptions": { "strict": true, "exactOptionalPropertyTypes": true, "module": "NodeNext",
  "moduleResolution": "NodeNext", "target": "ES2022", "skipLibCheck": true, "types": ["node"],
  "outDir": "out" }, "files": ["readme.ts"] }
EOF
npx tsc -p tsconfig.json || fail "the README's example does not type-check against the installed packages"

# The emulator from the installed testkit, then the example against it.
node node_modules/@batchfx/testkit/dist/bin.js --seed-batches 300 >emulator.log 2>&1 &
emulator=$!
for _ in $(seq 1 100); do grep -q '^http' emulator.log && break; sleep 0.1; done
base_url=$(grep -m1 '^http' emulator.log) || fail "the emulator printed no URL: $(cat emulator.log)"
OPENAI_API_KEY=sk-fake-batchfx OPENAI_BASE_URL=$base_url node out/readme.js >run.log 2>&1 ||
  fail "the README's example failed: $(cat run.log)"

# A user's test setup: the client's services pointed at the installed emulator in one layer.
cat >fake.ts <<'TS'
import { BatchClient } from "@batchfx/client"
import { FakeOpenAi } from "@batchfx/testkit"
import * as FakeOpenAiClient from "@batchfx/testkit/FakeOpenAiClient"
import { Chunk, Effect, Stream } from "effect"
const program = Effect.gen(function*() {
  const fake = yield* FakeOpenAi.FakeOpenAi
  const seeded = yield* fake.seedBatch({ status: "in_progress", metadata: { team: "a" } })
  const listed = yield* Stream.runCollect((yield* BatchClient.BatchClient).list())
  if (Chunk.unsafeHead(listed).id !== seeded.id) throw new Error("the seeded batch is not listed first")
  console.log("fake: ok")
})
await Effect.runPromise(program.pipe(Effect.provide(FakeOpenAiClient.layer())))
TS
sed 's/"readme.ts"/"fake.ts"/' tsconfig.json >tsconfig.fake.json
npx tsc -p tsconfig.fake.json || fail "FakeOpenAiClient does not type-check against the installed packages"
node out/fake.js >fake.log 2>&1 && grep -qx 'fake: ok' fake.log ||
  fail "FakeOpenAiClient.layer() did not serve the installed client: $(tail -3 fake.log)"

# The CLI as `npm install -g` installs it: its own bundle, and only libsql (native, for `jobs`).
npm install --no-audit --no-fund --silent -g --prefix "$work/global" "$(tarball cli)" >/dev/null
batchfx=$work/global/bin/batchfx
[ "$("$batchfx" --version | head -1)" = "$(node -p "require('$repo/packages/cli/package.json').version")" ] ||
  fail "the installed batchfx --version is wrong"
"$batchfx" --help >/dev/null || fail "the installed batchfx --help failed"
OPENAI_API_KEY=sk-fake-batchfx "$batchfx" --base-url "$base_url" list --max 1 | grep -q '"id"' ||
  fail "the installed batchfx could not list batches"
installed=$(ls "$work/global/lib/node_modules/@batchfx/cli/node_modules" 2>/dev/null | grep -v -x -e libsql -e @libsql -e @neon-rs -e detect-libc -e .bin -e .package-lock.json || true)
[ -z "$installed" ] || fail "the installed CLI brought dependencies beyond libsql: $installed"
OPENAI_API_KEY=sk-fake-batchfx "$batchfx" --base-url "$base_url" jobs list --store "file:$work/jobs.db" >/dev/null ||
  fail "the installed batchfx jobs list failed"

echo "consumer: ok"

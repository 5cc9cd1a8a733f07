#!/usr/bin/env bash
# The WASM package and the inspector page, tested for real (run by scripts/test.sh):
#  1. wasm-bindgen tests in Node and in headless Chromium (chromedriver);
#  2. the npm package (scripts/wasm.sh) and the behavioural corpus through both frontends:
#     `inforge validate --json` and the package's `validate` must agree case by case;
#  3. end-to-end: playwright-core drives Debian's Chromium against web/ served on 127.0.0.1
#     (screenshots in docs/). Prints `web: N passed` last.
# Needs INFORGE_BIN (an inforge binary) and what scripts/setup.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
bin=${INFORGE_BIN:-$top/target/debug/inforge}
export INFORGE_BIN=$bin
work=$(mktemp -d "${TMPDIR:-/tmp}/inforge-web.XXXXXX")
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
log="$work/log"
passed=0
count() { grep -Eo "$1" "$log" | awk '{s += $(NF - 1)} END {print s + 0}'; }

echo "== wasm-bindgen tests (Node and headless Chromium)" >&2
# --release: the package below is a release build; with wasm/Cargo.toml's unified features the
# two share one compiled dependency tree instead of compiling it twice for wasm32.
CHROMEDRIVER=${CHROMEDRIVER:-$(command -v chromedriver)} \
  cargo test --release --target wasm32-unknown-unknown -p inforge-wasm 2>&1 | tee "$log"
passed=$((passed + $(grep -o 'test result: ok\. [0-9]* passed' "$log" | awk '{s += $4} END {print s + 0}')))

echo "== npm package (wasm/pkg) and the page's copy (web/pkg)" >&2
bash scripts/wasm.sh

echo "== one corpus, two frontends (tests/corpus: CLI validate --json vs WASM validate)" >&2
bash tests/corpus/make.sh "$work/corpus"
node tests/web/corpus.mjs "$work/corpus" "$bin" 2>&1 | tee "$log"
passed=$((passed + $(count 'corpus: [0-9]+ passed')))

echo "== the npm package through require() (CommonJS) and import, by its name" >&2
mkdir -p "$work/consumer/node_modules"
ln -sfn "$PWD/wasm/pkg" "$work/consumer/node_modules/inforge-wasm"
node tests/web/require.cjs "$work/consumer" "$work/corpus/expired"
passed=$((passed + 1))
# The documented ES forms, by the package's name from a consumer's directory (Node resolves the
# bare specifier through node_modules and the package's `exports`).
(cd "$work/consumer" && node --input-type=module -e '
  import init, * as a from "inforge-wasm";
  import * as b from "inforge-wasm";
  await init();
  if (typeof a.validate !== "function" || a.validate !== b.validate) process.exit(1);
  console.log("ok import from \"inforge-wasm\" (Node ESM, by name): both documented forms");')
passed=$((passed + 1))

echo "== end-to-end: the page in Chromium (playwright-core), served on 127.0.0.1" >&2
bash tests/web/make-big.sh "$work/big"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory web "$port" >"$work/http.log" 2>&1 &
server=$!
for _ in $(seq 50); do
  node -e "fetch('http://127.0.0.1:$port/index.html').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" && break
  sleep 0.1
done
node tests/web/e2e.mjs "http://127.0.0.1:$port" "$work/corpus" "$work/big" docs 2>&1 | tee "$log"
passed=$((passed + $(count 'e2e: [0-9]+ passed')))

echo "== native validate of the same 100-PKI store (for docs/performance.md)" >&2
TIMEFORMAT="perf: native inforge validate of the 100-PKI store (whole process, $(basename "$(dirname "$bin")") build): %3R s"
for _ in 1 2 3; do
  time INFORGE_NOW=2026-11-26T00:00:00Z "$bin" -C "$work/big" validate prd --json >/dev/null
done
echo "web: $passed passed"

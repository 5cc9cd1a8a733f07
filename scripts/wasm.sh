#!/usr/bin/env bash
# Builds the npm package `inforge-wasm` into wasm/pkg/ and the inspector page's copy of it into
# web/pkg/: release wasm32 build → wasm-bindgen (`--target web`; Node loads the same module
# through node/index.mjs) → wasm-opt -Oz from npm binaryen (tests/web/node_modules; never
# Debian's binaryen, which silently breaks the module — docs/performance.md).
set -euo pipefail
cd "$(dirname "$0")/.."

want=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')
if [ "$have" != "$want" ]; then
  echo "wasm: wasm-bindgen-cli $want is needed (found ${have:-none}); run scripts/setup.sh" >&2
  exit 1
fi

cargo build -q -p inforge-wasm --target wasm32-unknown-unknown --release
raw=${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/inforge_wasm.wasm
out=wasm/pkg
rm -rf "$out" && mkdir -p "$out/node"
wasm-bindgen --target web --out-dir "$out" "$raw"
rm -f "$out/.gitignore"
opt=tests/web/node_modules/.bin/wasm-opt
if [ -x "$opt" ]; then
  w="$out/inforge_wasm_bg.wasm"
  "$opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals "$w" -o "$w.opt"
  mv "$w.opt" "$w"
else
  echo "wasm: npm binaryen not installed (scripts/setup.sh); the package is not size-optimized" >&2
fi
# Node uses the same module, instantiated synchronously from the file beside it (one .wasm in
# the package, not one per target).
cp wasm/node.mjs "$out/node/index.mjs"
cp wasm/package.json wasm/README.md "$out/"

rm -rf web/pkg && mkdir -p web/pkg
cp "$out/inforge_wasm.js" "$out/inforge_wasm_bg.wasm" "$out/inforge_wasm.d.ts" web/pkg/
size=$(stat -c %s "$out/inforge_wasm_bg.wasm")
gz=$(gzip -9 -c "$out/inforge_wasm_bg.wasm" | wc -c)
echo "wasm: $out ($size bytes, $gz gzipped) and web/pkg built" >&2

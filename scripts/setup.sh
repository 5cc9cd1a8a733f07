#!/usr/bin/env bash
# Installs what inforge's build, quickstart and tests need on a fresh Debian 12 machine.
# Idempotent: skips whatever is already there. Safe to run again.
set -euo pipefail

need_apt=()
command -v age >/dev/null 2>&1 && command -v age-keygen >/dev/null 2>&1 || need_apt+=(age)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# The etcd provider: etcd-client's build compiles etcd's .proto files (protoc); the tests run
# a real etcd on 127.0.0.1 and read it back with etcdctl.
command -v protoc >/dev/null 2>&1 || need_apt+=(protobuf-compiler)
command -v etcd >/dev/null 2>&1 || need_apt+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need_apt+=(etcd-client)
# `pki history` scenarios build a history with the git CLI and SSH-sign a commit.
command -v git >/dev/null 2>&1 || need_apt+=(git)
command -v ssh-keygen >/dev/null 2>&1 || need_apt+=(openssh-client)
# /usr/bin/time: peak RSS in the benchmark scripts (benches/compare.sh, benches/etcd-renew.sh).
[ -x /usr/bin/time ] || need_apt+=(time)
# `systemd-analyze verify` checks the units `inforge pki units` writes.
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
# The browser inspector's tests: Debian's Chromium (driven by chromedriver for the wasm-bindgen
# tests and by npm playwright-core end to end), Node and npm for the package and the tests.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
# The metrics tests: promtool (from `prometheus`) checks every exposition and unit-tests the
# shipped alerting rules; a live Prometheus scrapes node_exporter's textfile collector.
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
command -v prometheus-node-exporter >/dev/null 2>&1 || need_apt+=(prometheus-node-exporter)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust with rustup (https://rustup.rs) first" >&2
  exit 1
fi
# The core and the wasm bindings must build for the browser (checked by scripts/test.sh).
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "setup: adding the wasm32-unknown-unknown Rust target" >&2
  rustup target add wasm32-unknown-unknown >&2
fi
# wasm-bindgen-cli must be exactly the wasm-bindgen crate's version (Cargo.lock pins it with
# `=`). `--locked` fails here (a locked dependency version is not in the registry).
bindgen=$(grep -A1 '^name = "wasm-bindgen"$' "$(dirname "$0")/../Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$bindgen" ]; then
  echo "setup: installing wasm-bindgen-cli $bindgen (about 2.5 minutes)" >&2
  cargo install -q wasm-bindgen-cli --version "$bindgen" >&2
fi
# playwright-core (end-to-end tests), axe-core (accessibility checks in them) and npm binaryen (wasm-opt; never Debian's binaryen, which
# silently produces a broken module), pinned by tests/web/package-lock.json.
web_tests="$(dirname "$0")/../tests/web"
if [ ! -d "$web_tests/node_modules/playwright-core" ] || [ ! -x "$web_tests/node_modules/.bin/wasm-opt" ] || [ ! -f "$web_tests/node_modules/axe-core/axe.min.js" ]; then
  echo "setup: npm ci in tests/web (playwright-core, binaryen, axe-core)" >&2
  (cd "$web_tests" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
echo "setup: ok (age $(age --version 2>/dev/null), $(openssl version | cut -d' ' -f1-2), $(cargo --version | cut -d' ' -f1-2))" >&2

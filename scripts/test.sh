#!/usr/bin/env bash
# Runs every test: formatting, the IO-free lint on core/, unit + scenario tests (against the
# age and openssl CLIs, webpki and rustls), the thin bindings' builds (the wasm32 target
# included), and the quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
# Every section header carries the wall time so far: CI logs show where the minutes go.
section() { echo "== [+$((SECONDS / 60))m$((SECONDS % 60))s] $*" >&2; }
bash scripts/setup.sh

section "cargo fmt --check"
cargo fmt --all -- --check

section "module graph: no cycle in core/ or host/ (scripts/check-cycles.py)"
python3 scripts/check-cycles.py

section "clippy on every native crate (core/ must stay IO-free: see core/clippy.toml)"
# One invocation: one feature resolution, so the dependency tree is checked once, not once per
# crate set. --all-targets covers the benches (benches/) and the test age plugin too.
cargo clippy -q -p inforge-core -p inforge-host -p inforge-cli -p inforge-bootstrap \
  -p inforge-py -p inforge-benches -p age-plugin-inforgetest --all-targets -- -D warnings

section "cargo test (unit + scenarios; the hosts scenarios start a real etcd on 127.0.0.1)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Plain `cargo test` in the workspace root: it tests the default members, so it also builds
# inforge-bootstrap (its own tests need the binary), which the hosts scenarios run beside inforge.
cargo test 2>&1 | tee "$log"
# The in-tree test age plugin (tests/age-plugin) against Debian's age CLI; the custody
# scenarios run inforge through it.
cargo test -p age-plugin-inforgetest 2>&1 | tee -a "$log"
passed=$(grep -o 'test result: ok\. [0-9]* passed' "$log" | awk '{s += $4} END {print s + 0}')

section "alerting rules (deploy/prometheus): promtool check and unit tests"
promtool check rules deploy/prometheus/inforge-alerts.yml
(cd deploy/prometheus && promtool test rules inforge-alerts.test.yml inforge-alerts-days.test.yml)

section "Python bindings: wheel, stubtest, mypy --strict, pytest (tests/python, with the live Prometheus test)"
bash scripts/python.sh test 2>&1 | tee "$log"
py_passed=$(grep -Eo '[0-9]+ passed' "$log" | tail -1 | awk '{print $1}')
passed=$((passed + ${py_passed:-0}))

section "fuzz targets compile (one per parser: store, config, certs, identity, armor, quorum policy, fetched set, host metrics file; and the store merge)"
# The main target dir: the fuzz crate shares the dependencies the checks above compiled.
cargo check -q --manifest-path core/fuzz/Cargo.toml --bins --target-dir target

section "the core and the wasm bindings build for wasm32-unknown-unknown (no host crate there)"
# clippy checks inforge-core as a dependency of inforge-wasm, for wasm32.
cargo clippy -q -p inforge-wasm --target wasm32-unknown-unknown --all-targets -- -D warnings

section "WASM package and browser inspector (scripts/web-test.sh: wasm-bindgen tests in Node and Chromium, corpus CLI vs WASM, page end to end)"
cargo build -q -p inforge-cli
INFORGE_BIN="$PWD/target/debug/inforge" bash scripts/web-test.sh 2>&1 | tee "$log"
web_passed=$(grep -o '^web: [0-9]* passed' "$log" | awk '{print $2}')
passed=$((passed + ${web_passed:-0}))

section "quickstart (README main command) on the debug build"
cargo build -q -p inforge-cli -p inforge-bootstrap
# `cargo build` leaves out dev-dependency features: this binary is what users get, and it must
# not read the crash-safety hook (host/src/fault.rs). The variable's name is absent from it,
# and naming a fault point changes nothing (init writes its store and exits 0).
if grep -q -e INFORGE_TEST_FAULT -e INFORGE_TEST_PAUSE target/debug/inforge; then
  echo "the non-test inforge binary reads INFORGE_TEST_FAULT or INFORGE_TEST_PAUSE" >&2; exit 1
fi
fault_repo=$(mktemp -d)
cp examples/infra/inforge.yaml examples/infra/regions.yaml "$fault_repo/"
INFORGE_TEST_FAULT=store-before-rename target/debug/inforge -C "$fault_repo" pki init prd \
  --recipient "$(age-keygen 2>/dev/null | grep -o 'age1[0-9a-z]*')" > "$fault_repo/root-identity.txt"
test -s "$fault_repo/resources/prd/pki.enc.yaml"
rm -rf "$fault_repo"
echo "release binary ignores INFORGE_TEST_FAULT: ok"
INFORGE_BIN="$PWD/target/debug/inforge" bash scripts/quickstart.sh >/dev/null
echo "quickstart: ok"

section "benches/etcd-renew.sh on the debug build, small N (proves the etcd benchmark works)"
INFORGE_BIN_DIR="$PWD/target/debug" bash benches/etcd-renew.sh 20 >&2

section "benches/compare.sh on the debug build, small N (proves the peer comparison works)"
cargo build -q -p inforge-benches --bin inforge-limits
INFORGE_BIN_DIR="$PWD/target/debug" bash benches/compare.sh 20 >&2
echo "inforge: $passed passed, 0 failed"

#!/usr/bin/env bash
# The Python bindings (module `inforge`, an abi3 wheel built by maturin from python/):
#   scripts/python.sh        build the wheel and install it into the virtualenv target/py-venv
#   scripts/python.sh test   ... then run the pytest suite (tests/python/) against the CLI, and
#                            mypy --strict on examples/deploy_release.py against the shipped stubs
# Idempotent: the virtualenv and its tools are made once; the wheel is rebuilt (incrementally)
# and reinstalled on every run. PYTHON picks the interpreter for the virtualenv (python3).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/py-venv
py="$venv/bin/python"
wheels=target/wheels

if [ ! -x "$py" ]; then
    echo "== virtualenv $venv" >&2
    "${PYTHON:-python3}" -m venv "$venv"
fi

missing=()
# spiffe (py-spiffe, with PyJWT) reads the SPIFFE bundle JWKS in the tests, independently of us.
for req in "maturin>=1.16,<2" "pytest>=8" "cryptography>=43" "mypy>=1.10" "spiffe>=0.3,<0.4"; do
    name=${req%%[<>=]*}
    "$py" -m pip show -q "$name" >/dev/null 2>&1 || missing+=("$req")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== pip install ${missing[*]}" >&2
    "$py" -m pip install -q --disable-pip-version-check "${missing[@]}"
fi

# Users get a release wheel; the test run builds the dev profile (dependencies are still
# optimised, see Cargo.toml), which reuses what `cargo test` already compiled instead of a
# second, release build of the whole dependency tree (minutes on a 2-core CI machine).
profile=(--release)
[ "${1:-}" = "test" ] && profile=()
echo "== maturin build ${profile[*]:-(dev profile)} (python/ → $wheels)" >&2
rm -f "$wheels"/inforge-*.whl
started=$(date +%s)
"$venv/bin/maturin" build "${profile[@]}" -q -m python/Cargo.toml -i "$py" --out "$wheels"
wheel=$(ls "$wheels"/inforge-*.whl)
echo "built $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB) in $(($(date +%s) - started)) s" >&2
"$py" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"

if [ "${1:-}" = "test" ]; then
    echo "== the inforge CLI and bootstrapper the comparison tests run (target/debug/)" >&2
    cargo build -q -p inforge-cli -p inforge-bootstrap
    export INFORGE_BIN="$PWD/target/debug/inforge"
    echo "== stubtest: python/pysrc/inforge/*.pyi match the built package and its native module" >&2
    "$py" -m mypy.stubtest inforge --ignore-disjoint-bases
    echo "== mypy --strict examples/deploy_release.py (against the wheel's stubs); mypy tests/python" >&2
    "$py" -m mypy --strict --cache-dir target/mypy-cache examples/deploy_release.py
    "$py" -m mypy --cache-dir target/mypy-cache tests/python
    echo "== pytest tests/python" >&2
    "$py" -m pytest -o cache_dir=target/pytest-cache tests/python
fi

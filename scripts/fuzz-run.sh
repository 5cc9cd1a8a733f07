#!/usr/bin/env bash
# One long fuzz run the way docs/development.md#fuzzing records them, then its plateau verdict.
#   bash scripts/fuzz-run.sh <target> <seconds> [asan|none]
# - the YAML targets (store, config, merge) get the YAML dictionary (core/fuzz/yaml.dict);
# - `none` builds without a sanitizer into target/fuzz-none (about 4x the runs per second: the
#   targets are safe Rust, and `cargo fuzz cmin` with the default AddressSanitizer build
#   replays every input the run kept, so memory errors in dependencies are still looked for);
# - nice 19 (the machine stays usable), -timeout=60 (a unit taking a minute is a hang; shorter
#   limits fire spuriously when a nice-19 run waits behind a build);
# - the log goes to target/fuzz-logs/<target>-<time>.log; scripts/fuzz-curve.py reads it.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
target=${1:?usage: fuzz-run.sh <target> <seconds> [asan|none]}
seconds=${2:?usage: fuzz-run.sh <target> <seconds> [asan|none]}
san=${3:-asan}
[ -f "core/fuzz/fuzz_targets/$target.rs" ] || { echo "fuzz-run: no target $target in core/fuzz/fuzz_targets" >&2; exit 2; }
build=()
case $san in
  asan) ;;
  none) build=(-s none --target-dir "$top/target/fuzz-none") ;;
  *) echo "fuzz-run: the third argument is asan or none, not $san" >&2; exit 2 ;;
esac
extra=()
case $target in store | config | merge) extra=(-dict=fuzz/yaml.dict) ;; esac
mkdir -p target/fuzz-logs
log=$top/target/fuzz-logs/$target-$(date -u +%Y%m%dT%H%M%S).log
cd core
set +e
nice -n 19 env RUSTC_BOOTSTRAP=1 cargo fuzz run -O "${build[@]}" "$target" "fuzz/corpus/$target" -- \
  -max_total_time="$seconds" -timeout=60 -print_final_stats=1 "${extra[@]}" > "$log" 2>&1
code=$?
set -e
python3 "$top/scripts/fuzz-curve.py" "$log"
[ "$code" -eq 0 ] || echo "fuzz-run: libFuzzer exited $code (a crash, a hang or a timeout): see $log and core/fuzz/artifacts/$target/" >&2
exit "$code"

#!/usr/bin/env bash
# Renew throughput into a real etcd against the dir provider, same run, same machine, plus the
# host side: one projection (changed / unchanged) with inforge-bootstrap from each.
# Usage: benches/etcd-renew.sh [N]  (N regional services over 2 regions → 2N leaves; default 1000).
# Starts etcd on 127.0.0.1 (free ports, scratch data dir) and stops it by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
# INFORGE_BIN_DIR: use already-built binaries (scripts/test.sh runs this on the debug build
# with a small N to prove the script works; the numbers in docs come from release builds).
if [ -z "${INFORGE_BIN_DIR:-}" ]; then
  cargo build --release -q -p inforge-cli -p inforge-bootstrap
  INFORGE_BIN_DIR=$PWD/target/release
fi
bin=$INFORGE_BIN_DIR/inforge
boot=$INFORGE_BIN_DIR/inforge-bootstrap
work=$(mktemp -d)
etcd_pid=""
cleanup() {
  # etcd ends by SIGTERM (status 143): not a failure of the benchmark.
  if [ -n "$etcd_pid" ]; then kill "$etcd_pid" 2>/dev/null || true; wait "$etcd_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cp_=$(port); pp=$(port)
etcd --name b --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$cp_" --advertise-client-urls "http://127.0.0.1:$cp_" \
  --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
  --initial-cluster "b=http://127.0.0.1:$pp" --log-level error >"$work/etcd.log" 2>&1 &
etcd_pid=$!
for _ in $(seq 1 100); do ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$cp_" endpoint health >/dev/null 2>&1 && break; sleep 0.1; done

. benches/bench-repo.sh
bench_repo "$work/infra" "$n" "edge: {provider: {kind: etcd, endpoints: [http://127.0.0.1:$cp_], prefix: /inforge/edge}}"
# edge (the etcd environment) gets its own store, made the same way.
for env in prd edge; do bench_pki "$bin" "$work/infra" "$env"; done
cd "$work/infra"
export INFORGE_SECRETS_KEY
INFORGE_SECRETS_KEY=$(grep '^AGE-SECRET-KEY-' ../ci.key)

rss() {
  if [ -x /usr/bin/time ]; then /usr/bin/time -f '%e s, peak RSS %M KB' "$@" 2>&1 >/dev/null | tail -1
  else local t0; t0=$(date +%s%N); "$@" >/dev/null 2>&1; echo "$(( ($(date +%s%N) - t0) / 1000000 )) ms"; fi
}
echo "inforge pki renew: $n services × 2 regions = $((2 * n)) leaves"
echo "  dir , first write into an empty provider: $(rss "$bin" pki renew prd)"
"$bin" pki renew prd >/dev/null 2>&1; "$bin" pki renew prd >/dev/null 2>&1
echo "  dir , steady state (4th renew, every slot exists): $(rss "$bin" pki renew prd)"
echo "  etcd: $(rss "$bin" pki renew edge)"
keys=$(ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$cp_" get --prefix /inforge/edge --keys-only | grep -c . || true)
echo "  etcd holds $keys keys (expected $((10 * n)))"
[ "$keys" -eq $((10 * n)) ] || { echo "etcd-renew: etcd holds $keys keys, expected $((10 * n))" >&2; exit 1; }

mkdir -p /dev/shm/inforge-bench-$$ && host=/dev/shm/inforge-bench-$$
trap 'rm -rf "$host"; cleanup' EXIT
for src in "--provider-dir $work/provider" "--etcd-endpoints http://127.0.0.1:$cp_ --etcd-prefix /inforge/edge"; do
  # shellcheck disable=SC2086
  t0=$(date +%s%N); "$boot" project --service svc-1 --scope r1 --runtime-dir "$host" $src --reload-command true 2>/dev/null; t1=$(date +%s%N)
  # shellcheck disable=SC2086
  "$boot" project --service svc-1 --scope r1 --runtime-dir "$host" $src 2>/dev/null; t2=$(date +%s%N)
  echo "inforge-bootstrap ($(echo "$src" | cut -d' ' -f1)): changed $(( (t1 - t0) / 1000000 )) ms, unchanged $(( (t2 - t1) / 1000000 )) ms (whole process)"
  rm -rf "${host:?}"/* "$host"/.[!.]*
done

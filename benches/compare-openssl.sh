#!/usr/bin/env bash
# Peer comparison, same run, same machine: `inforge pki renew` against an openssl-script PKI
# (the seed-004 style: one genpkey + req + x509 per leaf) issuing the same leaves from the same
# intermediates. Prints both wall times and the ratio. Usage: benches/compare-openssl.sh [N]
# (N regional services over 2 regions → 2N leaves; default 100).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
cargo build --release -q -p inforge-cli
bin=$PWD/target/release/inforge
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/peer"
. benches/bench-repo.sh
bench_repo "$work/infra" "$n"
bench_pki "$bin" "$work/infra" prd
cd "$work/infra"
export INFORGE_SECRETS_KEY
INFORGE_SECRETS_KEY=$(grep '^AGE-SECRET-KEY-' ../ci.key)

ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0=$(ms)
"$bin" pki renew prd >/dev/null 2>&1
t1=$(ms)

# The peer: the same leaves with the openssl CLI, from the same intermediates.
python3 - "$work" <<'PY'
import re, sys
work = sys.argv[1]
text = open(f"{work}/infra/resources/prd/pki.enc.yaml").read()
for scope in ("r1", "r2"):
    m = re.search(rf"\n      {scope}:\n        cert: \|\n((?:          .*\n)+)        key: \|\n((?:          .*\n)+)", text)
    open(f"{work}/peer/{scope}.pem", "w").write("".join(l[10:] + "\n" for l in m.group(1).splitlines()))
    open(f"{work}/peer/{scope}.age", "w").write("".join(l[10:] + "\n" for l in m.group(2).splitlines()))
PY
cd "$work/peer"
for s in r1 r2; do (umask 077; age -d -i ../ci.key "$s.age" > "$s.key"); done
t2=$(ms)
for i in $(seq 1 "$n"); do
  for s in r1 r2; do
    d="svc-$i-$s"; mkdir -p "$d"
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=URI:spiffe://bench.example/prd/%s/svc-%s\n' "$s" "$i" > "$d/ext"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/key.pem" 2>/dev/null
    openssl req -new -key "$d/key.pem" -subj "/CN=svc-$i" -out "$d/req.csr" 2>/dev/null
    openssl x509 -req -in "$d/req.csr" -CA "$s.pem" -CAkey "$s.key" -CAcreateserial -days 90 -extfile "$d/ext" -out "$d/leaf.pem" 2>/dev/null
    cat "$d/leaf.pem" "$s.pem" > "$d/cert.pem"
  done
done
t3=$(ms)
ours=$((t1 - t0)); peer=$((t3 - t2))
leaves=$((2 * n))
echo "leaves:               $leaves"
echo "inforge pki renew:    ${ours} ms (whole command: decrypt, mint on all cores, write the provider)"
echo "openssl script peer:  ${peer} ms (3 processes per leaf, no provider swap)"
awk -v a="$ours" -v b="$peer" 'BEGIN { if (a == 0) a = 1; printf "ratio peer/inforge:   %.1fx\n", b / a }'

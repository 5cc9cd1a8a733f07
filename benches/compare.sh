#!/usr/bin/env bash
# Peer comparison in ONE run on this machine: the same N leaves (P-256, the same profile, N/2
# regional services × 2 regions, from the same intermediates) minted four ways, plus the
# primitive limit. Prints leaves/s, ratios to `inforge pki renew` and peak RSS per N, writes
# the table to target/compare/results.tsv and a plot of leaves/s against N to
# target/compare/leaves-per-second.svg (docs/performance.md shows the committed copy).
#   1. inforge pki renew, end to end into the dir provider: the first renew into an empty
#      provider, and the fourth (the steady state, which reuses every slot);
#   2. mint-only: the core's renew into memory (inforge-limits mint-only);
#   3. a Python `cryptography` loop writing the same five files per set (benches/peer_cryptography.py);
#   4. the openssl-CLI procedure of seed 004 (genpkey, req, x509 per leaf), timed on a sample
#      of min(N, OPENSSL_SAMPLE) leaves (default 100) and reported as a rate;
#   5. the primitive limit: P-256 keygen + sign per second per core (the backend inforge
#      uses) × cores.
# Every N runs on two filesystems in the same run: `disk` (a scratch directory under /tmp, the
# repo's filesystem here) and `tmpfs` (/dev/shm: no device, so what remains is the software's
# own cost). The Python loop is timed twice, like inforge: its first write and its steady state
# (a second run overwriting the same files).
# Usage: benches/compare.sh [N ...]   (default: 1000 5000 20000)
# COMPARE_FS: the filesystems, default "disk tmpfs" (tmpfs is skipped where /dev/shm is not one).
# INFORGE_BIN_DIR: use built binaries (scripts/test.sh runs it with a tiny N on debug builds).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 5000 20000)
if [ -z "${INFORGE_BIN_DIR:-}" ]; then
  cargo build --release -q -p inforge-cli -p inforge-benches --bin inforge --bin inforge-limits
  INFORGE_BIN_DIR=$top/target/release
fi
bin=$INFORGE_BIN_DIR/inforge
limits=$INFORGE_BIN_DIR/inforge-limits
py=${PYTHON:-$top/target/py-venv/bin/python}
[ -x "$py" ] || py=python3
"$py" -c 'import cryptography' 2>/dev/null || { echo "compare: the Python peer needs the cryptography package (scripts/python.sh makes target/py-venv)" >&2; exit 1; }
sample=${OPENSSL_SAMPLE:-100}
. benches/bench-repo.sh
out=$top/target/compare
mkdir -p "$out"
results=$out/results.tsv
printf 'fs\tn\tway\tseconds\tleaves_per_s\tpeak_rss_kb\n' > "$results"
filesystems=()
for fs in ${COMPARE_FS:-disk tmpfs}; do
  case $fs in
    disk) filesystems+=(disk) ;;
    tmpfs)
      if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then filesystems+=(tmpfs)
      else echo "compare: /dev/shm is not a tmpfs here; the tmpfs runs are skipped" >&2; fi ;;
    *) echo "compare: COMPARE_FS takes disk and tmpfs, not $fs" >&2; exit 2 ;;
  esac
done

measure() { # label n count cmd... → a row for N=n at count leaves; whole-process time and peak RSS
  local label=$1 n=$2 count=$3; shift 3
  local t tf
  tf=$(mktemp)
  /usr/bin/time -o "$tf" -f '%e %M' "$@" >/dev/null 2>&1
  t=$(tail -1 "$tf"); rm -f "$tf"
  local secs=${t% *} rss=${t#* }
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$fs" "$n" "$label" "$secs" "$(awk -v n="$count" -v s="$secs" 'BEGIN{printf "%.0f", n / (s > 0 ? s : 0.001)}')" "$rss" >> "$results"
}

prim=$("$limits" primitive 1)
per_core=$(echo "$prim" | sed 's/.*"perCore": \([0-9.]*\).*/\1/')
cores=$(echo "$prim" | sed 's/.*"cores": \([0-9]*\).*/\1/')

for fs in "${filesystems[@]}"; do
for n in "${sizes[@]}"; do
  services=$(( (n + 1) / 2 ))
  leaves=$(( services * 2 ))
  if [ "$fs" = tmpfs ]; then work=$(mktemp -d /dev/shm/inforge-compare.XXXXXX); else work=$(mktemp -d); fi
  mkdir -p "$work/peer" "$work/pyout"
  bench_repo "$work/infra" "$services"
  bench_pki "$bin" "$work/infra" prd
  export INFORGE_SECRETS_KEY
  INFORGE_SECRETS_KEY=$(grep '^AGE-SECRET-KEY-' "$work/ci.key")
  # The peers get the same intermediates, decrypted once outside their timings.
  "$py" - "$work" <<'PY'
import re, sys
work = sys.argv[1]
text = open(f"{work}/infra/resources/prd/pki.enc.yaml").read()
for scope in ("global", "r1", "r2"):
    m = re.search(rf"\n      {scope}:\n        cert: \|\n((?:          .*\n)+)        key: \|\n((?:          .*\n)+)", text)
    open(f"{work}/peer/{scope}.pem", "w").write("".join(l[10:] + "\n" for l in m.group(1).splitlines()))
    open(f"{work}/peer/{scope}.age", "w").write("".join(l[10:] + "\n" for l in m.group(2).splitlines()))
# The root's CRL (signed offline, kept in the store): the first CRL of every set's crl.pem.
m = re.search(r"\n    rootCrls:\n    - \|\n((?:      .*\n)+)", text)
open(f"{work}/peer/root-crl.pem", "w").write("".join(l[6:] + "\n" for l in m.group(1).splitlines()))
PY
  for s in global r1 r2; do (umask 077; age -d -i "$work/ci.key" "$work/peer/$s.age" > "$work/peer/$s.key"); done

  measure "inforge renew (end to end, dir provider)" "$leaves" "$leaves" "$bin" -C "$work/infra" pki renew prd
  # The daily case: the provider already holds every set (slots made by the first writes),
  # so a renew reuses them (docs/provider.md). Two untimed renews, then the timed fourth.
  "$bin" -C "$work/infra" pki renew prd >/dev/null 2>&1
  "$bin" -C "$work/infra" pki renew prd >/dev/null 2>&1
  measure "inforge renew, steady state (4th renew, dir provider)" "$leaves" "$leaves" "$bin" -C "$work/infra" pki renew prd
  measure "mint-only (core renew into memory)" "$leaves" "$leaves" "$limits" mint-only "$work/infra" prd
  measure "python cryptography loop (first write)" "$leaves" "$leaves" "$py" "$top/benches/peer_cryptography.py" "$work" "$services" "$work/pyout"
  measure "python cryptography loop, steady state (overwriting)" "$leaves" "$leaves" "$py" "$top/benches/peer_cryptography.py" "$work" "$services" "$work/pyout"
  k=$(( leaves < sample ? leaves : sample ))
  ossl() {
    cd "$work/peer"
    for i in $(seq 1 "$1"); do
      s=r$(( (i % 2) + 1 )); d="o$i"; mkdir -p "$d"
      printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=critical,URI:spiffe://bench.example/prd/%s/svc-%s\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' "$s" "$i" > "$d/ext"
      openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/key.pem" 2>/dev/null
      openssl req -new -key "$d/key.pem" -subj "/CN=svc-$i" -out "$d/req.csr" 2>/dev/null
      openssl x509 -req -in "$d/req.csr" -CA "$s.pem" -CAkey "$s.key" -CAcreateserial -days 90 -extfile "$d/ext" -out "$d/leaf.pem" 2>/dev/null
      cat "$d/leaf.pem" "$s.pem" > "$d/cert.pem"
    done
  }
  export -f ossl; export work
  measure "openssl CLI procedure (sample of $k)" "$leaves" "$k" bash -c "ossl $k"
  awk -v n="$leaves" -v r="$(awk -v p="$per_core" -v c="$cores" 'BEGIN{printf "%.0f", p * c}')" \
    -v fs="$fs" 'BEGIN{printf "%s\t%s\tprimitive limit (keygen+sign x cores)\t\t%s\t\n", fs, n, r}' >> "$results"
  # Same leaves, checked: inforge's and Python's sets verify against their bundles.
  # Both write real CRLs: the leaf is checked against its intermediate's CRL in crl.pem.
  for set in "$work/provider/svc-1/mtls/r1" "$work/pyout/svc-1/mtls/r1"; do
    openssl verify -partial_chain -crl_check -CAfile "$set/bundle.pem" -CRLfile "$set/crl.pem" "$set/cert.pem" >/dev/null
  done
  # ... and the same SPIFFE bundle: the bundle's certificates, in order.
  "$py" - "$work/provider/svc-1/mtls/r1" "$work/pyout/svc-1/mtls/r1" <<'PY'
import json, sys
x5c = [[k["x5c"] for k in json.load(open(f"{d}/bundle.spiffe.json"))["keys"]] for d in sys.argv[1:]]
assert x5c[0] == x5c[1], "the peer's SPIFFE bundle differs from inforge's"
PY
  rm -rf "$work"
done
done

"$py" - "$results" "$out/leaves-per-second.svg" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
by_n = {}
for fs, n, way, secs, rate, rss in rows:
    by_n.setdefault((fs, n), []).append((way, secs, float(rate), rss))
def rate_of(ways, prefix):
    return next(r for w, _, r, _ in ways if w.startswith(prefix))
for (fs, n), ways in by_n.items():
    ref = rate_of(ways, "inforge renew (end to end")
    steady = rate_of(ways, "inforge renew, steady")
    mint = rate_of(ways, "mint-only")
    prim = rate_of(ways, "primitive")
    py_first = rate_of(ways, "python cryptography loop (first")
    py_steady = rate_of(ways, "python cryptography loop, steady")
    print(f"{fs}: N = {n} leaves")
    for way, secs, rate, rss in ways:
        rss_mb = f"{int(rss) / 1024:.0f} MB" if rss else ""
        print(f"  {way:<54} {rate:>10.0f} leaves/s  first write is {ref / rate:>7.2f}x  {rss_mb}")
    print(f"  mint-only / primitive limit: {mint / prim:.0%}; end to end / mint-only time: first {mint / ref:.2f}x, steady state {mint / steady:.2f}x")
    print(f"  against the Python loop, like for like: first write {ref / py_first:.2f}x, steady state {steady / py_steady:.2f}x")
# The plot: leaves/s (log scale) against N, one line per way (stdlib only: hand-written SVG).
import math
ways = []
for (fs, n), ws in by_n.items():
    for w, _, r, _ in ws:
        key = (fs, w.split(" (")[0])
        if key not in ways:
            ways.append(key)
ns = sorted({n for _, n in by_n}, key=int)
W, H, L, B = 720, 420, 70, 50
rates = [r for ws in by_n.values() for _, _, r, _ in ws if r > 0]
W = 900
lo, hi = math.floor(math.log10(min(rates))), math.ceil(math.log10(max(rates)))
def x(i): return L + (W - L - 380) * (i / max(1, len(ns) - 1))
def y(r): return H - B - (H - B - 20) * ((math.log10(r) - lo) / max(1, hi - lo))
colors = ["#1b6ac9", "#0b8f8f", "#2a9d3a", "#c9541b", "#8a3ab9", "#666666"]
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{L}" y="14">leaves per second (log scale) against N leaves, one run on this machine</text>']
for e in range(lo, hi + 1):
    yy = y(10 ** e)
    svg.append(f'<line x1="{L}" x2="{W-380}" y1="{yy}" y2="{yy}" stroke="#ddd"/><text x="{L-8}" y="{yy+4}" text-anchor="end">1e{e}</text>')
for i, n in enumerate(ns):
    svg.append(f'<text x="{x(i)}" y="{H-B+18}" text-anchor="middle">{n}</text>')
svg.append(f'<text x="{(L+W-380)/2}" y="{H-10}" text-anchor="middle">N (leaves)</text>')
names = []
for _, w in ways:
    if w not in names:
        names.append(w)
for k, (fs, way) in enumerate(ways):
    pts = []
    for i, n in enumerate(ns):
        for w, _, r, _ in by_n.get((fs, n), []):
            if w.split(" (")[0] == way and r > 0:
                pts.append((x(i), y(r)))
    c = colors[names.index(way) % len(colors)]
    dash = ' stroke-dasharray="6 4"' if fs == "tmpfs" else ""
    svg.append(f'<polyline fill="none" stroke="{c}" stroke-width="2"{dash} points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}"/>')
    for a, b in pts:
        svg.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{c}"/>')
    svg.append(f'<text x="{W-370}" y="{40 + 16 * k}" fill="{c}">{way}, {fs}{" (dashed)" if fs == "tmpfs" else ""}</text>')
svg.append("</svg>")
open(sys.argv[2], "w").write("\n".join(svg))
PY
echo "compare: table $results, plot $out/leaves-per-second.svg" >&2

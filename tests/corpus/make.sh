#!/usr/bin/env bash
# Builds the behavioural corpus into <out>: one infra repo per case (inforge.yaml,
# regions.yaml, optionally resources/prd/pki.enc.yaml) plus `now` (the time to check at).
# Stores are minted here by the real CLI (never committed: no identity ever leaves <out>).
# Each case's `expect` file names codes its diagnostics must include (empty: must be clean).
# Usage: INFORGE_BIN=target/debug/inforge tests/corpus/make.sh <out>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$1
bin=${INFORGE_BIN:-$top/target/debug/inforge}
inforge() { "$bin" "$@"; }
export INFORGE_NOW=2026-11-26T00:00:00Z
rm -rf "$out" && mkdir -p "$out"

# The example repo, minted once: init, a two-tier mesh with three intermediates, a root-only PKI.
base="$out/.base"
mkdir -p "$base" && cp -r "$top/examples/infra/." "$base/" && mkdir -p "$base/resources/prd" "$out/.provider-prd"
sed -i "s#path: ../provider-prd#path: ../.provider-prd#" "$base/inforge.yaml"
age-keygen -o "$out/.ci-identity.txt" 2>/dev/null
printf 'recipient: %s\nsecrets: {}\n' "$(age-keygen -y "$out/.ci-identity.txt")" > "$base/resources/prd/secrets.enc.yaml"
export INFORGE_SECRETS_KEY
INFORGE_SECRETS_KEY=$(grep '^AGE-SECRET-KEY-' "$out/.ci-identity.txt")
(umask 077; inforge -C "$base" pki init prd > "$out/.root-identity.txt" 2>/dev/null)
export INFORGE_PKI_ROOT_KEY
INFORGE_PKI_ROOT_KEY=$(cat "$out/.root-identity.txt")
inforge -C "$base" pki add prd wardnet-mesh --topology two-tier 2>/dev/null
inforge -C "$base" pki add prd daemon-ca --topology root-only 2>/dev/null

# case <name> <now> <expected codes…>: a copy of the base repo as it is now.
case_() {
  local name=$1 now=$2
  shift 2
  mkdir -p "$out/$name"
  cp -r "$base/." "$out/$name/"
  rm -f "$out/$name/resources/prd/secrets.enc.yaml"
  echo "$now" > "$out/$name/now"
  printf '%s\n' "$@" > "$out/$name/expect"
}
inforge -C "$base" pki intermediate prd wardnet-mesh global 2>/dev/null
case_ missing-intermediate "$INFORGE_NOW" service-scope-no-intermediate
for s in us-east-1 eu-west-1; do inforge -C "$base" pki intermediate prd wardnet-mesh "$s" 2>/dev/null; done
case_ healthy "$INFORGE_NOW"
: > "$out/healthy/expect"
# Leaves for the page's leaf check (renew writes them into the dir provider).
inforge -C "$base" pki renew prd >/dev/null 2>&1
case_ expired 2036-12-01T00:00:00Z cert-expired
case_ intermediate-expiring 2031-10-01T00:00:00Z intermediate-expiring
case_ region-unknown "$INFORGE_NOW" service-region-unknown
echo 'regions: [us-east-1, eu-west-1, ap-south-1]' > "$out/region-unknown/regions.yaml"
sed -i 's/regions: \[us-east-1\]/regions: [us-east-1, mars-1]/' "$out/region-unknown/inforge.yaml"
case_ root-only-mesh "$INFORGE_NOW" service-pki-root-only
sed -i '0,/pki: wardnet-mesh/s//pki: daemon-ca/' "$out/root-only-mesh/inforge.yaml"
case_ no-store "$INFORGE_NOW" store-missing
rm "$out/no-store/resources/prd/pki.enc.yaml"
case_ garbage "$INFORGE_NOW" store-invalid
head -c 3000 /dev/urandom | base64 > "$out/garbage/resources/prd/pki.enc.yaml"
case_ newer-version "$INFORGE_NOW" store-version
sed -i 's/^version: [12]$/version: 3/' "$out/newer-version/resources/prd/pki.enc.yaml"
# us-east-1's slot holds eu-west-1's certificate: a misplaced tier.
case_ swapped-intermediate "$INFORGE_NOW" intermediate-scope-mismatch
node "$here/swap.mjs" "$out/swapped-intermediate/resources/prd/pki.enc.yaml"
# A leaf recorded as revoked (store format 2): clean. The same record naming the us-east-1
# intermediate's serial instead: a CA is not revoked that way.
set_="$out/.provider-prd/web/mtls/us-east-1"
case_ revoked-leaf "$INFORGE_NOW"
: > "$out/revoked-leaf/expect"
inforge -C "$out/revoked-leaf" pki revoke-leaf prd wardnet-mesh \
  --serial "$(openssl x509 -in "$set_/cert.pem" -noout -serial | cut -d= -f2)" 2>/dev/null
case_ revoked-ca-serial "$INFORGE_NOW" serial-is-ca
int_serial=$(awk '/BEGIN CERT/{n++} n==2' "$set_/cert.pem" | openssl x509 -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
sed "s/serial: [0-9a-f]*/serial: $int_serial/" "$out/revoked-leaf/resources/prd/pki.enc.yaml" \
  > "$out/revoked-ca-serial/resources/prd/pki.enc.yaml"

# Versions for the page's change review: before and after a planned roll of us-east-1.
cp "$base/resources/prd/pki.enc.yaml" "$out/.before.pki.enc.yaml"
inforge -C "$base" pki rotate prd wardnet-mesh --intermediate us-east-1 2>/dev/null
cp "$base/resources/prd/pki.enc.yaml" "$out/.after.pki.enc.yaml"
case_ rotated "$INFORGE_NOW"
: > "$out/rotated/expect"
# Compromise recovery of eu-west-1: its old certificate is recorded as revoked.
inforge -C "$base" pki recover-intermediate prd wardnet-mesh eu-west-1 >/dev/null 2>&1
case_ recovered "$INFORGE_NOW"
: > "$out/recovered/expect"
echo "corpus: $(ls "$out" | wc -l) cases in $out" >&2

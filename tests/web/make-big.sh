#!/usr/bin/env bash
# A 100-PKI store for the page's responsiveness test and the performance numbers: 50 two-tier
# meshes (a root and three intermediates each) and 50 root-only PKIs, minted by the real CLI
# into <out> (identities stay in <out>, never committed). Usage: make-big.sh <out>
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$1
bin=${INFORGE_BIN:-$top/target/debug/inforge}
inforge() { "$bin" -C "$out" "$@"; }
export INFORGE_NOW=2026-11-26T00:00:00Z
rm -rf "$out" && mkdir -p "$out/resources/prd" "$out/provider"
cat > "$out/inforge.yaml" <<'YAML'
baseDomain: wardnet.example
environments:
  prd:
    provider: {kind: dir, path: provider}
services:
  api: {pki: mesh-00, scope: global}
  web: {pki: mesh-00, scope: regional}
YAML
echo 'regions: [us-east-1, eu-west-1]' > "$out/regions.yaml"
age-keygen -o "$out/.ci.txt" 2>/dev/null
export INFORGE_PKI_ROOT_KEY
INFORGE_PKI_ROOT_KEY=$(inforge pki init prd --recipient "$(age-keygen -y "$out/.ci.txt")" 2>/dev/null)
for i in $(seq -w 0 49); do
  inforge pki add prd "mesh-$i" --topology two-tier 2>/dev/null
  inforge pki add prd "daemon-$i" --topology root-only 2>/dev/null
  for s in global us-east-1 eu-west-1; do inforge pki intermediate prd "mesh-$i" "$s" 2>/dev/null; done
done
echo "big store: $(grep -c 'BEGIN CERTIFICATE' "$out/resources/prd/pki.enc.yaml") certificates in 100 PKIs" >&2

#!/usr/bin/env bash
# Makes the peer-check fixtures in this folder (committed; run again only to change them):
# chains as services present them (leaf first, then its intermediate), from a real renew of the
# example repo, plus a forgery made with openssl and the us-east-1 intermediate's key (as a
# leak would allow): a leaf claiming `global/api-twin`, signed by the *regional* intermediate.
# cases.json says what `authorize_peer(chain, callee)` must answer in every frontend (Rust,
# Python, WASM: core/src/views/inspect/mod.rs, tests/python/test_boundary.py,
# tests/web/corpus.mjs).
# Usage: INFORGE_BIN=target/debug/inforge tests/corpus/peers/make.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
bin=${INFORGE_BIN:-$top/target/debug/inforge}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$top/examples/infra" "$work/infra"
mkdir "$work/provider-prd"
age-keygen -o "$work/ci.key" 2>/dev/null
printf 'recipient: %s\nsecrets: {}\n' "$(age-keygen -y "$work/ci.key")" > "$work/infra/resources/prd/secrets.enc.yaml"
export INFORGE_NOW=2027-01-01T00:00:00Z INFORGE_SECRETS_KEY_FILE="$work/ci.key"
"$bin" -C "$work/infra" pki init prd > "$work/root.key" 2>/dev/null
export INFORGE_PKI_ROOT_KEY_FILE="$work/root.key"
"$bin" -C "$work/infra" pki add prd wardnet-mesh --topology two-tier >/dev/null 2>&1
for s in global us-east-1 eu-west-1; do "$bin" -C "$work/infra" pki intermediate prd wardnet-mesh "$s" >/dev/null 2>&1; done
"$bin" -C "$work/infra" pki renew prd >/dev/null 2>&1
p="$work/provider-prd"
cp "$p/api/mtls/global/cert.pem" "$here/api-global.pem"
cp "$p/web/mtls/us-east-1/cert.pem" "$here/web-us-east-1.pem"
cp "$p/web/mtls/eu-west-1/cert.pem" "$here/web-eu-west-1.pem"
# The forgery: the us-east-1 intermediate's key (decrypted with the CI identity) signs a leaf
# that claims a global ID.
python3 - "$work/infra/resources/prd/pki.enc.yaml" "$work" <<'PY'
import sys, re
text = open(sys.argv[1]).read()
block = text[text.index("      us-east-1:"):]
cert = re.search(r"cert: \|\n((?:\s+.*\n)+?)\s+key:", block).group(1)
key = re.search(r"key: \|\n((?:\s+.*\n)+?)(?:\s{0,6}\S|\Z)", block).group(1)
dedent = lambda b: "".join(l.strip() + "\n" for l in b.splitlines() if l.strip())
open(sys.argv[2] + "/int.pem", "w").write(dedent(cert))
open(sys.argv[2] + "/int.key.age", "w").write(dedent(key))
PY
age -d -i "$work/ci.key" -o "$work/int.key" "$work/int.key.age"
openssl ecparam -name prime256v1 -genkey -noout -out "$work/leaf.key" 2>/dev/null
openssl req -new -key "$work/leaf.key" -subj "/O=inforge" -out "$work/leaf.csr"
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=URI:spiffe://wardnet.example/prd/global/api-twin\n' > "$work/ext"
openssl x509 -req -in "$work/leaf.csr" -CA "$work/int.pem" -CAkey "$work/int.key" -set_serial 0x7e57 \
  -days 30 -extfile "$work/ext" -out "$work/forged.pem" 2>/dev/null
cat "$work/forged.pem" "$work/int.pem" > "$here/forged-global-by-us-east-1.pem"
echo "fixtures written to $here"

#!/usr/bin/env bash
# The main job on the embedded default: the bundled example infra repo (examples/infra) with
# its local directory provider (examples/provider-prd), copied to target/quickstart so the
# committed example stays pristine. Re-running starts over.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

if [ -z "${INFORGE_BIN:-}" ]; then
  bash scripts/setup.sh
  echo "quickstart: building inforge (release)…" >&2
  cargo build --release -q -p inforge-cli -p inforge-bootstrap
  INFORGE_BIN="$top/target/release/inforge"
  echo "quickstart: building and installing the Python module (target/py-venv)…" >&2
  bash scripts/python.sh
  echo "quickstart: building the npm package (wasm/pkg) and the inspector page (web/)…" >&2
  bash scripts/wasm.sh
  inspector=1
fi
inforge() { "$INFORGE_BIN" "$@"; }

work="$top/target/quickstart"
rm -rf "$work"
mkdir -p "$work"
cp -r examples/infra examples/provider-prd "$work/"
cd "$work/infra"

# The CI identity normally lives in your secret store; the demo makes one.
age-keygen -o "$work/ci-identity.txt" 2>/dev/null
chmod 600 "$work/ci-identity.txt"
ci_recipient=$(age-keygen -y "$work/ci-identity.txt")
mkdir -p resources/prd
printf 'recipient: %s\nsecrets: {}\n' "$ci_recipient" > resources/prd/secrets.enc.yaml
export INFORGE_SECRETS_KEY
INFORGE_SECRETS_KEY=$(grep '^AGE-SECRET-KEY-' "$work/ci-identity.txt")

echo "== inforge pki init prd" >&2
# The offline root identity is printed once on stdout. A real operator stores it offline;
# the demo keeps it in a 0600 file beside the copy.
umask 077
inforge pki init prd > "$work/root-identity.txt"
umask 022
export INFORGE_PKI_ROOT_KEY
INFORGE_PKI_ROOT_KEY=$(cat "$work/root-identity.txt")

echo "== inforge pki add prd wardnet-mesh --topology two-tier" >&2
inforge pki add prd wardnet-mesh --topology two-tier
echo "== inforge pki add prd daemon-ca --topology root-only" >&2
inforge pki add prd daemon-ca --topology root-only
for scope in global us-east-1 eu-west-1; do
  echo "== inforge pki intermediate prd wardnet-mesh $scope   (offline posture)" >&2
  inforge pki intermediate prd wardnet-mesh "$scope"
done
unset INFORGE_PKI_ROOT_KEY   # back to the CI posture: everything below needs only CI's identity

echo "== inforge pki ls prd" >&2
inforge pki ls prd

echo "== inforge validate prd   (credential-free)" >&2
inforge validate prd

echo "== inforge pki renew prd   (CI posture: INFORGE_SECRETS_KEY)" >&2
inforge pki renew prd

echo "== what the provider holds (examples/provider-prd copy), checked with openssl" >&2
provider="$work/provider-prd"
count=0
for dir in "$provider"/*/mtls/*; do
  [ -d "$dir" ] || continue
  openssl verify -partial_chain -CAfile "$dir/bundle.pem" "$dir/cert.pem" >/dev/null
  id=$(openssl x509 -in "$dir/cert.pem" -noout -ext subjectAltName | grep -o 'spiffe://[^, ]*')
  printf '  %-34s %s  (leaf+chain, key 0%s, bundle of %s)\n' "${dir#"$provider"/}" "$id" \
    "$(stat -c %a "$dir/key.pem")" "$(grep -c 'BEGIN CERTIFICATE' "$dir/bundle.pem") intermediates" >&2
  count=$((count + 1))
done
boot="$(dirname "$INFORGE_BIN")/inforge-bootstrap"
if [ -x "$boot" ]; then
  echo "== a host: inforge-bootstrap projects api's leaf into a tmpfs runtime dir (as its systemd units would)" >&2
  inforge pki units prd api --bootstrap-bin "$boot" --out-dir "$work/units" >/dev/null
  if [ -d /dev/shm ]; then
    host_dir=$(mktemp -d /dev/shm/inforge-quickstart-XXXXXX)
    keep=()
  else
    host_dir="$work/host-api"; mkdir -p "$host_dir"; keep=(--allow-persistent)
  fi
  "$boot" project --service api --scope global --runtime-dir "$host_dir" --provider-dir "$provider" \
    --reload-command "echo '  (reload api: the new leaf is in $host_dir)' >&2" "${keep[@]}"
  "$boot" project --service api --scope global --runtime-dir "$host_dir" --provider-dir "$provider" \
    --reload-command "echo 'never: nothing changed' >&2" "${keep[@]}"
  openssl verify -partial_chain -CAfile "$host_dir/bundle.pem" "$host_dir/cert.pem" >/dev/null
  echo "  units for the hosts: $work/units (docs/hosts.md)" >&2
  [ "${#keep[@]}" -gt 0 ] || rm -rf "$host_dir"
fi
if [ -x "$top/target/py-venv/bin/python" ]; then
  echo "== release-time mint from Python (examples/deploy_release.py, inforge.mint)" >&2
  "$top/target/py-venv/bin/python" "$top/examples/deploy_release.py" --repo . --env prd --service api \
    --out "$work/release-api" >&2
fi

echo >&2
echo "quickstart: done. $count leaves on disk, each accepted by 'openssl verify -partial_chain' against its bundle." >&2
if [ -n "${inspector:-}" ]; then
  echo "quickstart: inspect the store in your browser: python3 -m http.server --bind 127.0.0.1 -d $top/web 8000," >&2
  echo "  open http://127.0.0.1:8000/ and load $work/infra/resources/prd/pki.enc.yaml with inforge.yaml and regions.yaml" >&2
fi
echo "  store:    $work/infra/resources/prd/pki.enc.yaml" >&2
echo "  provider: $provider" >&2

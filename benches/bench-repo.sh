# Sourced by the benchmark scripts: the benchmark infra repo, made one way.
# bench_repo <infra dir> <services> [extra environment line ...]
#   N regional services of mesh `mesh` over regions r1, r2; environment `prd` on the dir
#   provider ../provider, plus any extra environment lines; a CI identity in ../ci.key.
bench_repo() {
  local dir=$1 services=$2 line
  shift 2
  mkdir -p "$dir/resources/prd" "$dir/../provider"
  {
    echo "baseDomain: bench.example"
    echo "environments:"
    echo "  prd: {provider: {kind: dir, path: ../provider}}"
    for line in "$@"; do echo "  $line"; done
    echo "services:"
    for i in $(seq 1 "$services"); do echo "  svc-$i: {pki: mesh, scope: regional}"; done
  } > "$dir/inforge.yaml"
  echo "regions: [r1, r2]" > "$dir/regions.yaml"
  age-keygen -o "$dir/../ci.key" 2>/dev/null
}

# bench_pki <inforge binary> <infra dir> <env>
#   The environment's store with two-tier `mesh` and its global, r1 and r2 intermediates; the
#   offline root identity lives only in this function.
bench_pki() {
  local bin=$1 dir=$2 env=$3 root s
  root=$("$bin" -C "$dir" pki init "$env" --recipient "$(age-keygen -y "$dir/../ci.key")" 2>/dev/null)
  INFORGE_PKI_ROOT_KEY=$root "$bin" -C "$dir" pki add "$env" mesh --topology two-tier 2>/dev/null
  for s in global r1 r2; do
    INFORGE_PKI_ROOT_KEY=$root "$bin" -C "$dir" pki intermediate "$env" mesh "$s" 2>/dev/null
  done
}

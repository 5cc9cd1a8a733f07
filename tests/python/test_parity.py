"""The bindings give the CLI's results for the same repos: validate's diagnostics, the
provider after renew, the renew report, and trust bundles byte for byte."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import inforge
import pytest

from support import NOW, NOW_TEXT, Repo, cli_json, hidden_entries, replace_pem, visible_layout


def append_service(line: str) -> Callable[[Repo], None]:
    def mutate(r: Repo) -> None:
        r.write("inforge.yaml", r.read("inforge.yaml") + f"  {line}\n")

    return mutate


def swap_global_intermediate(r: Repo) -> None:
    """A forged tier: the global slot holds the us-east-1 certificate."""
    mesh = inforge.load_store(r.store_path).pkis["wardnet-mesh"]
    text = r.store_path.read_text()
    r.store_path.write_text(replace_pem(text, mesh.intermediates["global"].pem, mesh.intermediates["us-east-1"].pem))


def replace_text(rel: str, old: str, new: str) -> Callable[[Repo], None]:
    def mutate(r: Repo) -> None:
        text = r.read(rel)
        assert old in text
        r.write(rel, text.replace(old, new))

    return mutate


# (id, mutation, env, now, a code the report must contain or None for a clean report)
CASES: List[Tuple[str, Optional[Callable[[Repo], object]], str, Optional[str], Optional[str]]] = [
    ("quickstart", None, "prd", None, None),
    ("no-store", lambda r: r.store_path.unlink(), "prd", None, "store-missing"),
    ("pki-missing", append_service("ghost: {pki: nowhere, scope: global}"), "prd", None, "service-pki-missing"),
    ("pki-root-only", append_service("ghost: {pki: daemon-ca, scope: global}"), "prd", None, "service-pki-root-only"),
    (
        "region-unknown",
        append_service("ghost: {pki: wardnet-mesh, scope: regional, regions: [ap-south-1]}"),
        "prd",
        None,
        "service-region-unknown",
    ),
    ("scope-missing", append_service("ghost: {pki: wardnet-mesh}"), "prd", None, "service-scope-missing"),
    ("store-not-yaml", lambda r: r.store_path.write_text("pkis: [unclosed\n"), "prd", None, "store-invalid"),
    ("store-unknown-field", lambda r: r.store_path.write_text(r.store_path.read_text() + "surprise: 1\n"), "prd", None, "store-invalid"),
    ("trust-domain", replace_text("inforge.yaml", "baseDomain: wardnet.example", "baseDomain: Wardnet.Example"), "prd", None, "trust-domain-invalid"),
    ("region-global", replace_text("regions.yaml", "regions: [us-east-1, eu-west-1]", "regions: [us-east-1, global]"), "prd", None, "name-reserved"),
    ("forged-tier", swap_global_intermediate, "prd", None, None),
    ("env-unknown", None, "stg", None, "environment-unknown"),
    ("late", None, "prd", "2028-10-01T00:00:00Z", None),
    ("after-root", None, "prd", "2037-01-01T00:00:00Z", None),
]


def store_invalid_code(codes: List[str]) -> bool:
    return any(c.startswith("store-") or c == "config-invalid" for c in codes)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_validate_gives_the_cli_diagnostics(repo: Repo, case: Tuple[str, Optional[Callable[[Repo], object]], str, Optional[str], Optional[str]]) -> None:
    name, mutate, env, now_text, expected = case
    if mutate:
        mutate(repo)
    repo.now = now_text or NOW_TEXT
    cli = repo.cmd("validate", env, "--json")
    doc = cli_json(cli)
    now = datetime.fromisoformat((now_text or NOW_TEXT).replace("Z", "+00:00"))
    mine = inforge.validate(repo.dir, env, now=now)
    assert [(d.code, d.severity, d.subject, d.file, d.message) for d in mine] == [
        (d["code"], d["severity"], d["subject"], d["file"], d["message"]) for d in doc["diagnostics"]
    ]
    assert cli.code == (0 if doc["ok"] else 1)
    assert all(d.hint for d in mine)
    codes = [d.code for d in mine]
    if name == "quickstart":
        assert codes == []
    elif name in ("store-not-yaml", "store-unknown-field"):
        assert store_invalid_code(codes), codes
    elif name in ("forged-tier", "after-root"):
        assert any(d.severity == "error" for d in mine), codes
    elif expected:
        assert expected in codes, codes


def test_validate_hints_are_in_python_words(repo: Repo) -> None:
    repo.store_path.unlink()
    (d,) = inforge.validate(repo.dir, "prd", now=NOW)
    cli = cli_json(repo.cmd("validate", "prd", "--json"))["diagnostics"][0]
    assert d.code == cli["code"] == "store-missing"
    assert d.hint == cli["hint"] or "-C" not in d.hint


def test_validate_reads_inforge_now_when_now_is_omitted(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFORGE_NOW", "2037-01-01T00:00:00Z")
    late = inforge.validate(repo.dir, "prd")
    repo.now = "2037-01-01T00:00:00Z"
    assert late and [d.code for d in late] == [d["code"] for d in cli_json(repo.cmd("validate", "prd", "--json"))["diagnostics"]]


def sets(provider: Path) -> List[Tuple[str, str]]:
    return sorted((p.parent.parent.name, p.name) for p in provider.glob("*/mtls/*") if not p.name.startswith("."))


def test_renew_writes_the_provider_like_the_cli(make_repo: Callable[[], Repo]) -> None:
    a, b = make_repo(), make_repo()
    cli = a.run("pki", "renew", "prd", "--json").ok()
    report = inforge.renew(b.dir, "prd", secrets_key=b.ci, now=NOW)
    assert visible_layout(a.provider) == visible_layout(b.provider)
    assert hidden_entries(a.provider) == hidden_entries(b.provider)
    assert sets(b.provider) == [
        ("api", "global"),
        ("billing", "global"),
        ("web", "eu-west-1"),
        ("web", "us-east-1"),
        ("worker", "us-east-1"),
    ]
    for service, scope in sets(a.provider):
        da, db = a.provider / service / "mtls" / scope, b.provider / service / "mtls" / scope
        assert (da / "bundle.pem").read_bytes() == (db / "bundle.pem").read_bytes()
        # cert.pem = leaf + the same chain; the leaves themselves are fresh
        chain_a = (da / "cert.pem").read_text().split("-----END CERTIFICATE-----\n", 1)
        chain_b = (db / "cert.pem").read_text().split("-----END CERTIFICATE-----\n", 1)
        assert chain_a[1] == chain_b[1] and chain_a[0] != chain_b[0]
        assert (db / "key.pem").stat().st_mode & 0o777 == 0o600
        assert (b.provider / service / "mtls" / scope).is_symlink()
    # the report: the CLI's --json document, but for serials, paths and timing
    ours, theirs = json.loads(report.to_json()), cli_json(cli)
    for doc, base in ((ours, str(b.base)), (theirs, str(a.base))):
        doc.pop("elapsedMs")
        doc["provider"]["path"] = doc["provider"]["path"].replace(base, "<base>")
        for leaf in doc["leaves"]:
            leaf.pop("serial")
            leaf["dir"] = leaf["dir"].replace(base, "<base>")
    assert ours == theirs
    assert report.services == 4 and report.env == "prd" and report.provider.kind == "dir"
    assert sorted((leaf.service, leaf.scope) for leaf in report.leaves) == sets(b.provider)
    assert all(leaf.not_after.tzinfo is not None and leaf.not_after.utcoffset().total_seconds() == 0 for leaf in report.leaves)  # type: ignore[union-attr]


def test_renew_replaces_sets_like_the_cli(make_repo: Callable[[], Repo]) -> None:
    """Repeated renews keep exactly the current and the previous generation, like the CLI's;
    CLI and Python renews take turns on one provider."""
    a, b = make_repo(), make_repo()
    for _ in range(3):
        a.run("pki", "renew", "prd").ok()
        inforge.renew(b.dir, "prd", secrets_key=b.ci, now=NOW)
    assert hidden_entries(a.provider) == hidden_entries(b.provider)
    assert visible_layout(a.provider) == visible_layout(b.provider)
    before = (b.provider / "api/mtls/global/cert.pem").read_bytes()
    b.run("pki", "renew", "prd").ok()
    assert (b.provider / "api/mtls/global/cert.pem").read_bytes() != before
    inforge.renew(b.dir, "prd", secrets_key=b.ci, now=NOW)
    assert hidden_entries(a.provider) == hidden_entries(b.provider)


def test_renew_one_service_like_the_cli(make_repo: Callable[[], Repo]) -> None:
    a, b = make_repo(), make_repo()
    a.run("pki", "renew", "prd", "--service", "web").ok()
    report = inforge.renew(b.dir, "prd", secrets_key=b.ci, service="web", now=NOW)
    assert visible_layout(a.provider) == visible_layout(b.provider)
    assert sets(b.provider) == [("web", "eu-west-1"), ("web", "us-east-1")]
    assert report.services == 1 and len(report.leaves) == 2


def test_renew_takes_identities_and_time_from_the_environment(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFORGE_SECRETS_KEY_FILE", str(repo.ci_file))
    monkeypatch.setenv("INFORGE_NOW", "2027-01-05T08:30:00Z")
    report = inforge.renew(repo.dir, "prd", service="api")
    (leaf,) = report.leaves
    assert leaf.not_after == datetime(2027, 4, 5, 8, 30, tzinfo=timezone.utc)
    monkeypatch.delenv("INFORGE_SECRETS_KEY_FILE")
    monkeypatch.setenv("INFORGE_SECRETS_KEY", repo.ci)
    assert len(inforge.renew(repo.dir, "prd").leaves) == 5


def test_relative_repo_paths_work_like_the_cli(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo.dir)
    report = inforge.renew(".", "prd", secrets_key=repo.ci, service="api", now=NOW)
    assert report.provider.path == "../provider-prd"
    assert report.leaves[0].dir == "../provider-prd/api/mtls/global"
    assert [d.code for d in inforge.validate(Path("."), "prd", now=NOW)] == []


BUNDLES = [
    ("wardnet-mesh", {"scope": "global"}, ["--scope", "global"]),
    ("wardnet-mesh", {"scope": "us-east-1"}, ["--scope", "us-east-1"]),
    ("wardnet-mesh", {"scope": "eu-west-1"}, ["--scope", "eu-west-1"]),
    ("wardnet-mesh", {"roots": True}, ["--roots"]),
    ("daemon-ca", {"roots": True}, ["--roots"]),
]


def check_bundles(r: Repo) -> None:
    for pki, kw, args in BUNDLES:
        cli = r.cmd("pki", "bundle", "prd", pki, *args).ok()
        ours = inforge.bundle(r.dir, "prd", pki, **kw)  # type: ignore[arg-type]
        assert ours.encode() == cli.stdout_bytes, (pki, kw)


def test_bundles_are_byte_equal_to_the_cli(template: Repo) -> None:
    check_bundles(template)
    assert inforge.bundle(template.dir, "prd", "wardnet-mesh", scope="global").count("BEGIN CERTIFICATE") == 3
    assert inforge.bundle(template.dir, "prd", "wardnet-mesh", scope="us-east-1").count("BEGIN CERTIFICATE") == 2


def test_bundles_during_rotations_are_byte_equal_to_the_cli(repo: Repo) -> None:
    """Previous intermediates (a planned roll), both roots (a root overlap) and a revoked
    intermediate (recovery) reach the Python bundles exactly as the CLI's."""
    repo.run("pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "us-east-1").ok()
    check_bundles(repo)
    assert inforge.bundle(repo.dir, "prd", "wardnet-mesh", scope="us-east-1").count("BEGIN CERTIFICATE") == 3
    repo.run("pki", "rotate", "prd", "wardnet-mesh", "--root").ok()
    check_bundles(repo)
    assert inforge.bundle(repo.dir, "prd", "wardnet-mesh", roots=True).count("BEGIN CERTIFICATE") == 2
    repo.run("pki", "recover-intermediate", "prd", "wardnet-mesh", "eu-west-1").ok()
    check_bundles(repo)


def test_partial_mesh_bundle_error_matches_the_cli(partial_template: Repo) -> None:
    with pytest.raises(inforge.MeshError) as e:
        inforge.bundle(partial_template.dir, "prd", "wardnet-mesh", scope="eu-west-1")
    assert e.value.code == partial_template.cmd("pki", "bundle", "prd", "wardnet-mesh", "--scope", "eu-west-1").error_code()


def parity_rows() -> List[List[str]]:
    """The rows of docs/python.md's parity table, as cells."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "python.md").read_text()
    table = doc.split("<!-- parity-table -->")[1].split("<!-- /parity-table -->")[0]
    rows = [line.strip().strip("|").split(" | ") for line in table.strip().splitlines()[2:]]
    assert len(rows) >= 10 and all(len(r) == 4 for r in rows), rows
    return rows


def test_the_parity_table_names_only_what_the_module_has() -> None:
    """Every Python name docs/python.md promises is in the module, and every public function of
    the module is in the table (so the table cannot fall behind either way)."""
    import re

    promised = set()
    for op, _cli, py, _js in parity_rows():
        for name in re.findall(r"`([a-z_]+)\(", py):
            assert callable(getattr(inforge, name, None)), f"{op}: inforge.{name} does not exist"
            promised.add(name)
    functions = {n for n in inforge.__all__ if callable(getattr(inforge, n)) and n[0].islower()}
    assert functions <= promised, f"not in the parity table: {sorted(functions - promised)}"

"""The inspector's views from Python (docs/python.md's parity table): check_leaf and
trust_matrix on a repo, review_stores on two store versions, each the same core function as
the npm package and the CLI (checked against `inforge store diff --json`)."""

from __future__ import annotations

from pathlib import Path

import inforge
import pytest

from support import NOW, Repo, cli_json


def test_check_leaf_trusts_a_renewed_leaf_in_its_scope_only(renewed: Repo) -> None:
    chain = (renewed.provider / "web" / "mtls" / "us-east-1" / "cert.pem").read_text()
    ok = inforge.check_leaf(renewed.dir, "prd", chain, now=NOW)
    assert ok["ok"] and ok["scope"] == "us-east-1" and ok["leaf"]["role"] == "leaf"
    assert ok["spiffeId"] == "spiffe://wardnet.example/prd/us-east-1/web"
    cross = inforge.check_leaf(renewed.dir, "prd", chain.encode(), scope="eu-west-1", now=NOW)
    assert not cross["ok"]
    assert [c["check"] for c in cross["checks"] if not c["ok"]] == ["issued-by-bundle"]
    with pytest.raises(inforge.PkiError) as e:
        inforge.check_leaf(renewed.dir, "prd", chain, scope="mars-1", now=NOW)
    assert e.value.code == "scope-unknown"


def test_trust_matrix_follows_the_bundles(repo: Repo) -> None:
    m = inforge.trust_matrix(repo.dir, "prd")
    assert m["scopes"] == ["global", "us-east-1", "eu-west-1"]
    rows = {r["scope"]: {c["scope"]: c["trusted"] for c in r["cells"]} for r in m["pkis"][0]["rows"]}
    assert rows["us-east-1"] == {"global": True, "us-east-1": True, "eu-west-1": False}
    assert all(rows["global"].values())


def test_review_stores_is_the_cli_s_store_diff(repo: Repo, tmp_path: Path) -> None:
    before = repo.store_path.read_text()
    repo.run("pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "us-east-1").ok()
    after = repo.store_path.read_text()
    (tmp_path / "before.yaml").write_text(before)
    review = inforge.review_stores(before, after.encode(), env="prd")
    cli = cli_json(repo.cmd("store", "diff", str(tmp_path / "before.yaml"), str(repo.store_path), "--env", "prd", "--json"))
    assert review == cli
    assert [c["kind"] for c in review["changes"]] == ["intermediate-rotated"]
    assert review["next"][0]["step"] == {"op": "renew", "env": "prd", "pki": "wardnet-mesh", "scope": None}

"""The SPIFFE bundle JWKS (`bundle(format="spiffe")`, `Leaf.spiffe_bundle_json`, the CLI's
`pki bundle --format spiffe`) as other implementations read it: py-spiffe parses the x5c
certificates as an X.509 bundle (py-spiffe 0.3 has no JWKS reader for X.509 bundles), PyJWT
parses the JWKS as RFC 7517 keys, and pyca checks each key against its certificate."""

from __future__ import annotations

import base64
import json
from typing import Optional

import inforge
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt import PyJWKSet
from spiffe import TrustDomain, X509Bundle

from support import NOW, Repo

TD = TrustDomain("wardnet.example")


def check(doc_text: str, pem_text: str) -> int:
    """Checks a JWKS against the PEM bundle it stands for; returns its spiffe_sequence."""
    doc = json.loads(doc_text)
    pem = x509.load_pem_x509_certificates(pem_text.encode())
    keys = doc["keys"]
    assert [k["use"] for k in keys] == ["x509-svid"] * len(pem)
    assert all(len(k["x5c"]) == 1 and "kid" not in k for k in keys)
    ders = [base64.b64decode(k["x5c"][0]) for k in keys]
    assert ders == [c.public_bytes(Encoding.DER) for c in pem]
    parsed = X509Bundle.parse_raw(TD, b"".join(ders))
    assert sorted(a.public_bytes(Encoding.DER) for a in parsed.x509_authorities) == sorted(ders)
    spki = lambda k: k.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)  # noqa: E731
    jwks = PyJWKSet.from_json(doc_text)
    assert [spki(j.key) for j in jwks.keys] == [spki(c.public_key()) for c in pem]
    assert doc["spiffe_refresh_hint"] == 3600
    seq = doc["spiffe_sequence"]
    assert isinstance(seq, int) and seq > 0
    return seq


def test_every_scope_and_the_roots_parse_as_spiffe_bundles(repo: Repo) -> None:
    for pki, scope in [("wardnet-mesh", "global"), ("wardnet-mesh", "us-east-1"), ("wardnet-mesh", "eu-west-1"),
                       ("wardnet-mesh", None), ("daemon-ca", None)]:
        kw = {"scope": scope} if scope else {"roots": True}
        doc = inforge.bundle(repo.dir, "prd", pki, format="spiffe", **kw)  # type: ignore[arg-type]
        check(doc, inforge.bundle(repo.dir, "prd", pki, **kw))  # type: ignore[arg-type]
        flag = ["--scope", scope] if scope else ["--roots"]
        assert repo.cmd("pki", "bundle", "prd", pki, *flag, "--format", "spiffe").ok().stdout == doc


def test_the_sequence_stays_for_an_unchanged_bundle_and_grows_after_a_rotation(repo: Repo) -> None:
    def seq(scope: Optional[str]) -> int:
        kw = {"scope": scope} if scope else {"roots": True}
        return check(
            inforge.bundle(repo.dir, "prd", "wardnet-mesh", format="spiffe", **kw),  # type: ignore[arg-type]
            inforge.bundle(repo.dir, "prd", "wardnet-mesh", **kw),  # type: ignore[arg-type]
        )

    before = {s: seq(s) for s in ["global", "us-east-1", "eu-west-1", None]}
    assert {s: seq(s) for s in before} == before
    repo.now = "2026-11-29T12:00:00Z"
    repo.run("pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "us-east-1").ok()
    after = {s: seq(s) for s in before}
    assert after["us-east-1"] > before["us-east-1"] and after["global"] > before["global"]
    assert after["eu-west-1"] == before["eu-west-1"] and after[None] == before[None]


def test_a_minted_leaf_carries_its_scopes_spiffe_bundle(repo: Repo) -> None:
    (leaf,) = inforge.mint(repo.dir, "prd", "worker", secrets_key=repo.ci, now=NOW)
    assert leaf.spiffe_bundle_json == inforge.bundle(repo.dir, "prd", "wardnet-mesh", scope="us-east-1", format="spiffe")
    check(leaf.spiffe_bundle_json, leaf.bundle_pem)

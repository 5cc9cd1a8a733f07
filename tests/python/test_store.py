"""load_store(): PKIs, tiers and certificate details as Python objects, checked against the
CLI's `pki ls --json` and against the `cryptography` package's reading of the same PEMs."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import inforge
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from support import NOW_TEXT, Repo, cli_json, replace_pem


def check_cert(c: inforge.Certificate) -> None:
    """A Certificate's details are what pyca reads from its PEM."""
    ref = x509.load_pem_x509_certificate(c.pem.encode())
    assert c.fingerprint == hashlib.sha256(ref.public_bytes(serialization.Encoding.DER)).hexdigest()
    assert int(c.serial, 16) == ref.serial_number
    assert c.not_before == ref.not_valid_before_utc and c.not_after == ref.not_valid_after_utc
    for t in (c.not_before, c.not_after):
        assert t.tzinfo is not None and t.utcoffset() == timedelta(0)
    assert c.subject == ref.subject.rfc4514_string() and c.issuer == ref.issuer.rfc4514_string()
    assert c.is_ca == ref.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    key = ref.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    assert c.algorithm == "ecdsa-p256"


def test_load_store_from_path_pathlike_and_text(template: Repo) -> None:
    by_str = inforge.load_store(str(template.store_path))
    by_path = inforge.load_store(template.store_path)
    by_text = inforge.load_store(template.store_path.read_text())
    for s in (by_path, by_text):
        assert s.pkis.keys() == by_str.pkis.keys()
        for name, p in s.pkis.items():
            assert p.root.fingerprint == by_str.pkis[name].root.fingerprint
            assert p.tiers == by_str.pkis[name].tiers
    assert by_str.version == 2 and by_str.recipient == template.ci_recipient
    assert by_str.root_recipient.startswith("age1") and by_str.root_recipient != by_str.recipient


def test_store_matches_the_cli_listing(template: Repo) -> None:
    store = inforge.load_store(template.store_path)
    listing = cli_json(template.cmd("pki", "ls", "prd", "--json"))
    assert sorted(store.pkis) == [p["name"] for p in listing["pkis"]]
    for doc in listing["pkis"]:
        p = store.pkis[doc["name"]]
        assert p.name == doc["name"] and p.topology == doc["topology"] and p.algorithm == doc["algorithm"]
        assert p.tiers == doc["tiers"]
        assert p.root.fingerprint == doc["root"]["fingerprint"] and p.root.subject == doc["root"]["subject"]
        assert p.root.not_after == datetime.fromisoformat(doc["root"]["notAfter"].replace("Z", "+00:00"))
        assert {s: c.fingerprint for s, c in p.intermediates.items()} == {
            s: c["fingerprint"] for s, c in doc["intermediates"].items()
        }
        assert p.previous_roots == [] and p.previous_intermediates == {} and p.revoked == []
        assert p.root_overlap_started is None


def test_certificate_details_match_cryptography(template: Repo) -> None:
    store = inforge.load_store(template.store_path)
    mesh, daemon = store.pkis["wardnet-mesh"], store.pkis["daemon-ca"]
    assert mesh.topology == "two-tier" and daemon.topology == "root-only" and daemon.intermediates == {}
    assert sorted(mesh.intermediates) == ["eu-west-1", "global", "us-east-1"]
    for c in [mesh.root, daemon.root, *mesh.intermediates.values()]:
        check_cert(c)
        assert c.is_ca
    for scope, c in mesh.intermediates.items():
        assert c.issuer == mesh.root.subject and scope in c.subject


def test_store_objects_hold_no_key_material(template: Repo) -> None:
    store = inforge.load_store(template.store_path)
    seen = json.dumps(
        [
            [getattr(c, a) for a in ("subject", "issuer", "pem", "serial", "fingerprint")]
            for p in store.pkis.values()
            for c in [p.root, *p.intermediates.values()]
        ]
    ) + repr(store) + repr(list(store.pkis.values()))
    assert "AGE ENCRYPTED" not in seen and "PRIVATE KEY" not in seen


def test_overlap_and_revocation_reach_python(repo: Repo) -> None:
    repo.run("pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "global").ok()
    repo.run("pki", "rotate", "prd", "wardnet-mesh", "--root").ok()
    repo.run("pki", "recover-intermediate", "prd", "wardnet-mesh", "us-east-1").ok()
    store = inforge.load_store(repo.store_path)
    mesh = store.pkis["wardnet-mesh"]
    listing = {p["name"]: p for p in cli_json(repo.cmd("pki", "ls", "prd", "--json"))["pkis"]}["wardnet-mesh"]
    assert [c.fingerprint for c in mesh.previous_roots] == [c["fingerprint"] for c in listing["overlap"]["previousRoots"]]
    assert len(mesh.previous_roots) == 1 and mesh.previous_roots[0].not_after > mesh.root.not_before
    assert {s: [c.fingerprint for c in v] for s, v in mesh.previous_intermediates.items()} == {
        s: [c["fingerprint"] for c in v] for s, v in listing["overlap"]["previousIntermediates"].items()
    }
    started = mesh.root_overlap_started
    assert started is not None and started == datetime(2026, 11, 22, 12, tzinfo=timezone.utc)
    assert [r.fingerprint for r in mesh.revoked] == [r["fingerprint"] for r in listing["revoked"]]
    assert mesh.revoked and all(r.scope == "us-east-1" for r in mesh.revoked)
    assert all(r.revoked_at == datetime(2026, 11, 22, 12, tzinfo=timezone.utc) for r in mesh.revoked)
    for c in [*mesh.previous_roots, *(c for v in mesh.previous_intermediates.values() for c in v)]:
        check_cert(c)


def test_list_store_still_gives_the_ls_document(template: Repo) -> None:
    doc = inforge.list_store(template.store_path.read_text(), "prd", NOW_TEXT)
    assert isinstance(doc, dict)
    assert doc == cli_json(template.cmd("pki", "ls", "prd", "--json"))


def test_custody_gives_the_cli_custody_document(template: Repo) -> None:
    doc = inforge.custody(template.store_path.read_text(), "prd")
    assert isinstance(doc, dict)
    cli = cli_json(template.cmd("pki", "custody", "prd", "--json"))
    assert doc == cli
    assert doc["root"]["seals"] == ["pkis.wardnet-mesh.root.key"]
    assert "pkis.daemon-ca.root.key" in doc["ci"]["seals"]
    with pytest.raises(inforge.Error) as e:
        inforge.custody(template.store_path.read_text(), "../prd")
    assert e.value.code == "name-invalid"


def test_reprs_are_python_like(template: Repo) -> None:
    store = inforge.load_store(Path(template.store_path))
    assert repr(store) == "Store(version=2, pkis=['daemon-ca', 'wardnet-mesh'])"
    assert repr(store.pkis["daemon-ca"]).startswith("Pki(name='daemon-ca', topology='root-only', tiers=['root'])")


def test_load_store_text_takes_str_or_bytes_and_load_store_never_guesses_yaml_as_a_path(template: Repo, tmp_path: Path) -> None:
    by_path = inforge.load_store(template.store_path)
    raw = template.store_path.read_bytes()
    for s in (inforge.load_store_text(raw.decode()), inforge.load_store_text(raw)):
        assert {n: p.root.fingerprint for n, p in s.pkis.items()} == {n: p.root.fingerprint for n, p in by_path.pkis.items()}
    # Text handed to load_store by mistake: said so, not "no such file, check it is writable".
    with pytest.raises(ValueError, match="load_store_text"):
        inforge.load_store("version: 1")
    with pytest.raises(TypeError, match="load_store_text"):
        inforge.load_store(raw)  # type: ignore[arg-type]
    with pytest.raises(inforge.IoError) as e:
        inforge.load_store_text(b"\xff\xfe")
    assert e.value.code == "file-not-utf8"
    missing = tmp_path / "nope.enc.yaml"
    with pytest.raises(inforge.IoError) as e:
        inforge.load_store(missing)
    assert "nothing exists at" in e.value.hint and "read" in e.value.hint and "writable" not in e.value.hint


def test_one_bad_certificate_is_named_and_the_rest_loads(template: Repo) -> None:
    """As the npm package and the inspector do: a certificate that does not parse is listed
    where it sits, and the rest of the store still loads."""
    text = template.store_path.read_text()
    store = inforge.load_store_text(text)
    mesh = store.pkis["wardnet-mesh"]
    broken = "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n"
    bad_intermediate = replace_pem(text, mesh.intermediates["us-east-1"].pem, broken)
    partial = inforge.load_store_text(bad_intermediate)
    m = partial.pkis["wardnet-mesh"]
    assert [u.location for u in m.unreadable] == ["pkis.wardnet-mesh.intermediates.us-east-1.cert"]
    assert m.unreadable[0].code == "cert-invalid"
    assert sorted(m.intermediates) == ["eu-west-1", "global"] and "intermediate:us-east-1" in m.tiers
    assert "daemon-ca" in partial.pkis and partial.unreadable == []
    bad_root = replace_pem(text, mesh.root.pem, broken)
    rootless = inforge.load_store_text(bad_root)
    assert "wardnet-mesh" not in rootless.pkis and "daemon-ca" in rootless.pkis
    assert [u.location for u in rootless.unreadable] == ["pkis.wardnet-mesh.root.cert"]


def test_list_store_takes_datetimes_bytes_and_the_clock(template: Repo) -> None:
    text = template.store_path.read_text()
    at = datetime(2026, 11, 22, 12, 0, 0, tzinfo=timezone.utc)
    by_text = inforge.list_store(text, "prd", NOW_TEXT)
    assert inforge.list_store(text.encode(), "prd", at) == by_text
    now_doc = inforge.list_store(text, "prd")
    assert [p["name"] for p in now_doc["pkis"]] == [p["name"] for p in by_text["pkis"]]
    with pytest.raises(ValueError):
        inforge.list_store(text, "prd", datetime(2026, 11, 22))  # naive: ambiguous


def test_certificates_count_their_days_left_as_pki_ls_does(template: Repo) -> None:
    store = inforge.load_store(template.store_path)
    listing = cli_json(template.cmd("pki", "ls", "prd", "--json"))
    at = datetime.fromisoformat(listing["now"].replace("Z", "+00:00"))
    for doc in listing["pkis"]:
        assert store.pkis[doc["name"]].root.days_left(at) == doc["root"]["daysLeft"]
    root = store.pkis["wardnet-mesh"].root
    assert root.days_left(root.not_after - timedelta(days=3, hours=1)) == 3
    assert root.days_left() >= 0

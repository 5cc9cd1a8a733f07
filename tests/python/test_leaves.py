"""Independent checks with the `cryptography` package: leaves from renew() and mint() chain
to their bundles under pyca's RFC 5280 verifier, are signed by their intermediate, carry the
SPIFFE ID, and their keys match."""

from __future__ import annotations

from datetime import timedelta

import inforge
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from support import NOW, Repo, snapshot, verify_set


def spiffe_ids(leaf: x509.Certificate) -> list:
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.UniformResourceIdentifier)


def check_profile(leaf: x509.Certificate, spiffe_id: str) -> None:
    assert spiffe_ids(leaf) == [spiffe_id]
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature


def test_renewed_leaves_verify_against_their_bundles(repo: Repo) -> None:
    report = inforge.renew(repo.dir, "prd", secrets_key=repo.ci, now=NOW)
    assert len(report.leaves) == 5
    for entry in report.leaves:
        d = repo.provider / entry.service / "mtls" / entry.scope
        leaf = verify_set(
            (d / "cert.pem").read_text(), (d / "key.pem").read_text(), (d / "bundle.pem").read_text(), NOW
        )
        check_profile(leaf, entry.spiffe_id)
        assert format(leaf.serial_number, "x") == entry.serial.lstrip("0")
        assert leaf.not_valid_after_utc == entry.not_after


def test_minted_leaves_verify_and_match_their_keys(repo: Repo) -> None:
    before = (snapshot(repo.dir), snapshot(repo.provider))
    leaves = inforge.mint(repo.dir, "prd", "web", secrets_key=repo.ci, now=NOW)
    assert (snapshot(repo.dir), snapshot(repo.provider)) == before, "mint() wrote something"
    assert sorted(l.scope for l in leaves) == ["eu-west-1", "us-east-1"]
    for l in leaves:
        leaf = verify_set(l.cert_pem, l.key_pem, l.bundle_pem, NOW)
        check_profile(leaf, l.spiffe_id)
        assert l.spiffe_id == f"spiffe://wardnet.example/prd/{l.scope}/web"
        assert l.service == "web" and l.pki == "wardnet-mesh"
        assert l.not_before == NOW - timedelta(minutes=5) and l.not_after == NOW + timedelta(days=90)  # backdated for skew
        assert l.not_before.utcoffset() == timedelta(0)
        assert leaf.not_valid_before_utc == l.not_before and leaf.not_valid_after_utc == l.not_after
        assert l.certificate.serial == l.serial and l.certificate.uri_sans == [l.spiffe_id]
        assert l.bundle_pem == inforge.bundle(repo.dir, "prd", "wardnet-mesh", scope=l.scope)
        assert "PRIVATE KEY" not in repr(l) and l.key_pem.startswith("-----BEGIN PRIVATE KEY-----")


def test_minted_leaves_carry_crls_that_pyca_verifies_against_the_bundle(repo: Repo) -> None:
    # The root's CRL, then one per current intermediate the bundle trusts, each signed by its
    # issuer (checked by pyca, not by inforge), none listing anything yet.
    (l,) = inforge.mint(repo.dir, "prd", "worker", secrets_key=repo.ci, now=NOW)
    blocks = [b + "-----END X509 CRL-----\n" for b in l.crl_pem.split("-----END X509 CRL-----\n") if b.strip()]
    roots = inforge.bundle(repo.dir, "prd", "wardnet-mesh", roots=True)
    bundle = x509.load_pem_x509_certificates((l.bundle_pem + roots).encode())
    assert len(blocks) == 3, "the root, us-east-1 and global"
    for b in blocks:
        crl = x509.load_pem_x509_crl(b.encode())
        (issuer,) = [c for c in bundle if c.subject == crl.issuer]
        assert crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
        assert len(crl) == 0 and crl.next_update_utc is not None and crl.next_update_utc > NOW


def test_minted_leaves_carry_dns_names_and_are_fresh(repo: Repo) -> None:
    (a,) = inforge.mint(repo.dir, "prd", "api", secrets_key=repo.ci, now=NOW)
    (b,) = inforge.mint(repo.dir, "prd", "api", secrets_key=repo.ci, now=NOW)
    assert a.scope == "global" and a.certificate.dns_sans == ["api.internal"]
    assert a.serial != b.serial and a.key_pem != b.key_pem
    verify_set(a.cert_pem, a.key_pem, a.bundle_pem, NOW)


def test_a_leaf_does_not_verify_outside_its_validity(repo: Repo) -> None:
    (l,) = inforge.mint(repo.dir, "prd", "worker", secrets_key=repo.ci, now=NOW)
    verify_set(l.cert_pem, l.key_pem, l.bundle_pem, NOW + timedelta(days=89))
    with pytest.raises(x509.verification.VerificationError):
        verify_set(l.cert_pem, l.key_pem, l.bundle_pem, NOW + timedelta(days=91))


def test_mint_with_other_algorithms(repo: Repo) -> None:
    """A P-384 mesh: leaves verify under pyca too (pyca refuses Ed25519 chains by design, so
    Ed25519 is checked with verify_directly_issued_by only)."""
    repo.write(
        "inforge.yaml",
        repo.read("inforge.yaml") + "  p384svc: {pki: mesh384, scope: global}\n  edsvc: {pki: mesh25519, scope: global}\n",
    )
    repo.run("pki", "add", "prd", "mesh384", "--topology", "two-tier", "--algorithm", "ecdsa-p384").ok()
    repo.run("pki", "add", "prd", "mesh25519", "--topology", "two-tier", "--algorithm", "ed25519").ok()
    repo.run("pki", "intermediate", "prd", "mesh384", "global").ok()
    repo.run("pki", "intermediate", "prd", "mesh25519", "global").ok()
    (l,) = inforge.mint(repo.dir, "prd", "p384svc", secrets_key=repo.ci, now=NOW)
    verify_set(l.cert_pem, l.key_pem, l.bundle_pem, NOW)
    assert l.certificate.algorithm == "ecdsa-p384"
    (e,) = inforge.mint(repo.dir, "prd", "edsvc", secrets_key=repo.ci, now=NOW)
    assert e.certificate.algorithm == "ed25519"
    leaf, intermediate = x509.load_pem_x509_certificates(e.cert_pem.encode())
    assert intermediate in x509.load_pem_x509_certificates(e.bundle_pem.encode())
    leaf.verify_directly_issued_by(intermediate)


def test_a_leaf_cut_short_by_its_intermediate_says_so(repo: Repo) -> None:
    """Close to the intermediate's end, a 90-day leaf cannot fit: mint and renew mark it and
    warn, naming the roll that fixes it (a newcomer once minted 32-day leaves in silence)."""
    (full,) = inforge.mint(repo.dir, "prd", "api", secrets_key=repo.ci, now=NOW)
    assert not full.capped
    intermediate = x509.load_pem_x509_certificates(full.cert_pem.encode())[1]
    late = intermediate.not_valid_after_utc - timedelta(days=30)
    with pytest.warns(UserWarning, match=r"ends with its intermediate .*\(inforge pki rotate prd wardnet-mesh --intermediate global\)"):
        (short,) = inforge.mint(repo.dir, "prd", "api", secrets_key=repo.ci, now=late)
    assert short.capped
    assert short.not_after == intermediate.not_valid_after_utc
    with pytest.warns(UserWarning, match="ends with its intermediate"):
        report = inforge.renew(repo.dir, "prd", secrets_key=repo.ci, now=late)
    assert all(l.capped for l in report.leaves)

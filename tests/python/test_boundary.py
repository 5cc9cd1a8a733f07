"""The regional boundary: authorize() gives the SPEC's matrix, and together with trust (a
callee's bundle accepting the caller's leaf, checked by pyca) yields intra-region ✅,
region→global ✅, global→global ✅, cross-region ❌ by trust, global→region ❌ by authorization."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Tuple

import inforge
import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from support import NOW, Repo


def sid(scope: str, service: str, env: str = "prd", domain: str = "wardnet.example") -> str:
    return f"spiffe://{domain}/{env}/{scope}/{service}"


MATRIX = [
    # caller, callee, allowed, a word the reason carries
    (sid("us-east-1", "web"), sid("us-east-1", "worker"), True, "us-east-1 → us-east-1"),
    (sid("us-east-1", "web"), sid("global", "api"), True, "us-east-1 → global"),
    (sid("global", "api"), sid("global", "billing"), True, "global → global"),
    (sid("us-east-1", "web"), sid("eu-west-1", "web"), False, "cross-region"),
    (sid("eu-west-1", "web"), sid("us-east-1", "worker"), False, "cross-region"),
    (sid("global", "api"), sid("us-east-1", "web"), False, "global→region"),
    (sid("us-east-1", "web", env="stg"), sid("us-east-1", "worker"), False, "different trust domains or environments"),
    (sid("global", "api", domain="other.example"), sid("global", "api"), False, "different trust domains"),
]


@pytest.mark.parametrize("caller,callee,allowed,reason", MATRIX)
def test_authorize_matrix(caller: str, callee: str, allowed: bool, reason: str) -> None:
    d = inforge.authorize(caller, callee)
    assert d.allowed is allowed
    assert reason in d.reason
    assert repr(d).startswith(f"Decision(allowed={allowed}")


@pytest.mark.parametrize(
    "bad",
    [
        "https://wardnet.example/prd/global/api",
        "spiffe://wardnet.example/prd/api",
        "spiffe://Wardnet.example/prd/global/api",
        "spiffe://wardnet.example/prd/global/api/extra",
        "spiffe://wardnet.example/prd/../api",
        "",
    ],
)
def test_authorize_refuses_malformed_ids(bad: str) -> None:
    for args in ((bad, sid("global", "api")), (sid("global", "api"), bad)):
        with pytest.raises(inforge.MeshError) as e:
            inforge.authorize(*args)
        assert e.value.code == "spiffe-id-invalid" and e.value.hint


def trusts(callee_bundle: str, caller_cert_pem: str) -> bool:
    """Whether a callee holding `callee_bundle` accepts the caller's client certificate."""
    chain = x509.load_pem_x509_certificates(caller_cert_pem.encode())
    verifier = PolicyBuilder().store(Store(x509.load_pem_x509_certificates(callee_bundle.encode()))).time(NOW)
    try:
        verifier.build_client_verifier().verify(chain[0], chain[1:])
        return True
    except VerificationError:
        return False


def test_the_boundary_by_trust_and_by_authorization(repo: Repo) -> None:
    leaves: Dict[Tuple[str, str], inforge.Leaf] = {}
    for service in ("api", "billing", "web", "worker"):
        for l in inforge.mint(repo.dir, "prd", service, secrets_key=repo.ci, now=NOW):
            leaves[(service, l.scope)] = l
    expected = {
        # (caller, callee): (handshake, authorized)
        (("web", "us-east-1"), ("worker", "us-east-1")): (True, True),  # intra-region
        (("web", "us-east-1"), ("api", "global")): (True, True),  # region→global
        (("api", "global"), ("billing", "global")): (True, True),  # global→global
        (("web", "us-east-1"), ("web", "eu-west-1")): (False, False),  # cross-region: by trust
        (("api", "global"), ("web", "us-east-1")): (True, False),  # global→region: by authorization
    }
    for (caller, callee), (handshake, authorized) in expected.items():
        a, b = leaves[caller], leaves[callee]
        assert trusts(b.bundle_pem, a.cert_pem) is handshake, (caller, callee)
        # the callee authorizes on the SPIFFE ID it read from the verified certificate
        cert = x509.load_pem_x509_certificate(a.cert_pem.encode())
        uri = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.UniformResourceIdentifier
        )[0]
        assert inforge.authorize(uri, b.spiffe_id).allowed is authorized, (caller, callee)


PEERS = Path(__file__).resolve().parents[1] / "corpus" / "peers"
PEER_CASES = json.loads((PEERS / "cases.json").read_text())


def peer_chain(spec: str) -> str:
    name = spec.removeprefix("LEAF_ONLY:")
    text = (PEERS / name).read_text()
    if spec.startswith("LEAF_ONLY:"):
        end = "-----END CERTIFICATE-----\n"
        text = text[: text.index(end) + len(end)]
    return text


@pytest.mark.parametrize("case", PEER_CASES, ids=[c["name"] for c in PEER_CASES])
def test_authorize_peer_answers_the_peer_corpus(case: Dict[str, Any]) -> None:
    """The same cases as the Rust core's and the WASM package's (tests/corpus/peers)."""
    chain = peer_chain(case["chain"])
    if "error" in case:
        with pytest.raises(inforge.MeshError) as e:
            inforge.authorize_peer(chain, case["callee"])
        assert e.value.code == case["error"]
        return
    d = inforge.authorize_peer(chain, case["callee"])
    assert d.allowed is case["allowed"], d.reason
    assert d.caller == case["caller"]


def test_the_forgery_passes_on_ids_and_is_caught_on_the_chain() -> None:
    forged = peer_chain("forged-global-by-us-east-1.pem")
    leaf = x509.load_pem_x509_certificate(forged.encode())
    claimed = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    uri = claimed.get_values_for_type(x509.UniformResourceIdentifier)[0]
    assert uri == sid("global", "api-twin")
    # pyca confirms the regional intermediate signed it.
    issuer = x509.load_pem_x509_certificate(forged.encode()[forged.encode().index(b"-----END CERTIFICATE-----") + 26 :])
    assert "us-east-1" in issuer.subject.rfc4514_string()
    leaf.verify_directly_issued_by(issuer)
    assert inforge.authorize(uri, sid("global", "api")).allowed
    d = inforge.authorize_peer(forged, sid("global", "api"))
    assert not d.allowed and d.caller is None and "us-east-1" in d.reason

"""The Python peer of benches/compare.sh: the same leaves inforge mints (same profile:
SPIFFE URI SAN, CA:false, digitalSignature, serverAuth+clientAuth, SKI/AKI, 90 days, P-256)
from the same intermediates, with the `cryptography` package, written as the same five files
of a set (cert.pem = leaf + intermediate, key.pem PKCS#8, bundle.pem, bundle.spiffe.json: the
bundle as a SPIFFE JWKS, crl.pem: the root's CRL from the store, then a CRL signed by each
intermediate of the bundle) in a plain loop. Like inforge, it signs each scope's CRLs and
builds its SPIFFE bundle once per run, and writes them into every set.

usage: peer_cryptography.py <work dir with peer/{r1,r2,global}.{pem,key}, peer/root-crl.pem> <services> <out dir>
"""
import base64
import datetime
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

work, services, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ca = {}
for scope in ("r1", "r2", "global"):
    with open(f"{work}/peer/{scope}.pem", "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    with open(f"{work}/peer/{scope}.key", "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    ca[scope] = (cert, key, cert.public_bytes(serialization.Encoding.PEM))
bundle = {s: ca[s][2] + ca["global"][2] for s in ("r1", "r2")}
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
with open(f"{work}/peer/root-crl.pem", "rb") as f:
    root_crl = f.read()


def b64url(n):
    return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()


def crl_of(scope):
    icert, ikey, _ = ca[scope]
    day = now.replace(hour=0, minute=0, second=0)
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(icert.subject)
        .last_update(day)
        .next_update(day + datetime.timedelta(days=7))
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                icert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            ),
            critical=False,
        )
        .add_extension(x509.CRLNumber(int(day.timestamp())), critical=False)
        .sign(ikey, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )


def jwks(scopes):
    keys = []
    for s in scopes:
        cert = ca[s][0]
        nums = cert.public_key().public_numbers()
        der = cert.public_bytes(serialization.Encoding.DER)
        keys.append(
            {"use": "x509-svid", "kty": "EC", "crv": "P-256", "x": b64url(nums.x), "y": b64url(nums.y),
             "x5c": [base64.b64encode(der).decode()]}
        )
    doc = {"keys": keys, "spiffe_sequence": int(now.timestamp()), "spiffe_refresh_hint": 3600}
    return (json.dumps(doc, indent=2) + "\n").encode()


crls = {s: root_crl + crl_of(s) + crl_of("global") for s in ("r1", "r2")}
spiffe = {s: jwks((s, "global")) for s in ("r1", "r2")}
for i in range(1, services + 1):
    for scope in ("r1", "r2"):
        icert, ikey, ipem = ca[scope]
        key = ec.generate_private_key(ec.SECP256R1())
        pub = key.public_key()
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"svc-{i}")]))
            .issuer_name(icert.subject)
            .public_key(pub)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
            )
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.UniformResourceIdentifier(f"spiffe://bench.example/prd/{scope}/svc-{i}")]
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                    icert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
                ),
                critical=False,
            )
            .sign(ikey, hashes.SHA256())
        )
        d = f"{out}/svc-{i}/mtls/{scope}"
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/cert.pem", "wb") as f:
            f.write(leaf.public_bytes(serialization.Encoding.PEM) + ipem)
        fd = os.open(f"{d}/key.pem", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(
                key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
        with open(f"{d}/bundle.pem", "wb") as f:
            f.write(bundle[scope])
        with open(f"{d}/bundle.spiffe.json", "wb") as f:
            f.write(spiffe[scope])
        with open(f"{d}/crl.pem", "wb") as f:
            f.write(crls[scope])

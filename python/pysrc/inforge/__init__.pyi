"""inforge for Python deploy scripts.

Validate an infra repo, renew the provider or mint a service's leaf at release time, build
trust bundles, inspect a PKI store, and apply the regional boundary. Every function is a thin
call into the same operations the ``inforge`` CLI runs: the same codes, the same checks, the
same provider writes.

Identities are never printed: pass the CI identity as ``secrets_key=`` or leave it to
``INFORGE_SECRETS_KEY`` / ``INFORGE_SECRETS_KEY_FILE``. ``now=`` takes a timezone-aware
``datetime``; when omitted, the clock (or ``INFORGE_NOW``) is used. Failures raise
:class:`Error` subclasses with ``.code`` and ``.hint``.
"""

import os
from datetime import datetime
from typing import Any, Dict, List, Literal, Optional, Union, final

__all__ = [
    "__version__",
    "Error",
    "InforgeError",
    "ConfigError",
    "StoreError",
    "CustodyError",
    "CertError",
    "PkiError",
    "MeshError",
    "TimeError",
    "ProviderError",
    "IoError",
    "Diagnostic",
    "Certificate",
    "Revoked",
    "Unreadable",
    "Pki",
    "Store",
    "Leaf",
    "ProviderInfo",
    "LeafReport",
    "RenewReport",
    "Decision",
    "validate",
    "renew",
    "status",
    "mint",
    "bundle",
    "load_store",
    "load_store_text",
    "authorize",
    "authorize_peer",
    "check_leaf",
    "trust_matrix",
    "review_stores",
    "list_store",
    "custody",
]

__version__: str
"""The version of the inforge build this module comes from."""

# ---------------------------------------------------------------------------------- errors

class Error(Exception):
    """Any inforge failure.

    ``code`` is the stable code the CLI prints as ``error[<code>]`` (docs/errors.md),
    ``message`` says what is wrong and ``hint`` what to do, in Python's words. Neither ever
    contains an identity or key material. ``str(error)`` is the message.
    """

    code: str
    """Stable, kebab-case code, the CLI's (e.g. ``identity-missing``)."""
    message: str
    """What is wrong."""
    hint: str
    """What to do about it, naming keyword arguments (``secrets_key=``, ``now=``) where the
    call has one."""

InforgeError = Error
"""The name the first version of the module used for :class:`Error`."""

class ConfigError(Error):
    """inforge.yaml, regions.yaml or the secret store is invalid, a name breaks the SPIFFE
    naming rules, an environment or service is unknown, or the directory is not an infra repo."""

class StoreError(Error):
    """The PKI store is not valid YAML, has an unknown field or a bad value, or is a newer
    format."""

class CustodyError(Error):
    """An identity is missing, invalid or the wrong one, a key does not decrypt or does not
    match its certificate, or a private key cannot be used."""

class CertError(Error):
    """A certificate in the store cannot be parsed, is not signed by its issuer, or cannot be
    issued."""

class PkiError(Error):
    """A PKI operation was refused: no store, an unknown or wrong-topology PKI, a tier that
    fails its checks, or a refused rotation."""

class MeshError(Error):
    """The mesh cannot be planned or a bundle built, or a SPIFFE ID is not one inforge mints."""

class TimeError(Error):
    """A time is not RFC 3339 or is outside the range certificates can express."""

class ProviderError(Error):
    """The environment's provider is missing, not a directory, of a kind this build cannot
    write, or busy with another writer."""

class IoError(Error):
    """Reading or writing a file failed, or a file is too large or not UTF-8 text."""

# --------------------------------------------------------------------------------- results

@final
class Diagnostic:
    """One finding of :func:`validate`, as ``inforge validate --json`` reports it."""

    @property
    def code(self) -> str:
        """Stable code, the CLI's (docs/validate.md lists them)."""
    @property
    def severity(self) -> Literal["error", "warning"]:
        """``"error"`` fails validation; ``"warning"`` does not."""
    @property
    def file(self) -> str:
        """The repo-relative file the finding is about."""
    @property
    def subject(self) -> str:
        """Dotted path of the thing inside the file, e.g. ``services.web``."""
    @property
    def message(self) -> str:
        """What is wrong."""
    @property
    def hint(self) -> str:
        """How to fix it, in Python's words."""

@final
class Certificate:
    """A certificate's details (public data only)."""

    @property
    def subject(self) -> str:
        """Subject distinguished name (RFC 4514 string)."""
    @property
    def issuer(self) -> str:
        """Issuer distinguished name (RFC 4514 string)."""
    @property
    def serial(self) -> str:
        """Serial number, lowercase hex."""
    @property
    def fingerprint(self) -> str:
        """SHA-256 fingerprint of the DER, lowercase hex (what a revocation records)."""
    @property
    def not_before(self) -> datetime:
        """Start of validity (timezone-aware, UTC)."""
    @property
    def not_after(self) -> datetime:
        """End of validity (timezone-aware, UTC)."""
    @property
    def algorithm(self) -> Optional[str]:
        """Key algorithm: ``"ecdsa-p256"``, ``"ecdsa-p384"``, ``"ed25519"``, or None."""
    @property
    def is_ca(self) -> bool:
        """Whether basic constraints mark it as a CA."""
    @property
    def uri_sans(self) -> List[str]:
        """URI subject alternative names (a leaf's SPIFFE ID)."""
    @property
    def dns_sans(self) -> List[str]:
        """DNS subject alternative names."""
    @property
    def pem(self) -> str:
        """The certificate as PEM."""
    def days_left(self, now: Optional[datetime] = None) -> int:
        """Whole days from ``now`` (aware ``datetime``; default the clock or ``INFORGE_NOW``) to
        ``not_after``, truncated toward zero, as ``inforge pki ls`` counts them."""

@final
class Revoked:
    """A certificate recorded as compromised: it never enters a bundle again."""

    @property
    def fingerprint(self) -> str:
        """SHA-256 fingerprint of the revoked certificate, lowercase hex."""
    @property
    def scope(self) -> str:
        """The scope it served."""
    @property
    def subject(self) -> str:
        """Its subject."""
    @property
    def revoked_at(self) -> datetime:
        """When it was revoked (timezone-aware, UTC)."""

@final
class Unreadable:
    """A certificate of the store that does not parse: named, not fatal (the rest still loads)."""

    @property
    def location(self) -> str:
        """Where it sits in the store (dotted path, e.g. ``pkis.wardnet-mesh.intermediates.us-east-1.cert``)."""
    @property
    def code(self) -> str:
        """The parser's code (e.g. ``cert-invalid``)."""
    @property
    def message(self) -> str:
        """What is wrong."""

@final
class Pki:
    """One PKI of a store: its topology, tiers and certificates."""

    @property
    def name(self) -> str:
        """The PKI's name."""
    @property
    def topology(self) -> Literal["two-tier", "root-only"]:
        """``"two-tier"`` (a mesh) or ``"root-only"`` (an online issuer's root)."""
    @property
    def algorithm(self) -> str:
        """Key algorithm of every tier: ``"ecdsa-p256"``, ``"ecdsa-p384"`` or ``"ed25519"``."""
    @property
    def tiers(self) -> List[str]:
        """Tiers present, as ``inforge pki ls`` lists them: ``"root"``, then
        ``"intermediate:<scope>"``."""
    @property
    def root(self) -> Certificate:
        """The root certificate."""
    @property
    def intermediates(self) -> Dict[str, Certificate]:
        """Current intermediates by scope (two-tier only)."""
    @property
    def previous_roots(self) -> List[Certificate]:
        """During a root overlap: the retired root(s)."""
    @property
    def previous_intermediates(self) -> Dict[str, List[Certificate]]:
        """Retired intermediates per scope, still trusted in bundles during an overlap."""
    @property
    def root_overlap_started(self) -> Optional[datetime]:
        """When the current root overlap started, or None."""
    @property
    def revoked(self) -> List[Revoked]:
        """Certificates recorded as compromised."""
    @property
    def unreadable(self) -> List[Unreadable]:
        """Certificates of this PKI that do not parse (left out of the fields above)."""

@final
class Store:
    """A parsed PKI store (``resources/<env>/pki.enc.yaml``): public data only."""

    @property
    def version(self) -> int:
        """Store format version."""
    @property
    def root_recipient(self) -> str:
        """The offline operator's age recipient (public)."""
    @property
    def recipient(self) -> str:
        """The CI age recipient (public)."""
    @property
    def pkis(self) -> Dict[str, Pki]:
        """PKIs by name."""
    @property
    def unreadable(self) -> List[Unreadable]:
        """PKIs whose root certificate does not parse (left out of ``pkis``)."""

@final
class Leaf:
    """A leaf minted in memory by :func:`mint`. ``key_pem`` is secret and never in ``repr()``."""

    @property
    def service(self) -> str:
        """The service."""
    @property
    def pki(self) -> str:
        """The mesh (PKI) that issued it."""
    @property
    def scope(self) -> str:
        """The scope: ``"global"`` or a region."""
    @property
    def spiffe_id(self) -> str:
        """The SPIFFE ID: ``spiffe://<baseDomain>/<env>/<scope>/<service>``."""
    @property
    def serial(self) -> str:
        """Serial number, lowercase hex."""
    @property
    def not_before(self) -> datetime:
        """Start of validity (timezone-aware, UTC)."""
    @property
    def not_after(self) -> datetime:
        """End of validity (timezone-aware, UTC)."""
    @property
    def capped(self) -> bool:
        """The intermediate's end of life cut the leaf short of its lifetime (:func:`mint` also warns with a ``UserWarning``): roll the intermediate."""
    @property
    def cert_pem(self) -> str:
        """``cert.pem``: the leaf, then its intermediate."""
    @property
    def key_pem(self) -> str:
        """``key.pem``: the leaf's private key, PKCS#8 PEM. Secret: write it with mode 0600."""
    @property
    def bundle_pem(self) -> str:
        """``bundle.pem``: the scope's trust bundle."""
    @property
    def spiffe_bundle_json(self) -> str:
        """``bundle.spiffe.json``: the same bundle as a SPIFFE bundle JWKS (``keys`` of ``use: "x509-svid"``, ``spiffe_sequence``, ``spiffe_refresh_hint``)."""
    @property
    def crl_pem(self) -> str:
        """``crl.pem``: one CRL per current intermediate the bundle trusts, listing the leaves recorded with ``inforge pki revoke-leaf``."""
    @property
    def certificate(self) -> Certificate:
        """The leaf certificate's details."""

@final
class ProviderInfo:
    """Where :func:`renew` wrote."""

    @property
    def kind(self) -> str:
        """``"dir"`` (or ``"etcd"``)."""
    @property
    def path(self) -> str:
        """The provider's path (or prefix)."""

@final
class LeafReport:
    """One leaf :func:`renew` wrote to the provider."""

    @property
    def service(self) -> str:
        """The service."""
    @property
    def pki(self) -> str:
        """The mesh (PKI)."""
    @property
    def scope(self) -> str:
        """The scope."""
    @property
    def spiffe_id(self) -> str:
        """The SPIFFE ID."""
    @property
    def serial(self) -> str:
        """Serial number, lowercase hex."""
    @property
    def not_after(self) -> datetime:
        """End of validity (timezone-aware, UTC)."""
    @property
    def capped(self) -> bool:
        """The intermediate's end of life cut the leaf short of its lifetime (:func:`renew` also warns with a ``UserWarning``): roll the intermediate."""
    @property
    def dir(self) -> str:
        """The directory holding this set's ``cert.pem``, ``key.pem`` and ``bundle.pem``."""

@final
class RenewReport:
    """What :func:`renew` wrote: the same facts as ``inforge pki renew --json``."""

    @property
    def env(self) -> str:
        """The environment."""
    @property
    def provider(self) -> ProviderInfo:
        """The provider written to."""
    @property
    def leaves(self) -> List[LeafReport]:
        """Every leaf, in service then scope order."""
    @property
    def services(self) -> int:
        """Number of distinct services."""
    @property
    def elapsed_ms(self) -> int:
        """Wall time of the renew in milliseconds."""
    def to_json(self) -> str:
        """The report as the JSON document ``inforge pki renew --json`` prints."""

@final
class Decision:
    """The regional boundary's answer for one call."""

    @property
    def allowed(self) -> bool:
        """Whether the callee may accept the call."""
    @property
    def reason(self) -> str:
        """Why (for a refusal: which rule)."""
    @property
    def caller(self) -> Optional[str]:
        """The caller's SPIFFE ID as the mesh vouches for it (None: the chain's leaf claims a scope its issuer does not serve)."""

# ------------------------------------------------------------------------------- functions

_StrPath = Union[str, "os.PathLike[str]"]
"""A path: ``str`` or ``os.PathLike``."""

def validate(repo: _StrPath, env: str, *, now: Optional[datetime] = None) -> List[Diagnostic]:
    """Validates one environment of an infra repo, credential-free.

    The same findings (codes, subjects, files, messages) as ``inforge validate <env> --json``,
    with hints in Python's words. Unparseable files are findings, not exceptions.

    Raises:
        ConfigError: ``repo`` has no inforge.yaml (``repo-missing``).
        IoError: a file cannot be read.
        TimeError: ``now``, or ``INFORGE_NOW``, is out of range.
        ValueError: ``now`` is a naive datetime.
    """

def renew(
    repo: _StrPath,
    env: str,
    *,
    secrets_key: Optional[str] = None,
    service: Optional[str] = None,
    now: Optional[datetime] = None,
) -> RenewReport:
    """Mints every mesh service's leaves (or only ``service``'s) and writes them to the provider.

    Writes ``<service>/mtls/<scope>/{cert,key,bundle}.pem`` exactly as ``inforge pki renew``
    does: same files, same lock, same atomic replacement. Needs the CI identity:
    ``secrets_key`` (the identity's text), else ``INFORGE_SECRETS_KEY`` /
    ``INFORGE_SECRETS_KEY_FILE``. Every check happens before anything is written, so an
    exception leaves the provider as it was. Releases the GIL while it works.
    """

def mint(
    repo: _StrPath,
    env: str,
    service: str,
    *,
    secrets_key: Optional[str] = None,
    now: Optional[datetime] = None,
) -> List[Leaf]:
    """Mints ``service``'s leaves (one per scope) in memory: the release-time mint.

    Writes nothing and needs no provider: the caller delivers ``cert_pem``, ``key_pem`` and
    ``bundle_pem`` itself. Same checks and identity as :func:`renew`. Releases the GIL.
    """

def bundle(
    repo: _StrPath,
    env: str,
    pki: str,
    *,
    scope: Optional[str] = None,
    roots: bool = False,
    format: Literal["pem", "spiffe"] = "pem",
) -> str:
    """A trust bundle, byte-equal to ``inforge pki bundle [--format spiffe]``.

    ``scope=``: what that scope's services trust; ``roots=True``: the root bundle (both roots
    during an overlap). Pass exactly one (else ``ValueError``). ``format="spiffe"``: the SPIFFE
    bundle JWKS instead of PEM. Credential-free.
    """

def load_store(path_or_text: _StrPath) -> Store:
    """Parses a PKI store file: its PKIs, tiers and certificate details.

    Takes a path (``str`` or ``os.PathLike``); for the store's text call
    :func:`load_store_text`. (A ``str`` holding a newline is still read as text, as before
    :func:`load_store_text` existed; a ``str`` that names no file and looks like YAML raises
    ``ValueError`` saying so.) Decrypts nothing and needs no identity.
    """

def load_store_text(text: Union[str, bytes]) -> Store:
    """Parses a PKI store from its YAML text (``str``, or UTF-8 ``bytes``; other bytes raise
    :class:`IoError` with code ``file-not-utf8``). Decrypts nothing and needs no identity."""

def authorize(caller: str, callee: str) -> Decision:
    """The regional boundary for a call between two inforge SPIFFE IDs.

    Intra-region, region→global and global→global are allowed; cross-region and global→region
    are refused, as are calls between trust domains or environments. A malformed ID raises
    :class:`MeshError` (``spiffe-id-invalid``).
    """

def authorize_peer(chain_pem: str, callee: str) -> Decision:
    """The peer check to run after the TLS handshake, on the chain the caller presented (leaf
    first, then its intermediate, as in ``cert.pem``).

    The leaf may claim only its issuing intermediate's scope (a leaked regional intermediate's
    key cannot mint a ``global`` caller), then :func:`authorize`'s boundary rule applies.
    ``Decision.caller`` is the verified SPIFFE ID, or None. A malformed callee raises
    :class:`MeshError` (``spiffe-id-invalid``).
    """

def check_leaf(
    repo: _StrPath, env: str, chain_pem: Union[str, bytes], *, scope: Optional[str] = None, now: Optional[datetime] = None
) -> Dict[str, Any]:
    """Checks a leaf chain (leaf first, as ``cert.pem``) against a scope's bundle of the repo's
    environment (default: the leaf's own scope): the npm package's ``checkLeaf`` document
    (``ok``, ``scope``, ``pki``, ``spiffeId``, ``leaf``, ``checks``). A failed check is data; an
    unknown scope (:class:`PkiError`, ``scope-unknown``) or a chain that does not parse
    (:class:`CertError`) raises. Needs no identity."""

def trust_matrix(repo: _StrPath, env: str) -> Dict[str, Any]:
    """Which scope's bundle trusts which scope's intermediates, and the boundary rule for every
    caller × callee scope: the npm package's ``trustMatrix`` document. Needs no identity."""

def review_stores(before: Union[str, bytes], after: Union[str, bytes], *, env: Optional[str] = None) -> Dict[str, Any]:
    """What a change between two store versions does: ``inforge store diff --json``
    (``changes``, ``bundles``, ``next``, ``warnings``, ``unchanged``). An empty text is an absent
    store; ``env`` fills the next steps' commands."""

def status(
    repo: _StrPath, env: str, *, fail_within: str = "7d", now: Optional[datetime] = None
) -> Dict[str, Any]:
    """The provider's sets judged against the store: the ``inforge pki status <env> --json``
    document as a dict (``ok``, ``problemSets``, ``phases``, and per set its leaf, issuer,
    chain phase and problems with codes).

    Problems are data, not exceptions. Needs no identity.

    Raises:
        ConfigError: no inforge.yaml, or an unknown environment.
        StoreError: no store, or one that does not parse.
        ProviderError: the provider cannot be reached.
        TimeError: ``fail_within`` is not a duration (30d, 12h…), or ``now`` is outside the
            range certificates can express.
    """

def custody(store_yaml: str, env: str) -> Dict[str, Any]:
    """Who holds what in a store: the ``inforge pki custody --json`` document, as a dict.

    The CI recipient, the offline root's recipient or quorum (threshold, custodians) and the
    keys each seals. Decrypts nothing and needs no identity.
    """

def list_store(store_yaml: Union[str, bytes], env: str, now: Union[datetime, str, None] = None) -> Dict[str, Any]:
    """The ``inforge pki ls --json`` document, as a dict, for a store's text (``str`` or UTF-8
    ``bytes``) at ``now`` (a timezone-aware ``datetime``, or RFC 3339 text as in the module's
    first version; ``None``: the clock)."""

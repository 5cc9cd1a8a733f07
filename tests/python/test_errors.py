"""Bad input raises the area's subclass of inforge.Error with the CLI's code and a hint in
Python's words, never shows an identity or key material, and leaves the store and the provider
byte-identical."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Type

import inforge
import pytest

from support import NOW, Repo, age_keygen, leaks_identity, replace_pem, snapshot

FAKE_IDENTITY = "AGE-SECRET-KEY-1" + "Q" * 58


@dataclass
class Case:
    id: str
    call: Callable[[Repo], Any]
    exc: Type[BaseException]
    code: Optional[str]
    cli: Optional[List[str]] = None  # the same fault through the CLI: it must give the same code
    cli_env: Optional[Callable[[Repo], Dict[str, str]]] = None  # identities for that CLI run
    setup: Optional[Callable[[Repo], object]] = None
    env: Optional[Callable[[Repo], Dict[str, str]]] = None  # process environment for the call
    hint_has: Optional[str] = None


def ci(r: Repo) -> Dict[str, str]:
    return {"INFORGE_SECRETS_KEY": r.ci}


def renew(**kw: Any) -> Callable[[Repo], Any]:
    def call(r: Repo) -> Any:
        args: Dict[str, Any] = {"secrets_key": r.ci, "now": NOW}
        args.update(kw)
        return inforge.renew(r.dir, "prd", **args)

    return call


def other_identity(r: Repo) -> str:
    """A valid identity that is not the store's CI identity (the same one on every call)."""
    path = r.base / "other.key"
    if path.exists():
        return next(line for line in path.read_text().splitlines() if line.startswith("AGE-SECRET-KEY-"))
    return age_keygen(path)


def forge_global(r: Repo) -> None:
    mesh = inforge.load_store(r.store_path).pkis["wardnet-mesh"]
    r.store_path.write_text(
        replace_pem(r.store_path.read_text(), mesh.intermediates["global"].pem, mesh.intermediates["us-east-1"].pem)
    )


def replace_provider_with_a_file(r: Repo) -> None:
    shutil.rmtree(r.provider)
    r.provider.write_text("x")


def add_service(line: str) -> Callable[[Repo], None]:
    return lambda r: r.write("inforge.yaml", r.read("inforge.yaml") + f"  {line}\n")


CASES = [
    Case("no-identity", renew(secrets_key=None), inforge.CustodyError, "identity-missing", ["pki", "renew", "prd"], lambda r: {}, hint_has="secrets_key="),
    Case(
        "wrong-identity",
        lambda r: inforge.renew(r.dir, "prd", secrets_key=other_identity(r), now=NOW),
        inforge.CustodyError,
        "identity-wrong",
        ["pki", "renew", "prd"],
        lambda r: {"INFORGE_SECRETS_KEY": other_identity(r)},
    ),
    Case("invalid-identity", renew(secrets_key=FAKE_IDENTITY), inforge.CustodyError, "identity-invalid", ["pki", "renew", "prd"], lambda r: {"INFORGE_SECRETS_KEY": FAKE_IDENTITY}),
    Case(
        "ambiguous-identity",
        renew(secrets_key=None),
        inforge.CustodyError,
        "identity-ambiguous",
        ["pki", "renew", "prd"],
        lambda r: {"INFORGE_SECRETS_KEY": r.ci, "INFORGE_SECRETS_KEY_FILE": str(r.ci_file)},
        env=lambda r: {"INFORGE_SECRETS_KEY": r.ci, "INFORGE_SECRETS_KEY_FILE": str(r.ci_file)},
    ),
    Case("identity-file-missing", renew(secrets_key=None), inforge.CustodyError, "identity-unreadable", ["pki", "renew", "prd"], lambda r: {"INFORGE_SECRETS_KEY_FILE": str(r.base / "nope.key")}, env=lambda r: {"INFORGE_SECRETS_KEY_FILE": str(r.base / "nope.key")}),
    Case("service-unknown", renew(service="ghost"), inforge.ConfigError, "service-unknown", ["pki", "renew", "prd", "--service", "ghost"], ci),
    Case("service-not-in-mesh", renew(service="cron"), inforge.ConfigError, "service-not-in-mesh", ["pki", "renew", "prd", "--service", "cron"], ci),
    Case("env-unknown", lambda r: inforge.renew(r.dir, "stg", secrets_key=r.ci, now=NOW), inforge.ConfigError, "environment-unknown", ["pki", "renew", "stg"], ci),
    Case("env-name", lambda r: inforge.renew(r.dir, "../prd", secrets_key=r.ci, now=NOW), inforge.ConfigError, "name-invalid", ["pki", "renew", "../prd"], ci),
    Case("repo-missing", lambda r: inforge.renew(r.base / "nowhere", "prd", secrets_key=r.ci, now=NOW), inforge.ConfigError, "repo-missing", hint_has="the repo argument"),
    Case("config-invalid", renew(), inforge.ConfigError, "config-invalid", ["pki", "renew", "prd"], ci, setup=lambda r: r.write("inforge.yaml", r.read("inforge.yaml") + "surprise: 1\n")),
    Case("provider-missing", renew(), inforge.ProviderError, "provider-missing", ["pki", "renew", "prd"], ci, setup=lambda r: shutil.rmtree(r.provider)),
    Case("provider-not-dir", renew(), inforge.ProviderError, "provider-not-dir", ["pki", "renew", "prd"], ci, setup=replace_provider_with_a_file),
    Case("store-missing", renew(), inforge.PkiError, "store-missing", ["pki", "renew", "prd"], ci, setup=lambda r: r.store_path.unlink()),
    Case("store-not-yaml", renew(), inforge.StoreError, "store-invalid", ["pki", "renew", "prd"], ci, setup=lambda r: r.store_path.write_text("pkis: [unclosed\n")),
    Case("store-not-utf8", renew(), inforge.IoError, "file-not-utf8", ["pki", "renew", "prd"], ci, setup=lambda r: r.store_path.write_bytes(b"\xff\xfe\x00")),
    Case("scope-no-intermediate", renew(), inforge.MeshError, "service-scope-no-intermediate", ["pki", "renew", "prd"], ci, setup=lambda r: None),
    Case("pki-missing", renew(), inforge.MeshError, "service-pki-missing", ["pki", "renew", "prd"], ci, setup=add_service("ghost: {pki: nowhere, scope: global}")),
    Case("forged-tier", renew(), inforge.PkiError, "intermediate-scope-mismatch", ["pki", "renew", "prd"], ci, setup=forge_global),
    Case("now-out-of-range", renew(now=datetime(1999, 12, 31, tzinfo=timezone.utc)), inforge.TimeError, "time-invalid", ["pki", "renew", "prd"], lambda r: {**ci(r), "INFORGE_NOW": "1999-12-31T00:00:00Z"}, hint_has="now="),
    Case("inforge-now-garbage", renew(now=None), inforge.TimeError, "time-invalid", ["pki", "renew", "prd"], lambda r: {**ci(r), "INFORGE_NOW": "yesterday"}, env=lambda r: {"INFORGE_NOW": "yesterday"}),
    Case("naive-now", renew(now=datetime(2026, 11, 22, 12, 0)), ValueError, None),
    Case("now-not-a-datetime", renew(now="2026-11-22T12:00:00Z"), TypeError, None),
    Case("mint-no-identity", lambda r: inforge.mint(r.dir, "prd", "web", now=NOW), inforge.CustodyError, "identity-missing", hint_has="secrets_key="),
    Case("mint-service-unknown", lambda r: inforge.mint(r.dir, "prd", "ghost", secrets_key=r.ci, now=NOW), inforge.ConfigError, "service-unknown"),
    Case("mint-naive-now", lambda r: inforge.mint(r.dir, "prd", "web", secrets_key=r.ci, now=datetime(2026, 1, 1)), ValueError, None),
    Case("bundle-root-only-scope", lambda r: inforge.bundle(r.dir, "prd", "daemon-ca", scope="global"), inforge.MeshError, "bundle-unavailable", ["pki", "bundle", "prd", "daemon-ca", "--scope", "global"], hint_has="scope="),
    Case("bundle-pki-unknown", lambda r: inforge.bundle(r.dir, "prd", "nope", roots=True), inforge.PkiError, "pki-unknown", ["pki", "bundle", "prd", "nope", "--roots"]),
    Case("bundle-both", lambda r: inforge.bundle(r.dir, "prd", "wardnet-mesh", scope="global", roots=True), ValueError, None),
    Case("bundle-neither", lambda r: inforge.bundle(r.dir, "prd", "wardnet-mesh"), ValueError, None),
    Case("validate-repo-missing", lambda r: inforge.validate(r.base / "nowhere", "prd"), inforge.ConfigError, "repo-missing"),
    Case("validate-naive-now", lambda r: inforge.validate(r.dir, "prd", now=datetime(2026, 1, 1)), ValueError, None),
    Case("load-store-not-yaml", lambda r: inforge.load_store("pkis: [unclosed\n"), inforge.StoreError, "store-invalid"),
    Case("load-store-missing", lambda r: inforge.load_store(str(r.base / "nope.yaml")), inforge.IoError, "io"),
    Case("load-store-type", lambda r: inforge.load_store(42), TypeError, None),  # type: ignore[arg-type]
]


def first_code(r: Repo, case: Case) -> Optional[str]:
    if case.cli is None:
        return None
    return r.cmd(*case.cli, env=case.cli_env(r) if case.cli_env else {}).error_code()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_raises_and_changes_nothing(
    case: Case, renewed: Repo, partial_renewed: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = partial_renewed if case.id == "scope-no-intermediate" else renewed
    if case.setup:
        case.setup(r)
    for k, v in (case.env(r) if case.env else {}).items():
        monkeypatch.setenv(k, v)
    before = (snapshot(r.dir), snapshot(r.provider))
    with pytest.raises(case.exc) as info:
        case.call(r)
    e = info.value
    assert (snapshot(r.dir), snapshot(r.provider)) == before, "a failed call changed the store or the provider"
    text = str(e) + getattr(e, "hint", "")
    assert not leaks_identity(text) and "PRIVATE KEY" not in text and FAKE_IDENTITY not in text, text
    if not isinstance(e, inforge.Error):
        assert case.code is None
        return
    assert e.code and e.hint and e.message and str(e) == e.message, (e.code, e.message, e.hint)
    for k in list(case.env(r) if case.env else {}):
        monkeypatch.delenv(k)
    cli_code = first_code(r, case)
    if cli_code is not None:
        assert e.code == cli_code, f"python {e.code} != cli {cli_code}"
    if case.code is not None:
        assert e.code == case.code
    if case.hint_has:
        assert case.hint_has in e.hint, e.hint
    assert "INFORGE_SECRETS_KEY=…" not in e.hint and "--scope" not in e.hint and "-C " not in e.hint
    # Remedies are rendered with real values, never a `<env>`-style placeholder.
    assert not re.search(r"<[a-z-]+>", e.hint), e.hint


def test_exception_hierarchy() -> None:
    areas = [
        inforge.ConfigError,
        inforge.StoreError,
        inforge.CustodyError,
        inforge.CertError,
        inforge.PkiError,
        inforge.MeshError,
        inforge.TimeError,
        inforge.ProviderError,
        inforge.IoError,
    ]
    for cls in areas:
        assert issubclass(cls, inforge.Error) and cls is not inforge.Error and cls.__module__ == "inforge"
        assert cls.__doc__
    assert issubclass(inforge.Error, Exception) and inforge.InforgeError is inforge.Error
    assert len(set(areas)) == len(areas)


def test_identity_missing_hint_names_the_keyword(renewed: Repo) -> None:
    with pytest.raises(inforge.CustodyError) as e:
        inforge.renew(renewed.dir, "prd", now=NOW)
    cli = renewed.cmd("pki", "renew", "prd", env={})
    assert "INFORGE_SECRETS_KEY" in cli.stderr
    assert e.value.hint.count("secrets_key=") == 1 and "INFORGE_SECRETS_KEY" in e.value.hint


def test_a_wrong_identity_is_never_echoed(renewed: Repo) -> None:
    other = age_keygen(renewed.base / "x.key")
    for call in (
        lambda: inforge.renew(renewed.dir, "prd", secrets_key=other, now=NOW),
        lambda: inforge.mint(renewed.dir, "prd", "api", secrets_key=other, now=NOW),
        lambda: inforge.renew(renewed.dir, "prd", secrets_key=other[:-3] + "xyz", now=NOW),
    ):
        with pytest.raises(inforge.CustodyError) as e:
            call()
        assert other not in str(e.value) + e.value.hint and not leaks_identity(str(e.value) + e.value.hint)
        assert other not in repr(e.value.args)


def test_renew_is_all_or_nothing_across_scopes(renewed: Repo, partial_template: Repo) -> None:
    """A missing intermediate for one of web's scopes refuses the whole renew before writing."""
    r = renewed
    text = r.store_path.read_text()
    mesh = inforge.load_store(text).pkis["wardnet-mesh"]
    assert "eu-west-1" in mesh.intermediates
    before = snapshot(r.provider)
    with pytest.raises(inforge.MeshError):
        inforge.renew(partial_template.dir, "prd", secrets_key=partial_template.ci, service="web", now=NOW)
    assert snapshot(r.provider) == before


def test_out_of_range_and_offset_times(renewed: Repo) -> None:
    # aware datetimes in any zone are the same instant
    east = timezone(timedelta(hours=5, minutes=30))
    (leaf,) = inforge.mint(renewed.dir, "prd", "api", secrets_key=renewed.ci, now=NOW.astimezone(east))
    assert leaf.not_after == NOW + timedelta(days=90)
    with pytest.raises(inforge.TimeError) as e:
        inforge.validate(renewed.dir, "prd", now=datetime(9999, 1, 1, tzinfo=timezone.utc))
    assert e.value.code == "time-invalid"

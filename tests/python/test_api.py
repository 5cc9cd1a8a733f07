"""The module's surface: SPEC §8's names and signatures, a docstring on every public name,
and type stubs shipped with the wheel."""

from __future__ import annotations

import inspect
from pathlib import Path

import inforge

SPEC_FUNCTIONS = {
    "validate": "(repo, env, *, now=None)",
    "renew": "(repo, env, *, secrets_key=None, service=None, now=None)",
    "mint": "(repo, env, service, *, secrets_key=None, now=None)",
    "bundle": "(repo, env, pki, *, scope=None, roots=False, format='pem')",
    "load_store": "(path_or_text)",
    "authorize": "(caller, callee)",
    "authorize_peer": "(chain_pem, callee)",
    "load_store_text": "(text)",
    "check_leaf": "(repo, env, chain_pem, *, scope=None, now=None)",
    "trust_matrix": "(repo, env)",
    "review_stores": "(before, after, *, env=None)",
}


def test_functions_have_the_spec_signatures() -> None:
    for name, sig in SPEC_FUNCTIONS.items():
        assert str(inspect.signature(getattr(inforge, name))) == sig, name


def test_every_public_name_has_a_docstring() -> None:
    for name in inforge.__all__:
        obj = getattr(inforge, name)
        if name == "__version__":
            assert isinstance(obj, str) and obj
            continue
        assert (obj.__doc__ or "").strip(), name
        if isinstance(obj, type) and not issubclass(obj, BaseException):
            for attr, member in vars(obj).items():
                if not attr.startswith("_"):
                    assert (member.__doc__ or "").strip(), f"{name}.{attr}"
    assert (inforge.__doc__ or "").strip()


def test_the_wheel_ships_stubs_and_py_typed() -> None:
    package = Path(inforge.__file__).parent
    stubs = (package / "__init__.pyi").read_text()
    assert (package / "py.typed").exists()
    for name in inforge.__all__:
        assert name in stubs, name


def test_result_classes_are_read_only() -> None:
    d = inforge.authorize("spiffe://w.example/prd/global/a", "spiffe://w.example/prd/global/b")
    try:
        d.allowed = False  # type: ignore[misc]
    except AttributeError:
        pass
    else:
        raise AssertionError("Decision is writable")
    assert d.allowed

"""Fixtures for the Python bindings' tests: scratch copies of examples/ set up with the
inforge CLI (see support.py), and an environment with no identity or time in it."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from support import BIN, ENV_VARS, Repo, initialize, new_repo


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """One initialized repo for the session; tests work on copies of it."""
    assert BIN.is_file(), f"{BIN} is missing: build it with `cargo build -p inforge-cli`"
    return initialize(new_repo(tmp_path_factory.mktemp("template")))


@pytest.fixture(scope="session")
def partial_template(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """An initialized repo whose mesh lacks the eu-west-1 intermediate."""
    return initialize(new_repo(tmp_path_factory.mktemp("partial")), scopes=("global", "us-east-1"))


@pytest.fixture
def repo(template: Repo, tmp_path: Path) -> Repo:
    """A fresh copy of the initialized repo."""
    return template.copy(tmp_path / "repo")


@pytest.fixture
def make_repo(template: Repo, tmp_path: Path) -> Callable[[], Repo]:
    """Makes any number of fresh copies of the initialized repo."""
    count = [0]

    def make() -> Repo:
        count[0] += 1
        return template.copy(tmp_path / f"repo{count[0]}")

    return make


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No identity or time leaks into a test from the environment."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)




@pytest.fixture
def renewed(template: Repo, tmp_path: Path) -> Repo:
    """A copy of the initialized repo whose provider the CLI has filled (so a failed call has
    something to leave alone)."""
    r = template.copy(tmp_path / "renewed")
    r.run("pki", "renew", "prd").ok()
    return r


@pytest.fixture
def partial_renewed(partial_template: Repo, tmp_path: Path) -> Repo:
    """A copy of the repo without the eu-west-1 intermediate, with global and us-east-1 sets."""
    r = partial_template.copy(tmp_path / "partial")
    r.run("pki", "renew", "prd", "--service", "api").ok()
    return r

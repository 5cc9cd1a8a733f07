"""Long operations release the GIL, and the Python writer takes the CLI's provider lock: a
renew waiting for the lock lets other Python threads run, gives up with `busy` having changed
nothing, and concurrent writers (threads and the CLI) leave every set whole."""

from __future__ import annotations

import fcntl
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, List

import inforge
import pytest

from support import BIN, NOW, NOW_TEXT, Repo, snapshot, verify_set


@pytest.fixture
def provider_locked(renewed: Repo) -> Iterator[Repo]:
    """Holds the provider lock (an exclusive flock on its directory) as another writer would."""
    fd = os.open(renewed.provider, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield renewed
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def test_renew_waits_for_the_lock_without_holding_the_gil(
    provider_locked: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = provider_locked
    monkeypatch.setenv("INFORGE_LOCK_WAIT", "3")
    before = snapshot(r.provider)
    errors: List[BaseException] = []

    def work() -> None:
        try:
            inforge.renew(r.dir, "prd", secrets_key=r.ci, now=NOW)
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            errors.append(e)

    t = threading.Thread(target=work)
    started = time.monotonic()
    t.start()
    ticks = 0
    while time.monotonic() - started < 1.0:  # pure Python: runs only while renew has let go of the GIL
        ticks += 1
    assert t.is_alive(), "renew returned early or held the GIL while it waited"
    assert ticks > 10_000
    t.join(10)
    assert not t.is_alive() and time.monotonic() - started >= 3
    (e,) = errors
    assert isinstance(e, inforge.ProviderError) and e.code == "busy", e
    assert snapshot(r.provider) == before


def test_the_cli_and_python_share_the_provider_lock(provider_locked: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    r = provider_locked
    before = snapshot(r.provider)
    cli = r.cmd("pki", "renew", "prd", env={"INFORGE_SECRETS_KEY": r.ci, "INFORGE_LOCK_WAIT": "0"})
    assert cli.code == 1 and cli.error_code() == "busy"
    monkeypatch.setenv("INFORGE_LOCK_WAIT", "0")
    with pytest.raises(inforge.ProviderError) as e:
        inforge.renew(r.dir, "prd", secrets_key=r.ci, now=NOW)
    assert e.value.code == "busy"
    assert snapshot(r.provider) == before


def test_mint_and_validate_run_in_parallel_threads(repo: Repo) -> None:
    results: Dict[str, object] = {}

    def mint(service: str) -> None:
        results[service] = inforge.mint(repo.dir, "prd", service, secrets_key=repo.ci, now=NOW)

    def validate() -> None:
        results["validate"] = inforge.validate(repo.dir, "prd", now=NOW)

    threads = [threading.Thread(target=mint, args=(s,)) for s in ("api", "billing", "web", "worker")]
    threads.append(threading.Thread(target=validate))
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results["validate"] == []
    for service in ("api", "billing", "web", "worker"):
        for leaf in results[service]:  # type: ignore[attr-defined]
            verify_set(leaf.cert_pem, leaf.key_pem, leaf.bundle_pem, NOW)


def test_concurrent_writers_leave_every_set_whole(renewed: Repo) -> None:
    """Python threads and CLI processes renewing one provider at once: every set a reader sees
    afterwards is one writer's (its key matches its leaf), and the staging is exactly the
    scope's three slots and the standby links of the two that are not current."""
    r = renewed
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFORGE_")}
    env.update({"INFORGE_SECRETS_KEY": r.ci, "INFORGE_NOW": NOW_TEXT})
    procs = [
        subprocess.Popen([str(BIN), "-C", str(r.dir), "pki", "renew", "prd"], env=env, stdout=subprocess.DEVNULL)
        for _ in range(2)
    ]
    errors: List[BaseException] = []

    def work() -> None:
        try:
            inforge.renew(r.dir, "prd", secrets_key=r.ci, now=NOW)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [p.wait(60) for p in procs] == [0, 0]
    assert errors == []
    for d in sorted(Path(r.provider).glob("*/mtls/*")):
        if d.name.startswith("."):
            continue
        verify_set((d / "cert.pem").read_text(), (d / "key.pem").read_text(), (d / "bundle.pem").read_text(), NOW)
        staged = sorted(e.name for e in d.parent.iterdir() if e.name.startswith(f".{d.name}@"))
        current = os.readlink(d).rsplit("@", 1)[1]
        want = sorted([f".{d.name}@{k}" for k in "012"] + [f".{d.name}@link-{k}" for k in "012" if k != current])
        assert staged == want, staged
        for k in "012":
            if k != current:
                assert os.readlink(d.parent / f".{d.name}@link-{k}") == f".{d.name}@{k}"

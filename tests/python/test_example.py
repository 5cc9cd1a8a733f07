"""examples/deploy_release.py: the release-time mint a deploy script runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

from support import NOW, NOW_TEXT, ROOT, Repo, snapshot, verify_set

EXAMPLE = ROOT / "examples" / "deploy_release.py"


def deploy(repo: Repo, out: Path, service: str, env: Optional[Dict[str, str]] = None, *extra: str) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if not k.startswith("INFORGE_")}
    e["INFORGE_NOW"] = NOW_TEXT
    e.update(env if env is not None else {"INFORGE_SECRETS_KEY_FILE": str(repo.ci_file)})
    args = [sys.executable, str(EXAMPLE), "--repo", str(repo.dir), "--env", "prd", "--service", service, "--out", str(out), *extra]
    return subprocess.run(args, env=e, capture_output=True, text=True)


def delivered(out: Path) -> List[str]:
    return sorted(p.name for p in out.iterdir() if not p.name.startswith("."))


def test_deploy_script_mints_and_delivers(repo: Repo, tmp_path: Path) -> None:
    out = tmp_path / "release"
    provider = snapshot(repo.provider)
    p = deploy(repo, out, "web")
    assert p.returncode == 0, p.stderr
    records = [json.loads(line) for line in p.stdout.splitlines()]
    assert sorted(r["scope"] for r in records) == ["eu-west-1", "us-east-1"] == delivered(out)
    first = {}
    for r in records:
        d = out / r["scope"]
        assert d.is_symlink() and r["dir"] == str(d)
        assert (d / "key.pem").stat().st_mode & 0o777 == 0o600
        leaf = verify_set((d / "cert.pem").read_text(), (d / "key.pem").read_text(), (d / "bundle.pem").read_text(), NOW)
        assert format(leaf.serial_number, "x") == r["serial"].lstrip("0")
        assert r["spiffeId"] == f"spiffe://wardnet.example/prd/{r['scope']}/web"
        first[r["scope"]] = (d / "cert.pem").read_text()
    assert "PRIVATE KEY" not in p.stdout + p.stderr
    assert snapshot(repo.provider) == provider, "the example delivers itself: the provider is untouched"
    # a second release replaces each set whole and drops the generation it replaced
    p = deploy(repo, out, "web")
    assert p.returncode == 0, p.stderr
    for scope, cert in first.items():
        assert (out / scope / "cert.pem").read_text() != cert
        assert len([e for e in out.iterdir() if e.name.startswith(f".{scope}@")]) == 1


def test_deploy_script_takes_a_key_file_argument(repo: Repo, tmp_path: Path) -> None:
    p = deploy(repo, tmp_path / "out", "api", {}, "--secrets-key-file", str(repo.ci_file))
    assert p.returncode == 0, p.stderr
    assert delivered(tmp_path / "out") == ["global"]


def test_deploy_script_refuses_and_delivers_nothing(repo: Repo, tmp_path: Path) -> None:
    out = tmp_path / "out"
    p = deploy(repo, out, "ghost")
    assert p.returncode == 1 and "error[service-unknown]" in p.stderr and "hint: " in p.stderr
    p = deploy(repo, out, "web", {})
    assert p.returncode == 1 and "error[identity-missing]" in p.stderr and "secrets_key=" in p.stderr
    repo.store_path.unlink()
    p = deploy(repo, out, "web")
    assert p.returncode == 1 and "error[store-missing]" in p.stderr and "nothing was minted" in p.stderr
    assert not out.exists()
    p = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True)
    assert p.returncode == 2

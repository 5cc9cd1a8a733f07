"""Helpers for the Python bindings' tests: scratch copies of examples/ set up with the inforge
CLI exactly as tests/scenarios/support.rs `Repo::initialized_at` does, the CLI to compare
with, and helpers to snapshot a tree byte for byte.

The CLI is $INFORGE_BIN (scripts/python.sh sets it), else target/debug/inforge.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import PolicyBuilder, Store

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BIN = Path(os.environ.get("INFORGE_BIN", ROOT / "target" / "debug" / "inforge"))
NOW_TEXT = "2026-11-22T12:00:00Z"
NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=timezone.utc)
ENV_VARS = (
    "INFORGE_SECRETS_KEY",
    "INFORGE_SECRETS_KEY_FILE",
    "INFORGE_PKI_ROOT_KEY",
    "INFORGE_PKI_ROOT_KEY_FILE",
    "INFORGE_NOW",
    "INFORGE_LOCK_WAIT",
    "INFORGE_TEST_FAULT",
)


def leaks_identity(text: str) -> bool:
    """Whether text holds an actual age identity (not just the format's name)."""
    return re.search(r"AGE-SECRET-KEY-1[0-9A-Za-z]{20,}", text) is not None


def tool(name: str) -> str:
    """An external tool's path; fails loudly if it is missing (scripts/setup.sh installs it)."""
    path = shutil.which(name)
    assert path, f"`{name}` is not installed: run scripts/setup.sh"
    return path


@dataclass
class Run:
    """A finished CLI run."""

    code: int
    stdout_bytes: bytes
    stderr: str

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8")

    def ok(self) -> "Run":
        assert self.code == 0, f"expected success\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        return self

    def error_code(self) -> str:
        """The `error[<code>]` the CLI printed."""
        m = re.search(r"error\[([a-z0-9-]+)\]", self.stderr)
        assert m, f"no error[...] in:\n{self.stderr}"
        return m.group(1)


@dataclass
class Repo:
    """A scratch infra repo: `<base>/infra` (the repo) beside `<base>/provider-prd`."""

    base: Path
    ci: str
    ci_file: Path
    ci_recipient: str
    root_key: Optional[str] = None
    now: Optional[str] = NOW_TEXT
    extra_env: Dict[str, str] = field(default_factory=dict)

    @property
    def dir(self) -> Path:
        return self.base / "infra"

    @property
    def provider(self) -> Path:
        return self.base / "provider-prd"

    @property
    def store_path(self) -> Path:
        return self.dir / "resources" / "prd" / "pki.enc.yaml"

    def cmd(self, *args: str, env: Optional[Dict[str, str]] = None) -> Run:
        """Runs the CLI with exactly the given identity variables (and INFORGE_NOW)."""
        e = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
        if self.now:
            e["INFORGE_NOW"] = self.now
        e.update(env or {})
        p = subprocess.run([str(BIN), "-C", str(self.dir), *args], env=e, capture_output=True)
        return Run(p.returncode, p.stdout, p.stderr.decode("utf-8", "replace"))

    def run(self, *args: str) -> Run:
        """Runs the CLI with both identities exported."""
        env = {"INFORGE_SECRETS_KEY": self.ci}
        if self.root_key:
            env["INFORGE_PKI_ROOT_KEY"] = self.root_key
        return self.cmd(*args, env=env)

    def copy(self, dest: Path) -> "Repo":
        """A copy of this repo (store, provider and identities) under `dest`."""
        shutil.copytree(self.base, dest, symlinks=True)
        return Repo(dest, self.ci, dest / "ci.key", self.ci_recipient, self.root_key, self.now)

    def write(self, rel: str, text: str) -> None:
        (self.dir / rel).write_text(text, encoding="utf-8")

    def read(self, rel: str) -> str:
        return (self.dir / rel).read_text(encoding="utf-8")


def new_repo(base: Path) -> Repo:
    """The example repo with a secret store naming a fresh CI recipient (age-keygen); no store."""
    shutil.copytree(EXAMPLES / "infra", base / "infra")
    shutil.copytree(EXAMPLES / "provider-prd", base / "provider-prd")
    ci_file = base / "ci.key"
    subprocess.run([tool("age-keygen"), "-o", str(ci_file)], check=True, capture_output=True)
    ci = next(line for line in ci_file.read_text().splitlines() if line.startswith("AGE-SECRET-KEY-"))
    recipient = subprocess.run(
        [tool("age-keygen"), "-y", str(ci_file)], check=True, capture_output=True, text=True
    ).stdout.strip()
    (base / "infra" / "resources" / "prd" / "secrets.enc.yaml").write_text(
        f"recipient: {recipient}\nsecrets: {{}}\n", encoding="utf-8"
    )
    return Repo(base, ci, ci_file, recipient)


def initialize(repo: Repo, scopes: Tuple[str, ...] = ("global", "us-east-1", "eu-west-1")) -> Repo:
    """init + a two-tier mesh with the given intermediates + a root-only PKI (the quickstart)."""
    run = repo.cmd("pki", "init", "prd").ok()
    repo.root_key = run.stdout.strip()
    repo.run("pki", "add", "prd", "wardnet-mesh", "--topology", "two-tier").ok()
    repo.run("pki", "add", "prd", "daemon-ca", "--topology", "root-only").ok()
    for s in scopes:
        repo.run("pki", "intermediate", "prd", "wardnet-mesh", s).ok()
    return repo


def snapshot(path: Path) -> Dict[str, Tuple[str, object]]:
    """Every entry under `path` (hidden ones too): file bytes and mode, symlink targets, dirs."""
    out: Dict[str, Tuple[str, object]] = {}
    if not path.exists():
        return out
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(path))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", None)
            else:
                out[rel] = ("file", (p.read_bytes(), p.stat().st_mode & 0o777))
    return out


def visible_layout(provider: Path) -> List[Tuple[str, int, bool]]:
    """What a reader sees in a `dir` provider: visible paths (links followed), the file modes,
    and whether each entry is a symlink."""
    out: List[Tuple[str, int, bool]] = []
    for dirpath, dirnames, filenames in os.walk(provider, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        base = Path(dirpath)
        for name in sorted(dirnames) + sorted(f for f in filenames if not f.startswith(".")):
            p = base / name
            out.append((str(p.relative_to(provider)), p.stat().st_mode & 0o777, p.is_symlink()))
    return sorted(out)


def hidden_entries(provider: Path) -> List[str]:
    """The writer's private staging entries, by scope (generation names vary per run)."""
    out = []
    for mtls in sorted(provider.glob("*/mtls")):
        for e in sorted(mtls.iterdir()):
            if e.name.startswith("."):
                out.append(f"{mtls.relative_to(provider)}/{e.name.split('@')[0]}@…")
    return sorted(out)


def cli_json(run: Run) -> Any:
    """The CLI's --json document."""
    return json.loads(run.stdout)


def replace_pem(text: str, old: str, new: str) -> str:
    """`text` (a store) with the certificate `old` replaced by `new`, keeping the indentation."""
    old_lines = old.strip().splitlines()
    new_lines = new.strip().splitlines()
    lines = text.splitlines(keepends=True)
    i = next(k for k, line in enumerate(lines) if line.strip() == old_lines[1])
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    lines[i : i + len(old_lines) - 2] = [f"{indent}{line}\n" for line in new_lines[1:-1]]
    return "".join(lines)


def age_keygen(path: Path) -> str:
    """A fresh age identity (written to `path`), returned as its secret line."""
    subprocess.run([tool("age-keygen"), "-o", str(path)], check=True, capture_output=True)
    return next(line for line in path.read_text().splitlines() if line.startswith("AGE-SECRET-KEY-"))


def verify_set(cert_pem: str, key_pem: str, bundle_pem: str, now: datetime) -> x509.Certificate:
    """Independent check of one set with the `cryptography` package: the leaf (with the
    intermediate(s) that follow it in cert.pem) chains to a member of the bundle under pyca's
    RFC 5280 client policy at `now`, is signed directly by that intermediate, and the key is
    the leaf's. Returns the leaf."""
    chain = x509.load_pem_x509_certificates(cert_pem.encode())
    bundle = x509.load_pem_x509_certificates(bundle_pem.encode())
    leaf = chain[0]
    verified = PolicyBuilder().store(Store(bundle)).time(now).build_client_verifier().verify(leaf, chain[1:])
    assert verified.chain[0] == leaf and verified.chain[-1] in bundle
    issuer = next(c for c in bundle if c.subject == leaf.issuer and c.public_key() == chain[1].public_key())
    leaf.verify_directly_issued_by(issuer)
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    assert key.public_key().public_bytes(der, spki) == leaf.public_key().public_bytes(der, spki), "key mismatch"
    return leaf


#!/usr/bin/env python3
"""Release-time mint: a deploy step that mints one service's leaf and delivers it.

    deploy_release.py --repo infra --env prd --service api --out /run/api-release

1. validates the environment (credential-free) and stops on any error finding;
2. mints the service's leaves in memory with ``inforge.mint`` (one per scope: a regional
   service gets one per region), with the CI identity from ``--secrets-key-file``, else
   ``INFORGE_SECRETS_KEY`` / ``INFORGE_SECRETS_KEY_FILE``;
3. delivers each scope's set as ``<out>/<scope>/{cert.pem,key.pem,bundle.pem}`` (key 0600),
   replacing the set whole: the files go into a fresh hidden directory, then the ``<scope>``
   symlink is swapped to it in one rename, so a reader never sees a leaf beside the wrong key;
4. prints one JSON line per delivered set (no key material).

Exit status: 0 delivered, 1 inforge refused (``error[<code>]`` and a hint on stderr; nothing
was delivered), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import List, Optional, Sequence

import inforge


def _write(path: Path, text: str, mode: int) -> None:
    """Writes a new file with ``mode`` and makes it durable."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def deliver(leaf: inforge.Leaf, out: Path) -> Path:
    """Replaces ``out/<scope>`` with the leaf's set in one atomic symlink swap."""
    out.mkdir(parents=True, exist_ok=True)
    generation = Path(tempfile.mkdtemp(prefix=f".{leaf.scope}@", dir=out))
    generation.chmod(0o755)  # readable like the provider's sets; key.pem itself stays 0600
    _write(generation / "key.pem", leaf.key_pem, 0o600)
    _write(generation / "cert.pem", leaf.cert_pem, 0o644)
    _write(generation / "bundle.pem", leaf.bundle_pem, 0o644)
    _write(generation / "bundle.spiffe.json", leaf.spiffe_bundle_json, 0o644)
    _write(generation / "crl.pem", leaf.crl_pem, 0o644)
    link = out / leaf.scope
    previous: Optional[Path] = out / os.readlink(link) if link.is_symlink() else None
    staging = out / f".{leaf.scope}@link-{generation.name}"
    os.symlink(generation.name, staging)
    os.replace(staging, link)
    dir_fd = os.open(out, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    if previous is not None and previous != generation:
        for f in previous.iterdir():
            f.unlink()
        previous.rmdir()
    return link


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description="Mint one service's leaf at release time and deliver it.")
    p.add_argument("--repo", required=True, type=Path, help="the infra repo (holds inforge.yaml)")
    p.add_argument("--env", required=True, help="the environment, e.g. prd")
    p.add_argument("--service", required=True, help="the service being released")
    p.add_argument("--out", required=True, type=Path, help="where to deliver <scope>/{cert,key,bundle}.pem")
    p.add_argument(
        "--secrets-key-file",
        type=Path,
        help="file holding the CI identity (default: INFORGE_SECRETS_KEY or INFORGE_SECRETS_KEY_FILE)",
    )
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Validate, mint, deliver; returns the exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    secrets_key = args.secrets_key_file.read_text(encoding="utf-8") if args.secrets_key_file else None
    try:
        errors = [d for d in inforge.validate(args.repo, args.env) if d.severity == "error"]
        for d in errors:
            print(f"error[{d.code}] {d.subject} ({d.file}): {d.message}\n  hint: {d.hint}", file=sys.stderr)
        if errors:
            print(f"{args.env} does not validate: nothing was minted", file=sys.stderr)
            return 1
        leaves: List[inforge.Leaf] = inforge.mint(args.repo, args.env, args.service, secrets_key=secrets_key)
    except inforge.Error as e:
        print(f"error[{e.code}]: {e.message}\n  hint: {e.hint}", file=sys.stderr)
        return 1
    now = datetime.now(timezone.utc)
    for leaf in leaves:
        link = deliver(leaf, args.out)
        days = (leaf.not_after - now).days
        record = {
            "service": leaf.service,
            "scope": leaf.scope,
            "spiffeId": leaf.spiffe_id,
            "serial": leaf.serial,
            "notAfter": leaf.not_after.isoformat(),
            "daysLeft": days,
            "dir": str(link),
        }
        print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Where a fuzz target's coverage grew: its committed corpus (at a git revision) against the
corpus on disk, edges summed by crate, and inforge-core's functions that gained edges.

    python3 scripts/fuzz-coverage.py <target> [<rev>]     (rev: default HEAD)
    python3 scripts/fuzz-coverage.py <target> --before <time>

With --before, the "before" corpus is the on-disk inputs found before <time> (file mtime;
<time> as `date -d` reads it, e.g. "14:40" or "@1796400000"): replaying the inputs found up
to two thirds of a run against all of them says which crate's edges grew in its last third,
so a plateau can be judged for inforge-core apart from the parsers it drives.

Needs the target built (`cargo fuzz build -O <target>` in core/, or any `cargo fuzz run`).
libFuzzer replays each corpus once (`-runs=0 -print_coverage=1`); nothing is fuzzed.
docs/development.md#fuzzing says how the plateau is judged with it.
"""
import collections
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINE = re.compile(r"(UN)?COVERED_FUNC: hits: \d+ edges: (\d+)/(\d+) (.*) (\S+):\d+$")


def replay(binary, corpus):
    out = subprocess.run(
        [binary, "-runs=0", "-print_coverage=1", corpus], capture_output=True, text=True, errors="replace"
    )
    funcs = {}
    for line in (out.stdout + out.stderr).splitlines():
        m = LINE.match(line.strip())
        if m:
            funcs[(m.group(4), m.group(5))] = (int(m.group(2)), int(m.group(3)))
    if not funcs:
        sys.exit(f"no coverage printed by {binary} (is it a libFuzzer build?)")
    return funcs


def crate(path):
    if path.startswith(os.path.join(ROOT, "core/src/")):
        return "inforge-core"
    if "/registry/src/" in path:
        return path.split("/registry/src/")[1].split("/")[1].rsplit("-", 1)[0]
    return "std" if path.startswith("/rustc/") else "other"


def by_crate(funcs):
    # inforge-core's serde-derived code (the visitors `#[derive(Deserialize)]` writes) is
    # counted apart: its edges follow the YAML parser's, not inforge's own logic.
    c = collections.Counter()
    for (name, path), (cov, _) in funcs.items():
        k = crate(path)
        if k == "inforge-core" and "serde" in name:
            k = "inforge-core (serde-derived)"
        c[k] += cov
    return c


def main():
    args = sys.argv[1:]
    before_time = None
    if len(args) == 3 and args[1] == "--before":
        stamp = subprocess.run(["date", "-d", args[2], "+%s"], capture_output=True, text=True)
        if stamp.returncode != 0:
            sys.exit(f"--before: `date -d` cannot read {args[2]!r}")
        before_time = int(stamp.stdout)
        args = args[:1]
    if len(args) not in (1, 2):
        sys.exit(__doc__)
    target, rev = args[0], (args[1] if len(args) == 2 else "HEAD")
    binary = os.path.join(ROOT, "core/fuzz/target/x86_64-unknown-linux-gnu/release", target)
    if not os.access(binary, os.X_OK):
        sys.exit(f"{binary} is not built: run `cargo fuzz build -O {target}` in core/")
    corpus = os.path.join(ROOT, "core/fuzz/corpus", target)
    with tempfile.TemporaryDirectory() as tmp:
        early = os.path.join(tmp, "before")
        if before_time is not None:
            # The inputs the fuzzer had found by then (hard links: nothing is copied).
            rev = "found before " + args_label(before_time)
            os.mkdir(early)
            for name in os.listdir(corpus):
                src = os.path.join(corpus, name)
                if os.stat(src).st_mtime < before_time:
                    os.link(src, os.path.join(early, name))
        else:
            archive = subprocess.run(
                ["git", "-C", ROOT, "archive", rev, f"core/fuzz/corpus/{target}"], capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
            os.rename(os.path.join(tmp, "core/fuzz/corpus", target), early)
        before = replay(binary, early)
    after = replay(binary, corpus)
    a, b = by_crate(before), by_crate(after)
    print(f"{target}: edges covered by the corpus {rev} and on disk, by crate")
    print(f"  {'crate':24} {'before':>10} {'on disk':>8}")
    for k in sorted(set(a) | set(b), key=lambda k: -b[k]):
        if a[k] or b[k]:
            print(f"  {k:24} {a[k]:10} {b[k]:8}")
    print(f"  {'total':24} {sum(a.values()):10} {sum(b.values()):8}")
    grew = [
        (k, before.get(k, (0, t))[0], c, t)
        for k, (c, t) in sorted(after.items())
        if crate(k[1]) == "inforge-core" and c != before.get(k, (0, t))[0]
    ]
    print(f"inforge-core functions whose covered edges changed: {len(grew)}")
    for (name, path), c0, c, t in grew:
        print(f"  {c0:5} -> {c:5} of {t:5}  {name[:100]}  ({os.path.relpath(path, ROOT)})")


def args_label(epoch):
    return subprocess.run(["date", "-u", "-d", f"@{epoch}", "+%Y-%m-%d %H:%M:%S UTC"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Fails when the module graph of core/ or host/ has a cycle (ARCHITECTURE.md promises a DAG).

A module is a file (`a/b.rs` and `a/b/mod.rs` are `a::b`). An edge A -> B is any
`crate::B...` path in A's code outside comments and `#[cfg(test)]` modules (test code may
reach across: it is not part of the graph a reader navigates). A path resolves to the longest
module prefix that exists; `crate::Error`/`crate::Coded`/`crate::remedy!` (re-exports at the
root) count as `error`. A parent `mod.rs` that only declares its children is not an edge.
Prints each cycle found, and `modules: N, edges: E, cycles: 0` when there is none.
"""
import os
import re
import sys

ROOT_REEXPORTS = {"Error": "error", "Coded": "error", "Remedy": "error", "Wording": "error", "remedy": "error"}


def modules(src):
    mods = {}
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), src)[:-3].split(os.sep)
            if rel[-1] == "mod":
                rel = rel[:-1]
            if rel in (["lib"], ["main"]):
                continue
            mods["::".join(rel)] = os.path.join(dirpath, f)
    return mods


def strip(text):
    cut = text.find("#[cfg(test)]\nmod tests")
    if cut >= 0:
        text = text[:cut]
    return "\n".join(line for line in text.split("\n") if not line.strip().startswith("//"))


def resolve(path, mods):
    parts = path.split("::")
    if parts[0] in ROOT_REEXPORTS and parts[0] not in mods:
        return ROOT_REEXPORTS[parts[0]]
    for n in range(len(parts), 0, -1):
        cand = "::".join(parts[:n])
        if cand in mods:
            return cand
    return None


def graph(src):
    mods = modules(src)
    edges = {m: set() for m in mods}
    for m, f in mods.items():
        text = strip(open(f, encoding="utf-8").read())
        paths = re.findall(r"\bcrate::((?:[A-Za-z_][A-Za-z0-9_]*)(?:::[A-Za-z_][A-Za-z0-9_]*)*)", text)
        # `use super::x` inside a folder: a sibling.
        parent = m.rsplit("::", 1)[0] if "::" in m else ""
        base = m if f.endswith("mod.rs") else parent
        for sup in re.findall(r"\bsuper::([A-Za-z_][A-Za-z0-9_]*)", text):
            paths.append(f"{base}::{sup}" if base else sup)
        for p in paths:
            t = resolve(p, mods)
            # A module's own children and the module itself are not edges of the graph.
            if t and t != m and not t.startswith(m + "::"):
                edges[m].add(t)
    return mods, edges


def cycles(edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main():
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bad = False
    for crate in sys.argv[1:] or ["core/src", "host/src"]:
        mods, edges = graph(os.path.join(top, crate))
        found = cycles(edges)
        n_edges = sum(len(v) for v in edges.values())
        print(f"{crate}: modules: {len(mods)}, edges: {n_edges}, cycles: {len(found)}")
        for c in found:
            bad = True
            print(f"  cycle among: {', '.join(c)}")
            for a in c:
                print(f"    {a} -> {', '.join(sorted(t for t in edges[a] if t in c))}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

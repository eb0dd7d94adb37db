#!/usr/bin/env python3
"""Module import graph of src/ and its cycles.

Usage: scripts/import_graph.py [--depth N] [--allow A->B ...] [--root DIR]

Reads every src/**/*.rs, maps it to its module path (src/rtmp/media/video.rs ->
rtmp::media::video, mod.rs/lib.rs -> their directory's module), and collects
the crate modules each file names through `use crate::...`, `use super::...`,
`crate::x::y` paths in code, and `super::x` paths. An edge A -> B means a file of
module A names an item of module B (B outside A's own subtree; a module's own
children and ancestors are not edges). Modules are compared at the depth of
the top-level layer plus one (rtmp::chunk, rtmp::media, amf::amf0, ...), or
of the top-level layers alone with --depth 1 (rtmp, amf, event, ...).
Prints the edges and every strongly connected component with more than one
module; exits 1 when a cycle exists that is not allowed with --allow.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
DEPTH = [2]


def module_of(path):
    rel = os.path.relpath(path, ROOT)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return rel


def clip(mod):
    return "::".join(mod[: DEPTH[0]]) or "crate"


def strip_comments(text):
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def main():
    global ROOT
    allow = set()
    args = sys.argv[1:]
    while args:
        if args[0] == "--depth" and len(args) > 1:
            DEPTH[0] = int(args[1])
            args = args[2:]
        elif args[0] == "--root" and len(args) > 1:
            ROOT = args[1]
            args = args[2:]
        elif args[0] == "--allow" and len(args) > 1:
            allow.add(tuple(args[1].split("->")))
            args = args[2:]
        else:
            print(__doc__)
            return 2
    files = []
    for d, _, names in os.walk(ROOT):
        files += [os.path.join(d, n) for n in names if n.endswith(".rs")]
    known = set()
    for f in files:
        m = module_of(f)
        for i in range(1, len(m) + 1):
            known.add(tuple(m[:i]))
    edges = {}
    for f in sorted(files):
        me = module_of(f)
        # A file named foo.rs inside dir/ whose parent declares it is module
        # me; `super` is me[:-1] (for mod.rs files too, since module_of drops
        # the mod component).
        text = strip_comments(open(f, encoding="utf-8").read())
        # Test-only code (cfg(test) modules in separate files) still counts.
        targets = []
        for m in re.finditer(r"\b(crate|super(?:::super)*)((?:::[a-z_][a-z0-9_]*)+)", text):
            head, tail = m.group(1), m.group(2).split("::")[1:]
            if head == "crate":
                base = []
            else:
                ups = head.count("super")
                base = me[: len(me) - ups]
            path = base + tail
            # longest known module prefix
            while path and tuple(path) not in known:
                path = path[:-1]
            if path:
                targets.append(path)
        for t in targets:
            a, b = clip(me), clip(t)
            if a == b:
                continue
            # ancestors/children of the same top-level layer are not edges
            if me[:len(t)] == t or t[:len(me)] == me:
                continue
            edges.setdefault(a, set()).add(b)
    # Tarjan's SCC
    index, low, stack, on, sccs = {}, {}, [], set(), []
    counter = [0]
    nodes = sorted(set(edges) | {b for v in edges.values() for b in v})

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strong(w)
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
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            strong(v)
    for a in sorted(edges):
        print(f"{a} -> {', '.join(sorted(edges[a]))}")
    bad = False
    for comp in sccs:
        inner = [(a, b) for a in comp for b in edges.get(a, ()) if b in comp]
        unallowed = [e for e in inner if e not in allow]
        status = "allowed" if not unallowed else "CYCLE"
        bad |= bool(unallowed)
        print(f"{status}: {' <-> '.join(comp)}")
        for a, b in sorted(inner):
            print(f"    {a} -> {b}{'' if (a, b) in allow else '   <-- not allowed'}")
    if not sccs:
        print("no cycles")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""File-level import graph of each crate, and a check that it has no cycle.

    scripts/imports.py            # prints each crate's graph and its cycles
    scripts/imports.py --check    # exit 1 if a crate has a cycle not allowed below
    scripts/imports.py --longest  # the longest files by lines of code

An edge A -> B means a path in A (a `use`, or an inline `crate::`/`super::`/
`self::` path in code, not in comments) names an item defined in B. A name
that a module re-exports (`pub use`) is followed to the file that defines it,
so `use crate::Op` counts as an import of aio-core/src/op/owner.rs, not of
lib.rs. `mod x;` declarations and `#[doc = include_str!]` are not imports.
Files under src/tests/ (the loom models) are left out: nothing imports them.

The parser is a regex approximation of Rust's path syntax, good enough for
this workspace's style (one `use` per item group, no macros generating
paths); it errs towards reporting an edge, never towards hiding one.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRATES = ["aio-core", "blockdev", "aio-pool", "aio-posix", "aio-posix/cabi", "aio-bench", "tests", "test-support"]

# Cycles that are kept on purpose, with the reason written at the place named.
# (crate, frozenset of files) -> where the reason is written.
ALLOWED = {}


def strip_comments(src):
    out = []
    for line in src.splitlines():
        s = line.lstrip()
        if s.startswith("//"):
            continue
        out.append(re.sub(r"//.*$", "", line) if '"' not in line else line)
    text = "\n".join(out)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def strip_unit_tests(text):
    """Drops a trailing `#[cfg(test)] mod tests { ... }`: unit tests may use anything."""
    m = re.search(r"#\[cfg\((?:all\()?test[^\]]*\]\s*mod\s+\w+\s*\{", text)
    return text[: m.start()] if m else text


def inline_mods(text):
    """Inside an inline `mod x { ... }`, `super::` names the file's own module."""
    out, i = [], 0
    for mm in re.finditer(r"\bmod\s+\w+\s*\{", text):
        if mm.start() < i:
            continue
        depth, j = 0, mm.end() - 1
        while j < len(text):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        out.append(text[i:mm.start()])
        out.append(re.sub(r"\bsuper::", "self::", text[mm.start():j + 1]))
        i = j + 1
    out.append(text[i:])
    return "".join(out)


def module_files(crate):
    src = os.path.join(ROOT, crate, "src")
    files = {}
    if not os.path.isdir(src):
        return files
    for dirpath, _, names in os.walk(src):
        for n in names:
            if not n.endswith(".rs"):
                continue
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, src)
            if rel.startswith("tests" + os.sep) or rel.startswith("bin" + os.sep):
                continue
            parts = rel[:-3].split(os.sep)
            if parts[-1] in ("lib", "main"):
                parts = parts[:-1]
            elif parts[-1] == "mod":
                parts = parts[:-1]
            files[tuple(parts)] = p
    return files


def expand_use(body):
    """Expands a use tree `a::{b, c::{d, e}}` into full paths."""
    body = body.strip()
    m = re.match(r"^(.*?)\{(.*)\}$", body, flags=re.S)
    if not m:
        return [re.sub(r"\s+as\s+\w+$", "", body).strip()]
    prefix, inner = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        if p.strip():
            for e in expand_use(p):
                out.append((prefix + e) if e != "self" else prefix.rstrip(":"))
    return out


def child_relative(path, here):
    """`use child::X` inside a module names its child module (edition 2018)."""
    segs = [s for s in path.split("::") if s]
    if segs and tuple(list(here) + segs[:1]) in FILES:
        return tuple(list(here) + segs)
    return None


FILES = {}
WHY = "--why" in sys.argv


def absolute(path, here):
    """Turns crate::/super::/self:: paths into a tuple from the crate root."""
    segs = [s for s in path.split("::") if s]
    if not segs:
        return None
    cur = list(here)
    if segs[0] == "crate":
        cur, segs = [], segs[1:]
    elif segs[0] in ("super", "self"):
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                cur = cur[:-1]
            segs = segs[1:]
    else:
        return None
    return tuple(cur + segs)


def main():
    check = "--check" in sys.argv
    longest = "--longest" in sys.argv
    bad = False
    rows = []
    for crate in CRATES:
        files = module_files(crate)
        FILES.clear()
        FILES.update(files)
        if not files:
            continue
        texts = {m: inline_mods(strip_unit_tests(strip_comments(open(p).read()))) for m, p in files.items()}
        # Re-exports: module -> {name: absolute path}
        reexp = {}
        for m, t in texts.items():
            d = {}
            for u in re.finditer(r"pub(?:\([^)]*\))?\s+use\s+([^;]+);", t):
                for full in expand_use(u.group(1)):
                    a = absolute(full, m)
                    if a is None:
                        a = child_relative(full, m)
                    if a is not None:
                        d[a[-1]] = a
            reexp[m] = d

        def resolve(path, depth=0):
            # longest module prefix
            for k in range(len(path), -1, -1):
                if path[:k] in files:
                    mod, rest = path[:k], path[k:]
                    if rest and rest[0] in reexp.get(mod, {}) and depth < 8:
                        target = reexp[mod][rest[0]] + rest[1:]
                        if target != path:
                            return resolve(target, depth + 1)
                    return mod
            return None

        edges = {m: set() for m in files}
        local = {}
        for m, t in texts.items():
            names = set(re.findall(r"\b(?:fn|struct|enum|trait|type|const|static|mod|union)\s+(\w+)", t))
            for u in re.finditer(r"\buse\s+([^;]*);", t):
                for full in expand_use(u.group(1)):
                    names.add(full.split("::")[-1])
            local[m] = names
        hubs = {m for m, t in texts.items()
                if not re.search(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:unsafe\s+)?(?:fn|struct|enum|trait|type|const|static|impl|union|macro_rules!)\b", t, flags=re.M)}
        for m, t in texts.items():
            paths = []
            for u in re.finditer(r"\buse\s+([^;]*);", t):
                paths += expand_use(u.group(1))
            for u in re.finditer(r"\b((?:crate|super|self)(?:::\w+)+)", t):
                paths.append(u.group(1))
            for p in paths:
                a = absolute(p, m) or child_relative(p, m)
                if a is None:
                    continue
                r = resolve(a)
                if WHY and r is not None and r != m:
                    print(f"    {'/'.join(m) or 'lib'} -> {'/'.join(r) or 'lib'} by {p}")
                if r in hubs:
                    continue
                if r is not None and r != m and r in files:
                    # a parent naming its own child's items through `mod` is fine;
                    # re-export lines of a parent are not imports of the child
                    edges[m].add(r)
        # Parent modules that only re-export their children: drop edges from a
        # module to its descendants when the only reference is a `pub use`.
        for m, t in texts.items():
            body = re.sub(r"pub(?:\([^)]*\))?\s+use\s+[^;]+;", "", t)
            for r in list(edges[m]):
                if r[: len(m)] == m and len(r) > len(m):
                    still = False
                    for u in re.finditer(r"\b((?:crate|super|self)(?:::\w+)+)", body):
                        a = absolute(u.group(1), m)
                        if a and resolve(a) == r:
                            still = True
                    for u in re.finditer(r"\buse\s+((?:crate|super|self)\b[^;]*);", body):
                        for full in expand_use(u.group(1)):
                            a = absolute(full, m)
                            if a and resolve(a) == r:
                                still = True
                    if not still:
                        edges[m].discard(r)

        name = lambda m: os.path.relpath(files[m], os.path.join(ROOT, crate, "src"))
        sccs = tarjan(edges)
        cycles = [s for s in sccs if len(s) > 1]
        if longest:
            for m, p in files.items():
                loc = sum(1 for l in open(p) if l.strip() and not l.strip().startswith("//"))
                rows.append((loc, f"{crate}/src/{name(m)}"))
            continue
        print(f"== {crate}")
        for m in sorted(edges, key=name):
            if edges[m]:
                print(f"  {name(m)} -> {', '.join(sorted(name(r) for r in edges[m]))}")
        for c in cycles:
            key = (crate, frozenset(name(m) for m in c))
            where = ALLOWED.get(key)
            tag = f"allowed: {where}" if where else "CYCLE"
            print(f"  {tag}: {{{', '.join(sorted(name(m) for m in c))}}}")
            if not where:
                bad = True
        if not cycles:
            print("  no cycle")
    if longest:
        for loc, p in sorted(rows, reverse=True)[:15]:
            print(f"{loc:6} {p}")
        return 0
    return 1 if (bad and check) else 0


def tarjan(edges):
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
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
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            strong(v)
    return out


if __name__ == "__main__":
    sys.exit(main())

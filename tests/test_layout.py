"""The house's layout rules, checked on the source: imports only go down, no module a person
cannot hold in their head, one home for the fusion rule, package boundaries."""

from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
#: folder -> installed package name
PACKAGES = {"p2i_prior": "p2i_prior", "kernels": "p2i_prior.kernels", "p2i_net": "p2i_net",
            "bench": "p2i_bench"}
MAX_LINES = 800


def _modules() -> dict[str, str]:
    """Installed module name -> file path, for every project module."""
    out = {}
    for folder, package in PACKAGES.items():
        base = os.path.join(ROOT, folder)
        for dirpath, _dirs, files in os.walk(base):
            rel = os.path.relpath(dirpath, base)
            prefix = package if rel == "." else package + "." + rel.replace(os.sep, ".")
            for f in files:
                if f.endswith(".py"):
                    name = prefix if f == "__init__.py" else f"{prefix}.{f[:-3]}"
                    out[name] = os.path.join(dirpath, f)
    return out


MODULES = _modules()


def _imports(name: str, path: str) -> set[str]:
    """Project modules that ``name`` imports anywhere (module level and inside functions)."""
    with open(path) as f:
        tree = ast.parse(f.read())
    is_pkg = path.endswith("__init__.py")
    package = name if is_pkg else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        for t in targets:
            t = t.replace("bench.", "p2i_bench.", 1) if t.startswith("bench.") else t
            if t in MODULES and t != name and not t.endswith("__init__"):
                # a package import means its __init__, which imports nothing eagerly
                if t in PACKAGES.values() and t != name:
                    continue
                found.add(t)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
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

    for v in GRAPH:
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_sees_function_level_imports():
    assert "p2i_prior.pipeline_device" in GRAPH["p2i_prior.pipeline"]  # imported inside a function
    assert "p2i_prior.kernels.cuda_common" in GRAPH["p2i_prior.kernels.cuda_slic"]


def test_no_import_cycles():
    assert _cycles() == []


def test_kernels_import_nothing_from_the_host():
    bad = {m: sorted(d for d in deps if not d.startswith("p2i_prior.kernels"))
           for m, deps in GRAPH.items() if m.startswith("p2i_prior.kernels")}
    assert {m: d for m, d in bad.items() if d} == {}


def test_p2i_prior_names_neither_p2i_net_nor_bench():
    offenders = []
    for name, path in MODULES.items():
        if not name.startswith("p2i_prior"):
            continue
        with open(path) as f:
            text = f.read()
        for word in ("p2i_net", "p2i_bench", "bench.cli", "import bench"):
            if word in text:
                offenders.append(f"{name}: {word}")
    assert offenders == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_over_800_lines(name):
    with open(MODULES[name]) as f:
        n = sum(1 for _ in f)
    assert n <= MAX_LINES, f"{name}: {n} lines"


def test_one_module_holds_the_fusion_rule():
    """The argmax-of-score rule is written once for the host (fusion.py) and once per pixel
    for both targets (kernels/fusion.py); nothing else computes it."""
    homes = set()
    for name, path in MODULES.items():
        with open(path) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name in (
                "softmax_instances", "segment_instances", "fuse", "nearest_instances", "segment_at",
                "fuse_at", "segment_labels"):
                homes.add((node.name, name))
    modules = {m for _, m in homes}
    assert modules == {"p2i_prior.fusion", "p2i_prior.kernels.fusion"}, sorted(homes)

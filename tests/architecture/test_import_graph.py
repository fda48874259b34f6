"""The import rules of ``../shared/ARCHITECTURE.md``, held against the real import graph.

Every ``.py`` file of the project's packages is parsed (``ast``); every import — at module level or
inside a function — is an edge. Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``, so
those are edges too (except packages the importer already sits in). The tests fail on a cycle among
the project's modules and on an edge the architecture forbids.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("sampler", "models", "provider", "validator", "peers", "codegen", "generated", "benchmarks",
            "oairef")
HTTP = ("requests", "httpx", "fastapi", "starlette", "uvicorn", "aiohttp", "urllib3", "http")

#: package -> packages (ours or third-party top-level names) it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "sampler": ("models", "provider", "validator", "peers", "codegen", "generated", "benchmarks", *HTTP),
    "generated": ("sampler", "models", "provider", "validator", "peers", "codegen", "benchmarks"),
    "validator": ("sampler", "models", "provider", "peers", "codegen", "benchmarks"),
    "models": ("provider", "validator", "peers", "codegen", "generated", "benchmarks", *HTTP),
    "provider": ("validator", "peers", "codegen", "benchmarks"),
    "peers": ("sampler", "provider", "codegen", "benchmarks"),
    "codegen": ("sampler", "models", "provider", "validator", "peers", "generated", "benchmarks"),
    "benchmarks": ("validator", "peers", "codegen"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            out[_module_name(path)] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return (ROOT / name.replace(".", "/") / "__init__.py").is_file()


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Line numbers of statements under ``if TYPE_CHECKING:`` (not imported at run time)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                for sub in ast.walk(stmt):
                    if hasattr(sub, "lineno"):
                        lines.add(sub.lineno)
    return lines


def _imports(name: str, path: Path) -> list[tuple[str, bool]]:
    """``(imported module, at run time)`` for every import in ``path`` (relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        runtime = getattr(node, "lineno", 0) not in typing_only
        if isinstance(node, ast.Import):
            out += [(a.name, runtime) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((mod, runtime))
            for a in node.names:  # ``from pkg import submodule``
                if f"{mod}.{a.name}" in MODULES:
                    out.append((f"{mod}.{a.name}", runtime))
    return out


def _edges(runtime_only: bool) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for name, path in MODULES.items():
        for mod, runtime in _imports(name, path):
            if runtime_only and not runtime:
                continue
            parts = mod.split(".")
            for i in range(1, len(parts) + 1):
                target = ".".join(parts[:i])
                if target == name or target not in MODULES:
                    continue
                if name.startswith(target + ".") and _is_package(target):
                    continue  # a package the importer sits in is initialised before the importer runs
                graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), or a self-loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
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
                found.append(sorted(comp))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_sees_the_project() -> None:
    """The walk finds every package and real edges (a broken walk would pass the other tests)."""
    graph = _edges(runtime_only=False)
    assert {m.split(".")[0] for m in graph} == set(PACKAGES)
    assert "sampler" in graph["provider.requests_parse"]
    assert "validator.context" in graph["validator.probing"]
    assert "validator.checks" in graph["validator.runner"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    assert _cycles(_edges(runtime_only=True)) == []


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_forbidden_imports(package: str) -> None:
    banned = FORBIDDEN[package]
    bad = []
    for name, path in MODULES.items():
        if name.split(".")[0] != package:
            continue
        for mod, _ in _imports(name, path):
            if mod.split(".")[0] in banned:
                bad.append(f"{name} imports {mod}")
    assert bad == []


def test_nothing_imports_oairef() -> None:
    bad = [f"{name} imports {mod}" for name, path in MODULES.items() if not name.startswith("oairef")
           for mod, _ in _imports(name, path) if mod.split(".")[0] == "oairef"]
    assert bad == []


@pytest.mark.parametrize("module", ["validator.probing", "validator.checks.base", "provider.routes_completions",
                                    "provider.state", "models.llama", "peers.llama_cpp_python"])
def test_first_import_in_a_fresh_interpreter(module: str) -> None:
    """Each module imports on its own, first, in a fresh interpreter (no partially initialised module)."""
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]

"""The whole of ``oairef codegen``: spec -> every file of ``generated/``, then write or compare.

Rules: the output depends only on the spec and the templates (no timestamps, sorted resources);
every file starts with ``HEADER``; writing removes ``.py`` files in the output directory that start
with ``HEADER`` but are no longer produced (it never removes a file it did not write); comparing
reports files that differ, are missing, are stale generated files, or are any other file codegen
would not write (the output directory holds codegen's output only; ``__pycache__/`` and ``*.pyc``
are ignored).
"""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codegen.methods import method_paths
from codegen.modelgen import HEADER, ModelGenerationError, generate_models, model_class_names
from codegen.naming import lift_inline_schemas
from codegen.operations import OperationReader
from codegen.render import render_client
from codegen.rules import extract_rules
from codegen.spec import SpecError

VERSION = "0.1.0"


def _check_top(spec: Any) -> None:
    if not isinstance(spec, dict):
        raise SpecError("", "the spec must be a mapping")
    version = spec.get("openapi")
    if not isinstance(version, str) or not version.startswith("3."):
        raise SpecError("/openapi", f"expected an OpenAPI 3.x version string, got {version!r}")
    components = spec.get("components", {})
    if not isinstance(components, dict):
        raise SpecError("/components", "components must be a mapping")
    if not isinstance(components.get("schemas", {}), dict):
        raise SpecError("/components/schemas", "schemas must be a mapping")


def _default_base_url(spec: dict[str, Any]) -> str:
    servers = spec.get("servers")
    if isinstance(servers, list) and servers and isinstance(servers[0], dict) and isinstance(
            servers[0].get("url"), str):
        return servers[0]["url"].rstrip("/")
    return "https://api.openai.com/v1"


def build(spec: dict[str, Any], *, strict: bool = True) -> dict[str, str]:
    """Every generated file (path relative to the output directory -> text); ``strict=False`` reads
    a spec written elsewhere leniently (see ``codegen.operations``)."""
    _check_top(spec)
    rules = extract_rules(spec)
    named = lift_inline_schemas(spec)
    models_source = generate_models(named)
    classes = model_class_names(models_source)
    unruled = sorted(set(rules) - classes)
    if unruled:  # the rules are looked up by class name: a renamed class would silently lose them
        raise ModelGenerationError(f"schemas with x-oairef-rules did not become model classes: {', '.join(unruled)}")
    operations = OperationReader(named, classes, method_paths(named), strict=strict).read_all()
    files = render_client(operations, rules, header=HEADER, default_base_url=_default_base_url(spec),
                          version=VERSION)
    files["models.py"] = models_source
    return dict(sorted(files.items()))


def _present_files(out: Path) -> set[str]:
    """Paths (relative, POSIX) of every file under ``out`` but Python's caches (``__pycache__/``, ``*.pyc``)."""
    if not out.is_dir():
        return set()
    return {path.relative_to(out).as_posix() for path in out.rglob("*")
            if path.is_file() and "__pycache__" not in path.relative_to(out).parts and path.suffix != ".pyc"}


def _has_header(path: Path) -> bool:
    """Whether ``path`` is a ``.py`` file whose first line is the generated header."""
    if path.suffix != ".py":
        return False
    try:
        with path.open(encoding="utf-8") as fh:
            return fh.readline().rstrip("\n") == HEADER
    except (OSError, UnicodeDecodeError):
        return False


def _generated_files(out: Path) -> set[str]:
    """Paths (relative, POSIX) of files under ``out`` that carry the generated header."""
    return {rel for rel in _present_files(out) if _has_header(out / rel)}


def write(files: dict[str, str], out: Path) -> list[str]:
    """Write ``files`` under ``out`` (only those whose bytes change); returns the paths touched."""
    touched: list[str] = []
    for rel, text in files.items():
        target = out / rel
        data = text.encode("utf-8")
        if target.is_file() and target.read_bytes() == data:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
        touched.append(rel)
    for rel in sorted(_generated_files(out) - set(files)):
        (out / rel).unlink()
        touched.append(rel)
    return touched


@dataclass
class Difference:
    """One way ``out`` differs from what codegen would write."""

    path: str
    kind: str  # changed | missing | extra (a stale generated file) | stray (any other file)
    added: int = 0
    removed: int = 0

    def describe(self) -> str:
        if self.kind == "changed":
            return f"{self.path}: differs (+{self.added} -{self.removed} lines)"
        if self.kind == "missing":
            return f"{self.path}: missing"
        if self.kind == "stray":
            return f"{self.path}: not written by codegen (remove it; the output directory is codegen's alone)"
        return f"{self.path}: stale generated file (no longer produced)"


def compare(files: dict[str, str], out: Path) -> list[Difference]:
    """Differences between ``files`` and the contents of ``out``."""
    diffs: list[Difference] = []
    for rel, text in files.items():
        target = out / rel
        if not target.is_file():
            diffs.append(Difference(rel, "missing"))
            continue
        current = target.read_bytes()
        if current == text.encode("utf-8"):
            continue
        old = current.decode("utf-8", errors="replace").splitlines()
        added = removed = 0
        for line in difflib.unified_diff(old, text.splitlines(), lineterm="", n=0):
            if line.startswith("+") and not line.startswith("+++"):
                added += 1
            elif line.startswith("-") and not line.startswith("---"):
                removed += 1
        diffs.append(Difference(rel, "changed", added, removed))
    for rel in sorted(_present_files(out) - set(files)):
        diffs.append(Difference(rel, "extra" if _has_header(out / rel) else "stray"))
    return diffs

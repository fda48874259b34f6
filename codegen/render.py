"""Rendering the client: Jinja templates in ``codegen/templates/`` plus the runtime in ``codegen/runtime/``.

Rules: templates are strict (an undefined name is an error); output is normalised to LF line
ends, no trailing spaces and exactly one final newline, so it is byte-identical run after run.
Every ``codegen/runtime/_*.py`` module is copied as it is, below the generated header.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from codegen.methods import CLIENT_RESERVED, RESOURCE_RESERVED
from codegen.operations import Operation
from codegen.spec import SpecError

TEMPLATE_DIR = Path(__file__).parent / "templates"
RUNTIME_DIR = Path(__file__).parent / "runtime"


@dataclass
class ResourceNode:
    """One node of the resource tree (``client.fine_tuning.jobs``)."""

    path: tuple[str, ...]
    children: list[ResourceNode] = field(default_factory=list)
    operations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def attr(self) -> str:
        return self.path[-1]

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    @property
    def cls(self) -> str:
        return "".join(part.title().replace("_", "") for part in self.path)


def _docstr(text: Any) -> str:
    value = " ".join(str(text).split())
    return value.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').rstrip('"')


def _pyliteral(value: Any, indent: int = 4, level: int = 0) -> str:
    """``value`` (JSON-like data) as a Python literal, one item per line, in insertion order."""
    pad, inner = " " * (indent * level), " " * (indent * (level + 1))
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{k!r}: {_pyliteral(v, indent, level + 1)}," for k, v in value.items()]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        items = [f"{inner}{_pyliteral(v, indent, level + 1)}," for v in value]
        return "[\n" + "\n".join(items) + f"\n{pad}]"
    return repr(value)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["pyrepr"] = repr
    env.filters["pyliteral"] = _pyliteral
    env.filters["docstr"] = _docstr
    return env


def normalise(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and lines[-1] == "":
        lines.pop()
    out: list[str] = []
    for line in lines:  # at most two blank lines in a row
        if line == "" and len(out) >= 2 and out[-1] == "" and out[-2] == "":
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def _annotations(op: Operation, aio: bool) -> dict[str, str]:
    """Annotations of the sync (or async) method: ``plain`` (without ``stream=True``), ``stream``
    (with it) and ``either``."""
    def model(name: str | None) -> str:
        return f"models.{name}" if name else "dict[str, Any]"

    kind = op.response_kind
    if kind == "none":
        base = "None"
    elif kind == "binary":
        base = "BinaryResponse"
    elif kind == "page":
        item = f"models.{op.page_item_model}" if op.page_item_model else "Any"
        base = f"AsyncPaginator[{item}]" if aio else f"Page[{item}]"
    elif kind == "union":
        base = " | ".join(f"models.{n}" for n in op.response_union)
    else:
        base = model(op.response_model)
    if op.text_alternative:
        base += " | str"
    if not op.streams:
        return {"plain": base, "stream": base, "either": base}
    stream = f"{'AsyncStream' if aio else 'Stream'}[{model(op.stream_model)}]"
    return {"plain": base, "stream": stream, "either": f"{base} | {stream}"}


def _op_context(op: Operation) -> dict[str, Any]:
    return {
        "name": op.name,
        "const": "_" + "_".join(op.method_path).upper(),
        "http_method": op.http_method,
        "path": op.path,
        "summary": op.summary,
        "params": op.params,
        "positional": op.positional,
        "keyword": op.keyword,
        "body_kind": op.body_kind,
        "media_type": op.media_type,
        "request_model": op.request_model,
        "response_kind": op.response_kind,
        "response_model": op.response_model,
        "streams": op.streams,
        "stream_model": op.stream_model,
        "stream_declared": op.stream_declared,
        "page_item_model": op.page_item_model,
        "cursor_param": op.cursor_param,
        "cursor_field": op.cursor_field,
        "response_union": op.response_union,
        "text_alternative": op.text_alternative,
        "query_constraints": {p.name: p.constraints for p in op.params if p.location == "query" and p.constraints},
        "annotations": _annotations(op, aio=False),
        "async_annotations": _annotations(op, aio=True),
    }


def resource_tree(operations: list[Operation]) -> list[ResourceNode]:
    """Top-level resource nodes (sorted by name), each holding its subtree."""
    nodes: dict[tuple[str, ...], ResourceNode] = {}
    for op in operations:
        res = op.resource_path
        for i in range(1, len(res) + 1):
            if res[:i] not in nodes:
                nodes[res[:i]] = ResourceNode(res[:i])
                if i > 1:
                    nodes[res[:i - 1]].children.append(nodes[res[:i]])
        nodes[res].operations.append(_op_context(op))
    classes: dict[str, tuple[str, ...]] = {}
    for path, node in nodes.items():
        if node.cls in classes:
            raise SpecError(operations[0].pointer.split("/paths")[0] + "/paths",
                            f"resources {'.'.join(classes[node.cls])} and {'.'.join(path)} "
                            f"would share the class name {node.cls}")
        classes[node.cls] = path
        node.children.sort(key=lambda n: n.attr)
        node.operations.sort(key=lambda o: o["name"])
        method_names = {o["name"] for o in node.operations}
        for child in node.children:
            if child.attr in method_names:
                raise SpecError("/paths", f"{child.dotted} is both a method and a resource")
        for name in sorted((method_names | {c.attr for c in node.children}) & RESOURCE_RESERVED):
            raise SpecError("/paths", f"{node.dotted}.{name} collides with an attribute every resource has")
    tops = sorted((n for p, n in nodes.items() if len(p) == 1), key=lambda n: n.attr)
    for top in tops:
        if top.attr in CLIENT_RESERVED:
            raise SpecError("/paths", f"top-level resource {top.attr!r} collides with a client attribute")
    return tops


def _subtree(node: ResourceNode) -> list[ResourceNode]:
    """``node`` and its descendants, deepest first (so classes are defined before use)."""
    out: list[ResourceNode] = []
    for child in node.children:
        out.extend(_subtree(child))
    out.append(node)
    return out


#: names a resource module may use, by the module that provides them
_IMPORTABLE = {
    "abc": ("Mapping", "Sequence"),
    "typing": ("Any", "Literal", "overload"),
    "._files": ("BinaryResponse",),
    "._pagination": ("AsyncPaginator", "Page"),
    "._resource": ("AsyncAPIResource", "SyncAPIResource"),
    "._response": ("async_to_raw_response_wrapper", "async_to_streamed_response_wrapper",
                   "to_raw_response_wrapper", "to_streamed_response_wrapper"),
    "._streaming": ("AsyncStream", "Stream"),
    "._types": ("NOT_GIVEN", "FileInput", "NotGiven", "OperationSpec", "Timeout"),
}


def _imports(body: str) -> dict[str, Any]:
    """The imports a rendered resource body needs (only names it uses, so no unused imports)."""
    def used(name: str) -> bool:
        return re.search(rf"\b{name}\b", body) is not None

    local = [(module, [n for n in names if used(n)]) for module, names in _IMPORTABLE.items()
             if module.startswith(".")]
    return {
        "abc": [n for n in _IMPORTABLE["abc"] if used(n)],
        "typing": [n for n in _IMPORTABLE["typing"] if used(n)],
        "models": re.search(r"\bmodels\.", body) is not None,
        "local": [(module, names) for module, names in local if names],
    }


def _exported(nodes: list[ResourceNode]) -> list[str]:
    """The classes a resource module defines: sync then async, each with its response wrappers."""
    names: list[str] = []
    for prefix in ("", "Async"):
        for node in nodes:
            names += [f"{prefix}{node.cls}", f"{prefix}{node.cls}WithRawResponse",
                      f"{prefix}{node.cls}WithStreamingResponse"]
    return names


def runtime_files() -> dict[str, str]:
    """The hand-written runtime modules (``codegen/runtime/_*.py``) by file name, as source text."""
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(RUNTIME_DIR.glob("_*.py"))
            if not path.name.startswith("__")}


def render_client(operations: list[Operation], rules: Mapping[str, Any], *, header: str,
                  default_base_url: str, version: str) -> dict[str, str]:
    """Every client file, by path relative to the output directory."""
    env = environment()
    tops = resource_tree(operations)
    top_ctx = [{"attr": t.attr, "cls": t.cls, "module": t.attr, "exported": _exported(_subtree(t))}
               for t in tops]
    common = {"header": header, "top_resources": top_ctx, "default_base_url": default_base_url,
              "version": version, "operation_count": len(operations)}
    files: dict[str, str] = {name: f"{header}\n{text}" for name, text in runtime_files().items()}
    for name in ("__init__.py", "_client.py"):
        files[name] = env.get_template(f"{name}.j2").render(**common)
    files["_rules.py"] = env.get_template("_rules.py.j2").render(**common, rules=dict(rules))
    files["resources/__init__.py"] = env.get_template("resources_init.py.j2").render(**common)
    module = env.get_template("resource_module.py.j2")
    body_template = env.get_template("resource_body.j2")
    for top in tops:
        nodes = _subtree(top)
        count = sum(len(n.operations) for n in nodes)
        body = body_template.render(**common, nodes=nodes)
        files[f"resources/{top.attr}.py"] = module.render(
            **common, top={"attr": top.attr, "count": count}, nodes=nodes, body=body,
            imports=_imports(body), exported=_exported(nodes))
    return {path: normalise(text) for path, text in files.items()}

"""The JSON schema of ``--json`` output (draft 2020-12). Extra fields are allowed everywhere."""

from __future__ import annotations

from typing import Any

_NUM_OR_NULL: dict[str, Any] = {"type": ["number", "null"], "minimum": 0}

RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["impl", "config", "vocab", "batch", "shape", "median_s", "iqr_s", "roofline_s", "status"],
    "properties": {
        "impl": {"type": "string", "minLength": 1},
        "config": {"enum": ["greedy", "temperature", "top_p", "full"]},
        "vocab": {"type": "integer", "minimum": 1},
        "batch": {"type": "integer", "minimum": 1},
        "shape": {"enum": ["gaussian", "peaked"]},
        "median_s": _NUM_OR_NULL,
        "iqr_s": _NUM_OR_NULL,
        "roofline_s": _NUM_OR_NULL,
        "status": {"enum": ["ok", "absent", "skipped", "error"]},
        "note": {"type": "string"},
    },
    # a measured row has numbers; any other row says why it has none
    "if": {"properties": {"status": {"const": "ok"}}},
    "then": {"properties": {"median_s": {"type": "number"}, "iqr_s": {"type": "number"}}},
    "else": {"required": ["note"], "properties": {"note": {"minLength": 1}}},
}

BENCH_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["machine", "results"],
    "properties": {
        "machine": {
            "type": "object",
            "required": ["cpu", "cores", "python", "numpy"],
        },
        "settings": {"type": "object"},
        "results": {"type": "array", "items": RESULT_SCHEMA},
        "roofline": {"type": "array"},
        "first_call": {"type": "array"},
        "targets": {"type": "array"},
        "notes": {"type": "array", "items": {"type": "string"}},
        "client": {"type": ["object", "null"]},
        "numba_compile": {"type": ["object", "null"]},
    },
}

"""Every status the provider answers is one ``spec/openai.yaml`` documents for that operation.

The test walks every route x method the app serves (and every method the spec has on a path the app
serves, so an operation it does not implement shows up as the 405 it would answer), maps it to its
spec operation, sends it a battery of valid and hostile requests — unknown models, no key, malformed,
too deep, out of range, over the context and the token budget, over the body limit, overload — and
holds each status answered to the operation's documented responses. Routes outside the OpenAI API
(``/health``, ``/extras/*``) are named, not documented.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import fastapi.routing
import httpx
import pytest
import yaml
from server_support import API_KEY, GatedTiny, serving, wait_until

from provider.app import create_app
from provider.limits import Limits

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "spec" / "openai.yaml").read_text())
METHODS = ("get", "post", "put", "patch", "delete")
#: Routes of the app that are not OpenAI operations (and so not in the spec).
NOT_OPENAI = {"/health", "/extras/tokenize", "/extras/detokenize"}
#: A body each generation operation accepts.
VALID = {
    "/completions": {"model": "tiny", "prompt": "The keeper", "max_tokens": 2, "seed": 1},
    "/chat/completions": {"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2},
}
#: What the battery must draw from each operation (so every kind of answer was really exercised).
EXPECTED = {
    ("POST", "/completions"): {200, 400, 401, 404, 413, 429},
    ("POST", "/chat/completions"): {200, 400, 401, 404, 413, 429},
    ("GET", "/models"): {200, 401},
    ("GET", "/models/{model}"): {200, 401, 404},
    ("DELETE", "/models/{model}"): {400, 401, 404},
}


def documented(method: str, path: str) -> set[int]:
    op = SPEC["paths"].get(path, {}).get(method.lower())
    return set() if op is None else {int(code) for code in op["responses"]}


def spec_path(route_path: str) -> str:
    """``/v1/models/{model:path}`` -> ``/models/{model}``."""
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", route_path.removeprefix("/v1"))


def app_routes() -> list[tuple[str, set[str]]]:
    """``(path, methods)`` of every route of the app, included routers flattened (FastAPI >= 0.16x keeps
    them as included-router entries, older versions as plain routes)."""
    app = create_app("tiny")
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = list(flatten(app.routes)) if flatten is not None else list(app.routes)
    return [(str(r.path), set(r.methods)) for r in routes if getattr(r, "methods", None)]


def served_operations() -> set[tuple[str, str]]:
    routes = app_routes()
    assert {path for path, _ in routes if not path.startswith("/v1/")} == NOT_OPENAI
    ops = {(m, spec_path(path)) for path, methods in routes if path.startswith("/v1/") for m in methods}
    paths = {p for _, p in ops}
    ops |= {(m.upper(), p) for p in paths for m in METHODS if m in SPEC["paths"].get(p, {})}
    return ops


def battery(method: str, path: str, base: str) -> list[dict[str, Any]]:
    """``httpx.request`` arguments: valid and hostile requests to one operation."""
    url = base + path
    if "{model}" in path:
        return [{"method": method, "url": base + path.replace("{model}", name)}
                for name in ("tiny", "gpt-4o", "ft:tiny:org:abc", "a/b")]
    if method != "POST":
        return [{"method": method, "url": url}, {"method": method, "url": url, "params": {"limit": "x"}}]
    valid = VALID.get(path, {})
    bodies: list[Any] = [valid, {**valid, "model": "gpt-4o"}, {**valid, "temperature": 5}, {**valid, "n": "two"},
                         {**valid, "max_tokens": 10**8}, {**valid, "n": 128, "max_tokens": 2000}, {}, [valid]]
    raw = [json.dumps(b).encode() for b in bodies]
    raw += [b'{"model": ', b"[" * 5000, b"", json.dumps({**valid, "prompt": "x " * 1_100_000}).encode()]
    if "messages" in valid:
        raw.append(json.dumps({**valid, "messages": [{"role": "user", "content": "x " * 500_000}]}).encode())
    return [{"method": method, "url": url, "content": body, "headers": {"Content-Type": "application/json"}}
            for body in raw]


@pytest.fixture(scope="module")
def answered() -> Iterator[dict[tuple[str, str], set[int]]]:
    """The statuses each served operation answered to the battery, on an open server, a keyed one, and
    one whose only generation slot is held (429)."""
    ops = served_operations()
    out: dict[tuple[str, str], set[int]] = {op: set() for op in ops}
    with serving() as (url, _), httpx.Client(timeout=60) as http:
        for op in ops:
            out[op] |= {http.request(**kw).status_code for kw in battery(*op, url)}
    with serving(api_keys=(API_KEY,)) as (url, _), httpx.Client(timeout=60) as http:
        for op in ops:
            out[op] |= {http.request(**kw).status_code for kw in battery(*op, url)}
    model = GatedTiny()
    with serving(model=model, limits=Limits(max_concurrency=1, max_queue=0)) as (url, _), \
            httpx.Client(timeout=60) as http, ThreadPoolExecutor(1) as pool:
        try:
            held = pool.submit(http.post, url + "/completions", json=VALID["/completions"])
            wait_until(lambda: model.calls >= 1, what="a generation to hold the only slot")
            for op in ops:
                out[op] |= {http.request(**kw).status_code for kw in battery(*op, url)}
        finally:
            model.gate.set()
        assert held.result(timeout=60).status_code == 200
    yield out


def test_the_app_serves_documented_operations_only() -> None:
    for method, path in served_operations():
        assert documented(method, path), f"{method} {path} is not an operation of the spec"


def test_every_status_answered_is_documented_for_its_operation(answered: dict[tuple[str, str], set[int]]) -> None:
    undocumented = {f"{m} {p}": sorted(codes - documented(m, p)) for (m, p), codes in answered.items()
                    if codes - documented(m, p)}
    assert undocumented == {}


def test_the_battery_reaches_every_kind_of_answer(answered: dict[tuple[str, str], set[int]]) -> None:
    assert answered == EXPECTED

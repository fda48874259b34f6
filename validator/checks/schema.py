"""Response bodies parsed strictly with the generated pydantic models (``generated.models``).

Each parse error is sorted: a spec-required field missing from the body is a failure when the seed
docs name it (``rules.DOC_FIELDS``), and reported as a later addition otherwise (a failure only with
``--strict``); any other error (a wrong type, an unknown enum value, a body that is not JSON) is a
failure. A field the docs name is also required where the spec leaves it optional (completions'
``usage``, whose streamed chunks share the schema).
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

from validator import rules
from validator.checks.base import check, per_endpoint
from validator.client import Exchange
from validator.context import FAIL, PASS, Context, Outcome, Part, Skipped
from validator.endpoints import Endpoint
from validator.ranges import SpecUnavailable, generated_models

_FIELD = re.compile(r"^[a-z_][a-z0-9_]*$")


def _models() -> ModuleType:
    try:
        return generated_models()
    except SpecUnavailable as exc:
        raise Skipped(str(exc)) from exc


def field_path(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as a dotted path, list indices as ``*`` (union member tags dropped)."""
    parts = ["*" if isinstance(p, int) else str(p) for p in loc]
    return ".".join(p for p in parts if p == "*" or _FIELD.match(p))


def missing_paths(data: Any, path: str) -> list[str]:
    """The concrete places where ``path`` (dotted, ``*`` for any list element) is absent from ``data``."""
    head, _, rest = path.partition(".")
    if head == "*":
        if not isinstance(data, list):
            return []
        return [f"{i}.{m}" if m else str(i) for i, item in enumerate(data) for m in missing_paths(item, rest)]
    if not isinstance(data, dict):
        return []
    if head not in data:
        return [head]
    return [f"{head}.{m}" for m in missing_paths(data[head], rest)] if rest else []


def sort_errors(models: Any, name: str, text: str, kind: str | None = None) -> tuple[list[str], list[str]]:
    """Parse ``text`` as model ``name`` (strict, JSON input): (failures, later additions missing).
    ``kind`` picks the doc-named fields (``rules.DOC_FIELDS``; default ``name``)."""
    import json

    from pydantic import ValidationError

    cls = getattr(models, name, None)
    if cls is None:
        raise Skipped(f"generated.models has no {name}")
    doc = rules.DOC_FIELDS.get(kind or name, frozenset())
    failures, later = [], []
    try:
        cls.model_validate_json(text, strict=True)
    except ValidationError as exc:
        for err in exc.errors():
            path = field_path(tuple(err.get("loc", ())))
            if err.get("type") == "json_invalid":
                return [f"(body): {err.get('msg')} [json_invalid]"], []
            if err.get("type") == "missing" and path not in doc:
                later.append(path)
            elif err.get("type") != "missing":
                failures.append(f"{path or '(body)'}: {err.get('msg')} [{err.get('type')}]")
    except ValueError as exc:
        return [f"(body): {exc}"], []
    try:
        data = json.loads(text)
    except ValueError:
        return failures or ["(body): not JSON"], later
    for path in sorted(doc):
        failures += [f"{m}: Field required (named by the docs) [missing]" for m in missing_paths(data, path)
                     if "." not in path or not missing_paths(data, path.rsplit(".", 1)[0])]
    return failures, later


def _judge(ctx: Context, models: Any, cases: list[tuple[str, str, str]]) -> Outcome:
    """Judge ``(label, schema name, body text)`` cases (a label containing "stream chunk" is a chunk)."""
    failures: list[str] = []
    later: dict[str, set[str]] = {}
    for label, name, text in cases:
        f, missing = sort_errors(models, name, text, f"{name} chunk" if "stream chunk" in label else None)
        failures += [f"{label} as {name}: {x}" for x in f]
        for m in missing:
            later.setdefault(name, set()).add(m)
    added = [f"{n}: {', '.join(sorted(v))}" for n, v in sorted(later.items())]
    details = {"bodies": len(cases), "missing_later_additions": added}
    if ctx.settings.strict:
        failures += [f"missing (not named by the seed docs; --strict): {a}" for a in added]
    summary = "; ".join(failures[:2]) or (f"{len(cases)} bodies parse" + (
        f"; later additions missing (reported, not failed): {'; '.join(added)}" if added else " strictly"))
    return Outcome(FAIL if failures else PASS, summary, details=details, failures=failures)


@check(
    "schema.responses",
    "every response body matches the documented schema",
    rules.SCHEMA,
    """Strict parse (pydantic strict mode, JSON input) of: GET /models as ListModelsResponse; completions
    (plain, logprobs, echo, n = 2) as CreateCompletionResponse; chat (plain, logprobs) as
    CreateChatCompletionResponse; each streamed completions chunk as CreateCompletionResponse and chat chunk
    as CreateChatCompletionStreamResponse; a 400 body on each endpoint as ErrorResponse. A missing field the
    docs name fails; a missing later addition is reported (fails with --strict).""",
)
def responses(ctx: Context) -> Outcome:
    models = _models()
    out = per_endpoint(ctx, lambda c, ep: _endpoint(c, ep, models))
    ex = ctx.get("/models")
    listed = _judge(ctx, models, [("GET /models", "ListModelsResponse", ex.text)])
    out.parts.insert(0, Part("models", listed.verdict, listed.summary, failures=listed.failures))
    out.failures = [f"models: {f}" for f in listed.failures] + out.failures
    out.details["models"] = listed.details
    out.evidence.insert(0, ex.excerpt())
    out.summary = f"models: {listed.summary}; {out.summary}"
    return out


def _endpoint(ctx: Context, ep: Endpoint, models: Any) -> Outcome:
    name = "CreateChatCompletionResponse" if ep.is_chat else "CreateCompletionResponse"
    chunk = "CreateChatCompletionStreamResponse" if ep.is_chat else "CreateCompletionResponse"
    prompt = ep.prompt_fields("Hi" if ep.is_chat else "Hello")
    variants: tuple[dict[str, Any], ...] = (
        ({}, ep.logprob_fields(2)) if ep.is_chat else ({}, {"logprobs": 3}, {"logprobs": 1, "echo": True}, {"n": 2}))
    exchanges: list[tuple[str, Exchange]] = []
    for fields in variants:
        ex = ctx.post(ep.path, ctx.body(**prompt, max_tokens=4, seed=ctx.next_seed(), **fields))
        if ex.status != 200:
            ctx.ok(ex, ", ".join(fields))
        exchanges.append((f"{ep.path} {fields or 'plain'}", ex))
    cases = [(label, name, ex.text) for label, ex in exchanges]
    accepted = []
    for label, bad in ((f"{ep.path} temperature=5", ctx.body(**prompt, max_tokens=1, temperature=5)),
                       (f"{ep.path} without {'messages' if ep.is_chat else 'prompt'}", ctx.body(max_tokens=1))):
        err = ctx.post(ep.path, bad)
        if err.status != 200:  # an error body to parse; a 200 is errors.shape's to judge, not a schema matter
            cases.append((label, "ErrorResponse", err.text))
            break
        accepted.append(label)
    st = ctx.stream(ep.path, ctx.body(**prompt, max_tokens=4, stream=True))
    if st.status != 200:
        ctx.ok(st, "stream")
    events = [e for e in st.events or [] if e != "[DONE]"]
    cases += [(f"{ep.path} stream chunk {i}", chunk, e) for i, e in enumerate(events)]
    out = _judge(ctx, models, cases)
    if accepted:
        out.details["error_bodies_not_seen"] = f"accepted with 200, so not parsed as ErrorResponse: {accepted}"
    if st.failure is not None:
        out.failures.append(f"{ep.path} stream: {st.failure}")
        out.verdict, out.summary = FAIL, f"{ep.path} stream: {st.failure}; {out.summary}"
    out.evidence = [ex.excerpt() for _, ex in exchanges[:2]]
    return out

"""Error shape, the range-rejection matrix and unknown models."""

from __future__ import annotations

from typing import Any

from validator import rules
from validator.checks.base import check, per_endpoint
from validator.client import Exchange
from validator.context import FAIL, PASS, UNSUPPORTED, Context, Outcome
from validator.endpoints import Endpoint
from validator.ranges import companions, logit_bias_bound, max_stop_strings, numeric_bounds

PROMPT = "Hello"
UNKNOWN_MODEL = "oairef-no-such-model-7f3a"
#: Stop strings that end a runaway generation within a few tokens.
BOUNDING_STOPS = [" ", "\n", ".", ","]


def error_param(ex: Exchange) -> Any:
    """``error.param`` of an OpenAI-shaped error body, else ``None``."""
    data = ex.json()
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return data["error"].get("param")
    return None


def shape_problems(ex: Exchange, status: int = 400) -> list[str]:
    """What is wrong with ``ex`` as an OpenAI error of HTTP ``status`` (empty list: nothing)."""
    problems = []
    if ex.status != status:
        problems.append(f"HTTP {ex.status}, expected {status}")
    data = ex.json()
    if not isinstance(data, dict) or not isinstance(data.get("error"), dict):
        problems.append('body is not {"error": {...}}')
        return problems
    err = data["error"]
    if not isinstance(err.get("message"), str) or not err.get("message"):
        problems.append("error.message missing or empty")
    if not isinstance(err.get("type"), str):
        problems.append("error.type missing")
    for key in ("param", "code"):
        if key not in err:
            problems.append(f"error.{key} missing (may be null, must be present)")
    return problems


@check(
    "errors.shape",
    'an invalid request is HTTP 400 {"error": {message, type, param, code}} naming the parameter',
    rules.ERRORS,
    "temperature = 5 on each endpoint; inspect status and body.",
)
def shape(ctx: Context) -> Outcome:
    return per_endpoint(ctx, _shape)


def _shape(ctx: Context, ep: Endpoint) -> Outcome:
    ex = ctx.post(ep.path, ctx.body(**ep.prompt_fields(PROMPT), max_tokens=1, temperature=5))
    probs = shape_problems(ex)
    data = ex.json() or {}
    if not probs and data["error"].get("type") != "invalid_request_error":
        probs.append(f"error.type {data['error'].get('type')!r}, expected 'invalid_request_error'")
    if not probs and error_param(ex) != "temperature":
        probs.append(f"error.param {error_param(ex)!r}, expected 'temperature'")
    return Outcome(FAIL if probs else PASS, "; ".join(probs) or "400 with the documented error object",
                   evidence=[ex.excerpt()], failures=probs)


#: A token id no tokenizer has: the docs map logit_bias keys to token ids, so it must be refused
#: (contract: a 400 naming ``logit_bias``).
UNKNOWN_TOKEN_ID = "100000000"
#: A max_tokens beyond any context: "prompt + max_tokens may not exceed the context length" (001).
BEYOND_CONTEXT = 10**8


def _cases(ep: str) -> list[tuple[str, dict[str, Any], bool]]:
    """(param, fields, inside?) for ``ep``: every bound the spec documents, just inside and just outside,
    plus the two doc rules that are not ranges (unknown logit_bias id, max_tokens beyond the context)."""
    rows: list[tuple[str, dict[str, Any], bool]] = []
    for param, b in numeric_bounds(ep).items():
        extra = companions(ep, param)
        # stop strings bound the cost should a provider read a token limit of 0 or less as "no limit"
        if "max" in param and "tokens" in param:
            extra = {**extra, "stop": BOUNDING_STOPS}
        rows += [(param, {**extra, param: v}, True) for v in b.inside()]
        rows += [(param, {**extra, param: v}, False) for v in b.outside()]
    bias = logit_bias_bound(ep)
    rows += [("logit_bias", {"logit_bias": {"0": v}}, True) for v in bias.inside()]
    rows += [("logit_bias", {"logit_bias": {"0": v}}, False) for v in bias.outside()]
    rows.append(("logit_bias", {"logit_bias": {UNKNOWN_TOKEN_ID: 1}}, False))
    most = max_stop_strings(ep)
    rows.append(("stop", {"stop": [f"zq{i}" for i in range(1, most + 1)]}, True))
    rows.append(("stop", {"stop": [f"zq{i}" for i in range(1, most + 2)]}, False))
    rows.append(("max_tokens", {"max_tokens": BEYOND_CONTEXT, "stop": BOUNDING_STOPS}, False))
    return rows


@check(
    "errors.ranges",
    "every documented bound: just inside -> 200, just outside -> 400 naming the parameter",
    rules.ERRORS,
    """For each range the spec documents (read from the generated request models: temperature, top_p, n,
    best_of, logprobs, top_logprobs, both penalties, max_tokens, max_completion_tokens, logit_bias values,
    stop count) plus two doc rules that are not ranges (an unknown logit_bias token id, max_tokens beyond the
    context), on each endpoint: a request with max_tokens 1 at each bound and just beyond it.""",
)
def ranges(ctx: Context) -> Outcome:
    return per_endpoint(ctx, _ranges)


def _ranges(ctx: Context, ep: Endpoint) -> Outcome:
    rows = _cases(ep.name)
    bodies = [ctx.body(**{"max_tokens": 1, "seed": ctx.next_seed(), **ep.prompt_fields(PROMPT), **extra})
              for _, extra, _ in rows]
    # Context-overflow cases go last and one at a time: a provider that accepts them may generate
    # until its context is full, which must not starve the other cases of their deadline.
    overflow = [i for i, b in enumerate(bodies) if b.get("max_tokens") == BEYOND_CONTEXT]
    normal = [i for i in range(len(bodies)) if i not in overflow]
    results: dict[int, Exchange] = dict(zip(normal, ctx.post_many(ep.path, [bodies[i] for i in normal]), strict=True))
    for i in overflow:
        results[i] = ctx.post(ep.path, bodies[i])
    failures, unsupported, table = [], [], []
    for i, (param, extra, inside) in enumerate(rows):
        ex = results[i]
        got = error_param(ex)
        entry = {"param": param, "value": extra.get(param, extra), "expect": 200 if inside else 400,
                 "status": ex.status, "error_param": got}
        table.append(entry)
        label = f"{param}={entry['value']}"
        if inside and ex.status != 200:
            (unsupported if 400 <= ex.status < 500 else failures).append(f"{label}: HTTP {ex.status} {ex.text[:100]}")
        elif not inside:
            if ex.status == 200:
                failures.append(f"{label}: accepted (200), documented range exceeded")
            elif ex.status != 400:
                failures.append(f"{label}: HTTP {ex.status}, expected 400")
            elif got != param:
                failures.append(f"{label}: error.param {got!r}, expected {param!r}")
    verdict = FAIL if failures else UNSUPPORTED if unsupported else PASS
    summary = (f"{len(failures)} of {len(rows)} cases wrong" if failures else
               f"{len(unsupported)} documented values rejected" if unsupported else f"all {len(rows)} cases as documented")
    return Outcome(verdict, summary, details={"matrix": table}, failures=failures + unsupported)


@check(
    "errors.unknown_model",
    "an unknown model is 404 model_not_found",
    rules.UNKNOWN_MODEL,
    "A request to each endpoint naming a model the provider does not list.",
)
def unknown_model(ctx: Context) -> Outcome:
    return per_endpoint(ctx, _unknown_model)


def _unknown_model(ctx: Context, ep: Endpoint) -> Outcome:
    ex = ctx.post(ep.path, {"model": UNKNOWN_MODEL, "max_tokens": 1, **ep.prompt_fields(PROMPT)})
    probs = shape_problems(ex, 404)
    data = ex.json() or {}
    if not probs and data["error"].get("code") != "model_not_found":
        probs.append(f"error.code {data['error'].get('code')!r}, expected 'model_not_found'")
    return Outcome(FAIL if probs else PASS, "; ".join(probs) or "404 model_not_found", evidence=[ex.excerpt()],
                   failures=probs)

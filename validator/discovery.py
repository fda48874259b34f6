"""What the provider offers, found once per run and cached in the context.

Rules:
- **Endpoints.** A minimal valid request (one token) to each selected endpoint: HTTP 404 or 405 that
  is not an OpenAI ``model_not_found`` error means the endpoint does not exist — its sub-tests are
  ``unsupported`` with that reason, never failures. Any other answer means it exists.
- **n.** A two-choice request: two choices back means ``n`` is honoured; one choice (ignored) or a
  4xx (refused) means one sample per request. Where it is honoured, sampling loops ask for up to the
  largest ``n`` the provider accepts: the spec's maximum, halved while a one-token request with it is
  refused with a 4xx (llama.cpp's llama-server refuses ``n`` above its slot count, which must bound the
  loops, not end them).
- **Logprobs.** A one-token request asking for the endpoint's most top logprobs: the statistical
  checks use reported logprobs when they come back (``--logprobs auto`` or ``require``), and samples
  alone when they are rejected (4xx), omitted or null (``auto``) or when told so (``never``). Under
  ``require`` a provider without them makes those sub-tests ``unsupported``.
"""

from __future__ import annotations

from typing import Any

from validator.context import (
    LOGPROBS_NEVER,
    LOGPROBS_REQUIRE,
    METHOD_LOGPROBS,
    METHOD_SAMPLES,
    Context,
    Unsupported,
)
from validator.endpoints import ENDPOINTS, Endpoint, choices

PROBE_PROMPT = "Hello"


def _error(data: Any) -> dict[str, Any]:
    return data["error"] if isinstance(data, dict) and isinstance(data.get("error"), dict) else {}


def endpoint_missing(ctx: Context, name: str) -> str | None:
    """Why ``name`` cannot be tested (it does not exist), or ``None`` when it answers."""
    key = f"missing:{name}"
    if key not in ctx.cache:
        ep = ENDPOINTS[name]
        ex = ctx.post(ep.path, ctx.body(max_tokens=1, **ep.prompt_fields(PROBE_PROMPT)))
        err = _error(ex.json())
        absent = ex.status in (404, 405) and err.get("code") != "model_not_found" and err.get("param") != "model"
        ctx.cache[key] = (f"the provider has no {ep.path} (POST answered HTTP {ex.status}: {ex.text[:120]})"
                          if absent else None)
    return ctx.cache[key]


def n_honoured(ctx: Context, ep: Endpoint) -> bool:
    """Whether a request with ``n = 2`` gets two choices back."""
    key = f"n:{ep.name}"
    if key not in ctx.cache:
        ex = ctx.post(ep.path, ctx.body(max_tokens=1, n=2, temperature=1.0, seed=ctx.next_seed(),
                                        **ep.prompt_fields(PROBE_PROMPT)))
        data = ex.json() if ex.status == 200 else None
        ctx.cache[key] = isinstance(data, dict) and len(choices(data)) == 2
    return bool(ctx.cache[key])


def per_request(ctx: Context, ep: Endpoint) -> int:
    """How many samples one request may ask for (``n``): 1 where ``n`` is not honoured, else the largest
    power-of-two fraction of the spec's maximum that the provider accepts."""
    key = f"n_cap:{ep.name}"
    if key not in ctx.cache:
        n = ep.max_n if n_honoured(ctx, ep) else 1
        while n > 2:
            ex = ctx.post(ep.path, ctx.body(max_tokens=1, n=n, temperature=1.0, seed=ctx.next_seed(),
                                            **ep.prompt_fields(PROBE_PROMPT)))
            if not 400 <= ex.status < 500:
                break
            n //= 2
        ctx.cache[key] = n
    return int(ctx.cache[key])


def logprobs_reported(ctx: Context, ep: Endpoint) -> str | None:
    """``None`` when ``ep`` reports top logprobs, else why not (rejected, omitted or null)."""
    key = f"logprobs:{ep.name}"
    if key not in ctx.cache:
        ex = ctx.post(ep.path, ctx.body(max_tokens=1, temperature=1.0, seed=ctx.next_seed(),
                                        **ep.prompt_fields(PROBE_PROMPT), **ep.logprob_fields(ep.max_top)))
        reason: str | None = None
        data = ex.json() if ex.status == 200 else None
        if 400 <= ex.status < 500:
            reason = f"{ep.path} rejects {ep.top_param} (HTTP {ex.status}: {ex.text[:120]})"
        elif not isinstance(data, dict) or not choices(data):
            reason = f"{ep.path} answered HTTP {ex.status} without choices to a logprobs request"
        else:
            top = ep.top(choices(data)[0])
            if not top or not top[0]:
                reason = f"{ep.path} omits the top logprobs it was asked for (or returns them null)"
        ctx.cache[key] = reason
    return ctx.cache[key]


def method(ctx: Context, ep: Endpoint) -> str:
    """The statistical method for ``ep``: ``logprobs`` or ``samples`` (``--logprobs`` and discovery)."""
    if ctx.settings.logprobs == LOGPROBS_NEVER:
        return METHOD_SAMPLES
    why = logprobs_reported(ctx, ep)
    if why is None:
        return METHOD_LOGPROBS
    if ctx.settings.logprobs == LOGPROBS_REQUIRE:
        raise Unsupported(f"{why}, and --logprobs require")
    return METHOD_SAMPLES

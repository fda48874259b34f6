"""Response bodies parsed strictly with the generated pydantic models (``generated.models``)."""

from __future__ import annotations

from typing import Any

from validator import rules
from validator.checks.base import check
from validator.client import Exchange
from validator.context import FAIL, PASS, Context, Outcome, Skipped


def _models() -> Any:
    try:
        from generated import models
    except ImportError as exc:  # generated/ is committed; absent only in a broken checkout
        raise Skipped(f"generated models unavailable: {exc}") from exc
    return models


def _parse(models: Any, name: str, text: str) -> str | None:
    """None when ``text`` parses as model ``name`` in strict JSON mode, else the first errors."""
    cls = getattr(models, name, None)
    if cls is None:
        raise Skipped(f"generated.models has no {name}")
    try:
        cls.model_validate_json(text, strict=True)
    except Exception as exc:  # pydantic.ValidationError, or a JSON error
        return str(exc).splitlines()[0] + ": " + "; ".join(str(exc).splitlines()[1:4])
    return None


@check(
    "schema.responses",
    "every response body matches the documented schema",
    rules.SCHEMA,
    """Strict parse (pydantic strict mode, JSON input) of: GET /models as ListModelsResponse; completions
    (plain, logprobs, echo, n = 2) as CreateCompletionResponse; chat as CreateChatCompletionResponse; each
    streamed completions chunk as CreateCompletionResponse and chat chunk as
    CreateChatCompletionStreamResponse; a 400 body as ErrorResponse.""",
)
def responses(ctx: Context) -> Outcome:
    models = _models()
    cases: list[tuple[str, Exchange]] = [("ListModelsResponse", ctx.client.get("/models"))]
    for fields in ({}, {"logprobs": 3}, {"logprobs": 1, "echo": True}, {"n": 2}):
        cases.append(("CreateCompletionResponse",
                      ctx.completion(prompt="Hello", max_tokens=4, seed=ctx.next_seed(), **fields)))
    msgs = [{"role": "user", "content": "Hi"}]
    cases.append(("CreateChatCompletionResponse", ctx.chat(messages=msgs, max_tokens=4, seed=ctx.next_seed())))
    cases.append(("CreateChatCompletionResponse",
                  ctx.chat(messages=msgs, max_tokens=4, logprobs=True, top_logprobs=2, seed=ctx.next_seed())))
    cases.append(("ErrorResponse", ctx.completion(prompt="Hello", max_tokens=1, temperature=5)))
    failures: list[str] = []
    for name, ex in cases:
        if name != "ErrorResponse" and ex.status != 200:
            ctx.ok(ex)
        err = _parse(models, name, ex.text)
        if err:
            failures.append(f"{ex.path} {ex.body and {k: v for k, v in ex.body.items() if k != 'model'}} "
                            f"as {name}: {err}")
    for path, name, body in (
        ("/completions", "CreateCompletionResponse", {"prompt": "Hello", "max_tokens": 4}),
        ("/chat/completions", "CreateChatCompletionStreamResponse", {"messages": msgs, "max_tokens": 4}),
    ):
        ex = ctx.client.stream(path, ctx.body(stream=True, **body))
        if ex.status != 200:
            ctx.ok(ex, "stream")
        for i, e in enumerate(x for x in ex.events or [] if x != "[DONE]"):
            err = _parse(models, name, e)
            if err:
                failures.append(f"{path} stream chunk {i} as {name}: {err}")
                break
    return Outcome(FAIL if failures else PASS, "; ".join(failures[:2]) or f"{len(cases) + 2} bodies parse strictly",
                   evidence=[ex.excerpt() for _, ex in cases[:3]], failures=failures)

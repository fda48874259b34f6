"""Tokenizer endpoints (llama-cpp-python's convention), so clients can address tokens by id.

- ``POST /extras/tokenize`` ``{"input": str}`` -> ``{"tokens": [int, ...]}`` (the served model's
  tokenizer, exactly as prompts are tokenized).
- ``POST /extras/detokenize`` ``{"tokens": [int, ...]}`` -> ``{"text": str}`` (token bytes joined,
  invalid UTF-8 replaced by U+FFFD); an id outside ``[0, vocab_size)`` is a 400 naming ``tokens``.
An optional ``model`` field must name the served model (404 otherwise). Bodies are read within the
server's size and depth limits; neither endpoint takes more than the model could hold as one prompt:
an ``input`` longer than that (``sampler.engine.check_prompt_text``, before tokenizing) or more
``tokens`` than the context is a 400 ``context_length_exceeded`` naming the field.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from provider.body import read_json_object
from provider.errors import from_invalid_parameter, invalid
from provider.state import get_state
from sampler import InvalidParameter
from sampler.engine import check_prompt_tokens, tokenize_prompt
from sampler.params import check_token_ids

router = APIRouter()


async def _body(request: Request) -> dict[str, Any]:
    limits = get_state(request).limits
    return await read_json_object(request, max_bytes=limits.max_body_bytes, max_depth=limits.max_json_depth)


def _check_model(request: Request, body: dict[str, Any]) -> None:
    model = body.get("model")
    if model is not None:
        if not isinstance(model, str):
            raise invalid("model", "model must be a string")
        get_state(request).check_model(model)


@router.post("/tokenize")
async def tokenize(request: Request) -> dict[str, Any]:
    """Token ids of ``input``."""
    body = await _body(request)
    _check_model(request, body)
    text = body.get("input")
    if not isinstance(text, str):
        raise invalid("input", "input must be a string", code="invalid_type")
    model = get_state(request).model
    try:
        tokens = await run_in_threadpool(tokenize_prompt, model, text)
    except InvalidParameter as exc:
        raise from_invalid_parameter(exc, {"prompt": "input"}) from None
    return {"tokens": [int(t) for t in tokens]}


@router.post("/detokenize")
async def detokenize(request: Request) -> dict[str, Any]:
    """Text of ``tokens``."""
    body = await _body(request)
    _check_model(request, body)
    tokens = body.get("tokens")
    model = get_state(request).model
    if not isinstance(tokens, list) or not all(isinstance(t, int) and not isinstance(t, bool)
                                               for t in tokens):
        raise invalid("tokens", "tokens must be an array of integers", code="invalid_type")
    try:
        check_prompt_tokens(len(tokens), model.n_ctx)
        check_token_ids("tokens", tokens, model.vocab_size)
    except InvalidParameter as exc:
        raise from_invalid_parameter(exc, {"prompt": "tokens"}) from None
    data = b"".join(model.token_bytes(t) for t in tokens)
    return {"text": data.decode("utf-8", errors="replace")}

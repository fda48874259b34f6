"""Token ids of texts, from whichever tokenizer endpoint the provider has.

logit_bias is keyed by token id, so the checks that bias a token need the id of a token they only
know as text (a reported top token). The endpoints tried, in order (the first that answers is kept
for the rest of the run):

- ``POST /extras/tokenize {"model", "input"}`` -> ``{"tokens": [...]}`` (oairef serve, llama-cpp-python);
- ``POST /tokenize {"model", "prompt", "add_special_tokens": false}`` -> ``{"tokens": [...]}`` (vLLM);
- ``POST /tokenize {"content", "add_special": false}`` -> ``{"tokens": [...]}`` (llama.cpp's llama-server).

All three live at the server root, not under ``/v1``. Leading special tokens a tokenizer adds anyway
(whatever ``tokenize("")`` returns, e.g. BOS) are removed. Without any of them, ids are learnt without
a tokenizer by :func:`learn_id_by_bans` (greedy decoding under logit_bias bans, a binary search over the
id range) when the caller can say which prompt makes the token the greedy choice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from validator.context import Context, Skipped

#: (name, path, body maker) of each tokenizer endpoint, in the order tried.
ENDPOINTS: tuple[tuple[str, str, Callable[[str, str], dict[str, Any]]], ...] = (
    ("/extras/tokenize", "/extras/tokenize", lambda model, text: {"model": model, "input": text}),
    ("/tokenize (vLLM)", "/tokenize", lambda model, text: {"model": model, "prompt": text,
                                                            "add_special_tokens": False}),
    ("/tokenize (llama.cpp)", "/tokenize", lambda model, text: {"content": text, "add_special": False}),
)
#: Upper bound on the vocabulary the ban search considers when the provider does not say.
MAX_VOCAB = 1 << 18


def _ids(ctx: Context, endpoint: int, text: str) -> list[int] | None:
    _, path, make = ENDPOINTS[endpoint]
    ex = ctx.client.post(path, make(ctx.model, text))
    if ex.status != 200:
        return None
    data = ex.json()
    toks = data.get("tokens") if isinstance(data, dict) else None
    if not isinstance(toks, list) or not all(isinstance(t, int) for t in toks):
        return None
    return [int(t) for t in toks]


def _endpoint(ctx: Context) -> int | None:
    """Index of the first endpoint that tokenizes (cached); ``None`` when the provider has none."""
    if "tokenizer_endpoint" not in ctx.cache:
        found = None
        for i in range(len(ENDPOINTS)):
            if _ids(ctx, i, "Hello"):  # non-empty: llama.cpp answers vLLM's body with [] (no "content")
                found = i
                break
        ctx.cache["tokenizer_endpoint"] = found
    return ctx.cache["tokenizer_endpoint"]


def tokenizer_name(ctx: Context) -> str:
    """Which endpoint supplied ids (for method texts and reports)."""
    i = _endpoint(ctx)
    return "no tokenizer endpoint" if i is None else ENDPOINTS[i][0]


def tokenize(ctx: Context, text: str) -> list[int] | None:
    """Ids of ``text`` without leading special tokens, or ``None`` without a tokenizer endpoint."""
    i = _endpoint(ctx)
    if i is None:
        return None
    prefix = ctx.cache.setdefault("tokenizer_prefix", {})
    if i not in prefix:
        prefix[i] = _ids(ctx, i, "") or []
    ids = _ids(ctx, i, text)
    if ids is None:
        return None
    if prefix[i] and ids[: len(prefix[i])] == prefix[i]:
        ids = ids[len(prefix[i]):]
    return ids


def token_id(ctx: Context, text: str, greedy_after: tuple[str, list[int]] | None = None) -> int:
    """The single token id of ``text``.

    From a tokenizer endpoint when there is one; else, when ``greedy_after = (prompt, ids of the tokens
    more likely than text)`` is given, by :func:`learn_id_by_bans`. :class:`Skipped` otherwise.
    """
    cache = ctx.cache.setdefault("token_ids", {})
    if text in cache:
        return cache[text]
    ids = tokenize(ctx, text)
    if ids is None:
        if greedy_after is None:
            raise Skipped(f"no tokenizer endpoint ({', '.join(e[0] for e in ENDPOINTS)}) to find the id of {text!r}")
        found = learn_id_by_bans(ctx, text, *greedy_after)
    elif len(ids) != 1:
        raise Skipped(f"{tokenizer_name(ctx)} gives {ids!r} for {text!r}, not a single token id")
    else:
        found = ids[0]
    cache[text] = int(found)
    return int(found)


def _greedy(ctx: Context, prompt: str, banned: list[int]) -> str | None:
    bias = {str(i): -100 for i in banned}
    ex = ctx.completion(prompt=prompt, max_tokens=1, temperature=0.0, logit_bias=bias)
    if ex.status != 200:
        return None
    choices = (ex.json() or {}).get("choices") or [{}]
    return str(choices[0].get("text", ""))


def vocab_bound(ctx: Context, prompt: str) -> int:
    """The smallest id the provider refuses in logit_bias (its vocabulary size), else :data:`MAX_VOCAB`."""
    if "vocab_bound" not in ctx.cache:
        lo, hi = 0, MAX_VOCAB  # lo accepted, hi refused (or the bound)
        if _greedy(ctx, prompt, [MAX_VOCAB - 1]) is not None:
            lo = hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _greedy(ctx, prompt, [mid]) is None:
                hi = mid
            else:
                lo = mid
        ctx.cache["vocab_bound"] = hi
    return int(ctx.cache["vocab_bound"])


def learn_id_by_bans(ctx: Context, text: str, prompt: str, above: list[int]) -> int:
    """The id of ``text``, the greedy next token after ``prompt`` once the ids ``above`` are banned.

    Binary search: with the ids of one half of the candidate range also banned (logit_bias -100),
    greedy decoding still gives ``text`` exactly when its id lies in the other half. About 18
    requests for a 2^18 range; :class:`Skipped` when the provider rejects large logit_bias maps or
    greedy decoding does not give ``text`` to begin with (logit_bias ignored).
    """
    if _greedy(ctx, prompt, above) != text:
        raise Skipped(f"without a tokenizer endpoint, {text!r} is not the greedy token after {prompt!r} "
                      f"once {above} are banned, so its id cannot be learnt")
    lo, hi = 0, vocab_bound(ctx, prompt)
    for _ in range(40):
        if hi - lo <= 1:
            break
        mid = (lo + hi) // 2
        got = _greedy(ctx, prompt, above + [i for i in range(lo, mid) if i not in above])
        if got is None:
            raise Skipped("the provider rejected a large logit_bias map, so ids cannot be learnt by bans")
        if got == text:
            lo = mid
        else:
            hi = mid
    if _greedy(ctx, prompt, above + [lo]) == text:
        raise Skipped(f"banning id {lo} does not change the greedy token {text!r}: logit_bias seems ignored")
    return lo

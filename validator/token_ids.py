"""Token ids of texts: from whichever tokenizer endpoint the provider has, else learnt by logit_bias bans.

logit_bias is keyed by token id, so the checks that bias a token need the id of a token they only
know as text (a reported top token, or a frequent sampled one). Rules:

- **Tokenizer endpoints**, tried in order; the first that tokenizes ``"Hello"`` into a non-empty list
  is kept for the run (llama.cpp answers vLLM's body with ``[]``, having no ``content``):

  - ``POST /extras/tokenize {"model", "input"}`` (oairef serve, llama-cpp-python);
  - ``POST /tokenize {"model", "prompt", "add_special_tokens": false}`` (vLLM);
  - ``POST /tokenize {"content", "add_special": false}`` (llama.cpp's llama-server).

  All three live at the server root, not under ``/v1`` (``validator.client.ROOT_PATHS``). Leading
  special tokens a tokenizer adds anyway (whatever ``tokenize("")`` returns, e.g. BOS) are removed.
- **Without one**, ids are learnt from greedy decoding under ``logit_bias`` bans (-100) on the
  endpoint being judged, after a prompt whose likely next tokens include the text: the greedy token
  ``g`` after the prompt is found, and its id by a binary search — with the ids of one half of the
  candidate range also banned, greedy decoding still gives ``g`` exactly when its id lies in the other
  half. Then ``g`` is banned and the next greedy token is learnt, until the text comes up (at most
  :data:`MAX_RANK` tokens). The candidate range is the vocabulary: the smallest id the provider refuses
  in logit_bias, else :data:`MAX_VOCAB`. A provider whose greedy token no ban changes ignores
  logit_bias: :class:`Skipped` says so, as it does when the text is not among the first greedy tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from validator.context import Context, Skipped
from validator.endpoints import Endpoint, choices

#: (name, path, body maker) of each tokenizer endpoint, in the order tried.
ENDPOINTS: tuple[tuple[str, str, Callable[[str, str], dict[str, Any]]], ...] = (
    ("/extras/tokenize", "/extras/tokenize", lambda model, text: {"model": model, "input": text}),
    ("/tokenize (vLLM)", "/tokenize", lambda model, text: {"model": model, "prompt": text,
                                                            "add_special_tokens": False}),
    ("/tokenize (llama.cpp)", "/tokenize", lambda model, text: {"content": text, "add_special": False}),
)
#: Upper bound of the ids the ban search considers when the provider accepts any id in logit_bias.
MAX_VOCAB = 1 << 18
#: Most greedy tokens learnt, one after the other, before the wanted text must have come up.
MAX_RANK = 8
#: Steps of a binary search over [0, MAX_VOCAB) (a bound on every loop here).
SEARCH_STEPS = MAX_VOCAB.bit_length()


def _ids(ctx: Context, endpoint: int, text: str) -> list[int] | None:
    _, path, make = ENDPOINTS[endpoint]
    ex = ctx.post(path, make(ctx.model, text))
    if ex.status != 200:
        return None
    data = ex.json()
    toks = data.get("tokens") if isinstance(data, dict) else None
    if not isinstance(toks, list) or not all(isinstance(t, int) and not isinstance(t, bool) for t in toks):
        return None
    return [int(t) for t in toks]


def _endpoint(ctx: Context) -> int | None:
    """Index of the first tokenizer endpoint that tokenizes (cached); ``None`` when the provider has none."""
    if "tokenizer_endpoint" not in ctx.cache:
        ctx.cache["tokenizer_endpoint"] = next((i for i in range(len(ENDPOINTS)) if _ids(ctx, i, "Hello")), None)
    return ctx.cache["tokenizer_endpoint"]


def tokenizer_name(ctx: Context) -> str:
    """Which endpoint supplies ids (for reports), or how they are learnt without one."""
    i = _endpoint(ctx)
    return "no tokenizer endpoint: ids learnt by logit_bias bans" if i is None else ENDPOINTS[i][0]


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


def token_id(ctx: Context, ep: Endpoint, text: str, prompt: str | None = None) -> int:
    """The single token id of ``text``: from the tokenizer endpoint when there is one; else learnt by bans on
    ``ep`` after ``prompt`` (:func:`learn_by_bans`). :class:`Skipped` when neither can tell."""
    cache = ctx.cache.setdefault("token_ids", {})
    if text in cache:
        return int(cache[text])
    ids = tokenize(ctx, text)
    if ids is None:
        if prompt is None:
            raise Skipped(f"no tokenizer endpoint ({', '.join(e[0] for e in ENDPOINTS)}) to find the id of {text!r}")
        return learn_by_bans(ctx, ep, prompt, text)
    if len(ids) != 1:
        raise Skipped(f"{tokenizer_name(ctx)} gives {ids!r} for {text!r}, not a single token id")
    cache[text] = ids[0]
    return ids[0]


def _greedy(ctx: Context, ep: Endpoint, prompt: str, banned: list[int]) -> str | None:
    """The text of the greedy next token after ``prompt`` with ``banned`` at -100; ``None`` when refused (4xx)."""
    body = ctx.body(**ep.prompt_fields(prompt), max_tokens=1, temperature=0.0,
                    **({"logit_bias": {str(i): -100 for i in banned}} if banned else {}))
    ex = ctx.post(ep.path, body)
    if ex.status != 200:
        return None
    cs = choices(ex.json() or {})
    return ep.text(cs[0]) if cs else None


def vocab_bound(ctx: Context, ep: Endpoint, prompt: str) -> int:
    """The smallest id the provider refuses in logit_bias (its vocabulary size), else :data:`MAX_VOCAB`."""
    if "vocab_bound" not in ctx.cache:
        lo, hi = 0, MAX_VOCAB  # lo accepted, hi refused (or the bound)
        if _greedy(ctx, ep, prompt, [MAX_VOCAB - 1]) is not None:
            lo = hi
        for _ in range(SEARCH_STEPS):
            if hi - lo <= 1:
                break
            mid = (lo + hi) // 2
            if _greedy(ctx, ep, prompt, [mid]) is None:
                hi = mid
            else:
                lo = mid
        ctx.cache["vocab_bound"] = hi
    return int(ctx.cache["vocab_bound"])


def _search(ctx: Context, ep: Endpoint, prompt: str, g: str, banned: list[int]) -> int:
    """The id of ``g``, the greedy token after ``prompt`` once ``banned`` are banned (binary search)."""
    lo, hi = 0, vocab_bound(ctx, ep, prompt)
    for _ in range(SEARCH_STEPS):
        if hi - lo <= 1:
            break
        mid = (lo + hi) // 2
        got = _greedy(ctx, ep, prompt, banned + [i for i in range(lo, mid) if i not in banned])
        if got is None:
            raise Skipped("the provider refused a large logit_bias map, so token ids cannot be learnt by bans")
        if got == g:
            lo = mid
        else:
            hi = mid
    if _greedy(ctx, ep, prompt, banned + [lo]) == g:
        raise Skipped(f"banning every id in turn never changed the greedy token {g!r} after {prompt!r}: "
                      "logit_bias seems ignored, so token ids cannot be learnt by bans")
    return lo


def learn_by_bans(ctx: Context, ep: Endpoint, prompt: str, text: str) -> int:
    """The id of ``text``, learnt from greedy decoding after ``prompt`` under bans (see the module docstring);
    every id learnt on the way is cached too."""
    cache = ctx.cache.setdefault("token_ids", {})
    banned: list[int] = []
    seen = []
    for _ in range(MAX_RANK):
        g = _greedy(ctx, ep, prompt, banned)
        if g is None:
            raise Skipped(f"{ep.path} refused a logit_bias ban, so token ids cannot be learnt by bans")
        gid = int(cache[g]) if g in cache and g not in seen else _search(ctx, ep, prompt, g, banned)
        cache.setdefault(g, gid)
        seen.append(g)
        if g == text:
            return gid
        banned.append(gid)
    raise Skipped(f"without a tokenizer endpoint: {text!r} is not among the first {MAX_RANK} greedy tokens after "
                  f"{prompt!r} ({seen}), so its id cannot be learnt by bans")

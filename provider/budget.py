"""The per-request token budget (``--max-request-tokens``, ``provider.limits``).

Rule: the tokens one request may make the model read or produce — its prompt tokens (each read once, and
scored by ``echo`` with ``logprobs``; a real model decodes every one) plus prompts x candidates
(``best_of``, else ``n``) x tokens per choice — is at most the budget; more is a 400 naming the
parameter that took it over, with ``code: "max_request_tokens_exceeded"``. Checked before anything is
tokenized.
"""

from __future__ import annotations

from provider.errors import APIError
from provider.requests_parse import Job
from sampler.engine import most_prompt_tokens, prompt_count


def check_request_tokens(job: Job, budget: int, n_ctx: int) -> None:
    """400 when ``job`` may read or produce more than ``budget`` tokens: its prompt tokens
    (``sampler.engine.most_prompt_tokens``, an upper bound from the shape alone: ids counted, a text's
    bytes + 1, each prompt at most the context) plus prompts x candidates (``best_of``, else ``n``) x
    tokens per choice (``max_tokens``, or the context length without it; at most the context, since more
    is the engine's context error, and at least 1).

    ``param`` names the first factor, in the order tokens per choice, prompts (with their tokens), ``n``,
    ``best_of``, whose running total passes ``budget`` (chat: ``max_completion_tokens`` when given,
    ``messages`` for the prompt). Checked before anything is tokenized.
    """
    p = job.params
    per_choice = max(1, n_ctx if p.max_tokens is None else min(p.max_tokens, n_ctx))
    prompts = prompt_count(job.prompt)
    read = most_prompt_tokens(job.prompt, n_ctx)
    steps = [("max_tokens", per_choice), ("prompt", prompts * per_choice + read),
             ("n", prompts * per_choice * p.n + read), ("best_of", prompts * per_choice * p.candidates + read)]
    blame = next((name for name, work in steps if work > budget), None)
    if blame is None:
        return
    param = job.fields.get(blame, blame)
    total = steps[-1][1]
    each = (f"{per_choice} tokens each (without max_tokens a choice may run to the context length)"
            if p.max_tokens is None else f"{per_choice} tokens each")
    raise APIError(
        400,
        f"Invalid value for '{param}': this request may read or produce up to {total} tokens (up to {read} "
        f"prompt tokens + {prompts} prompt(s) x {p.candidates} candidate(s) x {each}); this server allows "
        f"{budget} per request "
        f"(--max-request-tokens). Lower '{param}'.",
        param=param, code="max_request_tokens_exceeded")

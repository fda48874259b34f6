"""The per-request token budget (``--max-request-tokens``, ``provider.limits``).

Rule: the tokens one request may ask the engine to generate — prompts x candidates (``best_of``, else
``n``) x tokens per choice — is at most the budget; more is a 400 naming the parameter that took it
over, with ``code: "max_request_tokens_exceeded"``. Checked before anything is tokenized.
"""

from __future__ import annotations

from provider.errors import APIError
from provider.requests_parse import Job
from sampler.engine import prompt_count


def check_request_tokens(job: Job, budget: int, n_ctx: int) -> None:
    """400 when ``job`` may generate more than ``budget`` tokens: prompts x candidates (``best_of``, else
    ``n``) x tokens per choice (``max_tokens``, or the context length without it; at most the context,
    since more is the engine's context error, and at least 1).

    ``param`` names the first factor, in the order tokens per choice, prompts, ``n``, ``best_of``, whose
    product passes ``budget`` (chat: ``max_completion_tokens`` when given, ``messages`` for the prompt).
    Checked before anything is tokenized.
    """
    p = job.params
    per_choice = max(1, n_ctx if p.max_tokens is None else min(p.max_tokens, n_ctx))
    prompts = prompt_count(job.prompt)
    steps = [("max_tokens", per_choice), ("prompt", prompts * per_choice), ("n", prompts * per_choice * p.n),
             ("best_of", prompts * per_choice * p.candidates)]
    blame = next((name for name, work in steps if work > budget), None)
    if blame is None:
        return
    param = job.fields.get(blame, blame)
    total = steps[-1][1]
    each = (f"{per_choice} tokens each (without max_tokens a choice may run to the context length)"
            if p.max_tokens is None else f"{per_choice} tokens each")
    raise APIError(
        400,
        f"Invalid value for '{param}': this request may generate up to {total} tokens ({prompts} prompt(s) x "
        f"{p.candidates} candidate(s) x {each}); this server allows {budget} per request "
        f"(--max-request-tokens). Lower '{param}'.",
        param=param, code="max_request_tokens_exceeded")

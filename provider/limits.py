"""The provider's limits on one request and on its load: each a named default, a ``create_app(limits=...)``
field and an ``oairef serve`` flag; ``docs/serve.md`` lists them with their status codes.

Rules:

- ``max_body_bytes`` (``--max-body-bytes``, default :data:`DEFAULT_MAX_BODY_BYTES`): a request body
  larger than this is a 413 (``provider.body``), refused from its ``Content-Length`` or as soon as the
  bytes read pass the limit, never buffered whole.
- ``max_json_depth`` (``--max-json-depth``, default :data:`DEFAULT_MAX_JSON_DEPTH`): a JSON body whose
  arrays and objects nest deeper than this is a 400 ``invalid_json``, measured before it is parsed
  (``provider.body``), so no parser recursion can fail.
- ``max_request_tokens`` (``--max-request-tokens``, default :data:`DEFAULT_MAX_REQUEST_TOKENS`): the
  tokens one request may ask the engine to produce, prompts x candidates x tokens per choice (plus the
  prompt tokens ``echo`` with ``logprobs`` scores), is at most this; more is a 400 naming the
  parameter that took it over (``provider.budget``).
- ``max_concurrency`` / ``max_queue`` (``--max-concurrency`` / ``--max-queue``, defaults
  :data:`DEFAULT_MAX_CONCURRENCY` / :data:`DEFAULT_MAX_QUEUE`): at most ``max_concurrency``
  generations run at once, at most ``max_queue`` more wait for a turn, and a request beyond both is a
  429 with ``Retry-After: RETRY_AFTER_S`` (``provider.slots``).
- A prompt's length is the engine's context check, made before tokenizing
  (``sampler.engine.check_prompt_text``): no flag, the model's context is the limit.

This module holds values only (the standard library): ``oairef serve``'s options show its defaults
without importing the server.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

#: 2 MiB: ~100 times the largest prompt a 2,048-token context holds, and room for token-id prompts.
DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
#: Chat bodies nest ~6 levels (body, messages, message, content parts, part); tool schemas a few more.
DEFAULT_MAX_JSON_DEPTH = 64
#: 16 full 2,048-token contexts: every single-candidate request fits, n = 16 at full context does too.
DEFAULT_MAX_REQUEST_TOKENS = 32_768
#: Generations that run at once (each batches its own candidates; the machine has few cores).
DEFAULT_MAX_CONCURRENCY = 4
#: Generations that may wait for a turn before the server answers 429.
DEFAULT_MAX_QUEUE = 64
#: The ``Retry-After`` (seconds) of a 429.
RETRY_AFTER_S = 1


@dataclass(frozen=True)
class Limits:
    """The provider's limits (module docstring); every value is a positive integer (``max_queue`` may be 0)."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH
    max_request_tokens: int = DEFAULT_MAX_REQUEST_TOKENS
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    max_queue: int = DEFAULT_MAX_QUEUE

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            least = 0 if f.name == "max_queue" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{f.name} must be an integer >= {least}, got {value!r}")

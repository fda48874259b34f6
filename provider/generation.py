"""Running a ``Job`` through the sampler's engine, off the event loop, cancellably.

Rules:
- ``run_job`` and ``JobStream`` are synchronous; routes call them in the threadpool. A cancel flag
  (a disconnected client) is passed to the engine, which stops at the next token.
- Results are the sampler's own: a ``sampler.Completion`` (choice ``index`` = ``prompt_index * n + j``,
  usage summed over prompts) or ``sampler.StreamDelta`` pieces.
- The engine runs with the job's parameters and the contract's penalty policy
  (``sampler.generated_only``) as the server's fault hooks pass them on, and its output goes
  through the fault's ``result`` / ``deltas`` hook (``provider.faults``; without a fault, unchanged).
- Token ids, the context length and ``best_of`` with streaming are the engine's to check: its
  ``InvalidParameter`` reaches the caller (``Job.refusal`` makes it a 400).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import sampler
from provider.faults import Fault
from provider.requests_parse import Job
from sampler import Completion, Model, StreamDelta


def run_job(model: Model, job: Job, fault: Fault, cancelled: Callable[[], bool] | None = None) -> Completion:
    """Generate every prompt of ``job`` (blocking; all prompts step together in the engine)."""
    out = sampler.complete(model, job.prompt, fault.sampling(job.kind, job.params),
                           penalty_ids=fault.penalties(sampler.generated_only), cancelled=cancelled)
    return fault.result(out, job, model)


class JobStream:
    """Iterates ``StreamDelta`` over the engine's stream for every prompt of ``job``; ``prompt_tokens``
    and ``completion_tokens`` are complete after exhaustion; setting ``cancel`` stops generation at
    the next token, ``close()`` at once."""

    def __init__(self, model: Model, job: Job, fault: Fault) -> None:
        self.cancel = threading.Event()
        self._stream = sampler.stream_complete(model, job.prompt, fault.sampling(job.kind, job.params),
                                               penalty_ids=fault.penalties(sampler.generated_only),
                                               cancelled=self.cancel.is_set)
        self._deltas = fault.deltas(self._stream, job, model)

    @property
    def prompt_tokens(self) -> int:
        return int(self._stream.prompt_tokens)

    @property
    def completion_tokens(self) -> int:
        return int(self._stream.completion_tokens)

    def __iter__(self) -> Iterator[StreamDelta]:
        return self

    def __next__(self) -> StreamDelta:
        return next(self._deltas)

    def close(self) -> None:
        """Stop generating (idempotent): the engine's stream ends, and with it every delta after."""
        self._stream.close()

"""oairef's sampler: the sampling contract as readable numpy, a numba fast path equal to it, and the
completion engine (n, best_of, stop, echo, logprobs, seeds) over a model protocol.

numpy + numba only; no HTTP. See ``../shared/SEMANTICS.md`` for the contract.
"""

from .engine import CompletionStream, PenaltyIds, complete, generated_only, stream_complete
from .errors import ContextLengthExceeded, GenerationCancelled, InvalidLogits, InvalidParameter
from .kernels import sample_batch, sample_next
from .model import Model
from .params import SamplingParams
from .reference import next_token_distribution, sample_reference
from .results import Choice, Completion, StreamDelta, TokenLogprob

__all__ = [
    "Choice",
    "Completion",
    "CompletionStream",
    "ContextLengthExceeded",
    "GenerationCancelled",
    "InvalidLogits",
    "InvalidParameter",
    "PenaltyIds",
    "Model",
    "SamplingParams",
    "StreamDelta",
    "TokenLogprob",
    "complete",
    "generated_only",
    "next_token_distribution",
    "sample_batch",
    "sample_next",
    "sample_reference",
    "stream_complete",
]

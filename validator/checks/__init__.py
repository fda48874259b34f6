"""The check catalogue: importing this package registers every check in ``base.REGISTRY``.

One module per family: schema, errors, streaming, stop (stop + max_tokens), n_best_of, logprobs,
sampling_stats (temperature, top_p, logit_bias), penalties, seed (seed + greedy), defaults.
"""

from validator.checks import (  # noqa: F401  (imported for registration)
    defaults,
    errors,
    logprobs,
    n_best_of,
    penalties,
    sampling_stats,
    schema,
    seed,
    stop,
    streaming,
)
from validator.checks.base import REGISTRY, Check

#: Report order of the families (cheap shape checks first, statistics last).
FAMILY_ORDER = ("schema", "errors", "streaming", "stop", "n", "best_of", "logprobs", "seed", "sampling",
                "penalties", "defaults")


def catalogue() -> list[Check]:
    """Every registered check, in report order."""
    return sorted(REGISTRY.values(), key=lambda c: FAMILY_ORDER.index(c.id.split(".")[0]))


__all__ = ["REGISTRY", "Check", "FAMILY_ORDER", "catalogue"]

"""The fast path's ops: one small numba function per step of ``../shared/SEMANTICS.md``.

| module | step | ops |
|---|---|---|
| `scan.py` | model errors (NaN, +inf, all -inf) | `scan` (raw max, lane maxima) |
| `patch.py` | 1 penalties, 2 logit_bias | `penalties`, `logit_bias`, `patched_max`, `clear_patch` |
| `greedy.py` | 3, T == 0 | `greedy` |
| `softmax.py` | 3, T > 0 | `softmax_sum` (the normaliser S), `raw_normaliser` (reported raw logprobs) |
| `nucleus.py` | 4 top_p, 5 draw | `head`, `top_p_cut`, `draw` (weighted selections over exponent bins) |
| `topk.py` | reported top-k | `top_raw`, `top_processed`, `raw_threshold` |
| `exp.py`, `bits.py` | — | the vectorisable exponential; bit casts, FMA, reassociable add |
| `cache.py` | — | one numba cache stamp for all of these and ``kernels.py`` (an edit to any op recompiles every kernel that inlines it) |

``sampler/kernels.py`` calls them in that order for each row.
"""

from .cache import install

install()

"""The fast-path profile runs the kernel's ops in the kernel's order: it reports every op, hot and
cold, and the token its op chain draws is the token the kernel draws."""

from __future__ import annotations

import numpy as np

from benchmarks.configs import CONFIGS, make_inputs
from benchmarks.fastpath_profile import OPS, profile, to_markdown
from benchmarks.logits import make_logits
from benchmarks.peers.oairef_impls import _params
from sampler import sample_batch


def test_profile_reports_every_op_and_draws_the_kernels_token() -> None:
    vocab, batch = 3000, 3
    res = profile(vocab=vocab, repeats=2, batch=batch)
    assert res["roofline_ms"] > 0
    logits = make_logits("gaussian", batch, vocab)
    for name in ("top_p", "full"):
        c = res["configs"][name]
        for part in ("hot", "cold"):
            assert set(c[part]) == set(OPS) and all(v >= 0 for v in c[part].values()), (name, part)
        assert 1 <= c["head_tokens_row0"] <= vocab
        inputs = make_inputs(CONFIGS[name], logits, seed=vocab + batch)
        k = CONFIGS[name].logprobs
        want = sample_batch(logits[:1], [_params(inputs)], [inputs.histories[0]], [0.5], k).tokens[0]
        assert c["token_row0_u_0.5"] == int(want), name
        assert set(c["batching"]) == {"b1_cell_ms", "b1_each_row_hot_ms", "batch_per_row_ms"}
        assert all(v > 0 for v in c["batching"].values()), c["batching"]
    md = to_markdown(res)
    assert "### full" in md and "| head (estimate + collect) |" in md and np.isfinite(res["roofline_ms"])
    assert "B = 1 on each of the 3 rows, hot (mean)" in md

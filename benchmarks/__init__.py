"""Sampling benchmarks: oairef's numba fast path and numpy reference against numpy-textbook, torch
(HF warper semantics) and llama.cpp's sampler chain, on identical logits and parameters; plus the
generated client's per-request overhead. Run ``oairef bench`` or ``python -m benchmarks``."""

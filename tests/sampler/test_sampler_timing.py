"""The timing script keeps working (the report's figures come from it); no wall-clock assertions."""

from __future__ import annotations

import numpy as np

from sampler import timing


def test_measure_runs_and_reports_every_cell(capsys: object) -> None:
    rows = timing.measure(V=3000, batches=(1, 4), repeat=2)
    assert [(r["B"], r["config"]) for r in rows] == [(1, "top_p"), (1, "full"), (4, "top_p"), (4, "full")]
    for r in rows:
        assert float(r["fast_ms"]) > 0 and float(r["ref_ms"]) > 0  # type: ignore[arg-type]
    assert np.isnan(float(rows[0]["parallel_ms"]))  # type: ignore[arg-type]


def test_make_logits_is_peaked() -> None:
    z = timing.make_logits(2, 5000)
    assert z.shape == (2, 5000) and z.dtype == np.float32
    p = np.exp(z[0].astype(np.float64) - z[0].max())
    p /= p.sum()
    assert np.sort(p)[::-1][:32].sum() > 0.5

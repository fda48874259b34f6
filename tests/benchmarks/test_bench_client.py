"""Client overhead against the real reference provider on 127.0.0.1 (a few requests, no times asserted)."""

from __future__ import annotations

import pytest

from benchmarks.client_overhead import CLIENTS, measure_clients


def test_every_client_is_measured_against_the_reference_provider() -> None:
    res = measure_clients(4)
    assert res["status"] == "ok", res
    rows = {c["client"]: c for c in res["clients"]}
    assert set(rows) == set(CLIENTS)
    for name, row in rows.items():
        assert row["status"] == "ok", row
        assert row["requests"] == 4 and row["median_s"] > 0 and row["client_cpu_s"] >= 0, name


def test_request_count_must_be_positive() -> None:
    with pytest.raises(ValueError, match="n must be >= 1"):
        measure_clients(0)

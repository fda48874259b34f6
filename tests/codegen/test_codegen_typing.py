"""mypy (strict) passes over generated/, the runtime and ``typing_client.py``, and catches a wrong type there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=False)


def test_mypy_passes_on_the_configured_files() -> None:
    result = _mypy()  # [tool.mypy] in pyproject.toml: the same command CI runs
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout


def test_mypy_refuses_a_stream_call_typed_as_the_response_model(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong_types.py"
    wrong.write_text(
        "from typing_extensions import assert_type\n"
        "import generated\n"
        "from generated import models\n\n\n"
        "def use(client: generated.OpenAI) -> None:\n"
        "    assert_type(client.completions.create(model='m', prompt='p', stream=True),"
        " models.CreateCompletionResponse)\n"
        "    client.completions.create(model='m', prompt='p', temperature='hot')\n",
        encoding="utf-8")
    result = _mypy("--strict", "--python-version", "3.10", str(wrong))
    assert result.returncode == 1
    assert "Stream[CreateCompletionResponse]" in result.stdout
    assert "No overload variant" in result.stdout

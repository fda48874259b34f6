"""Shared fixtures for the spec tests: the path of spec/openai.yaml and the loaded document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codegen.spec import load_spec

SPEC_PATH = Path(__file__).resolve().parents[2] / "spec" / "openai.yaml"


@pytest.fixture(scope="session")
def spec_path() -> Path:
    return SPEC_PATH


@pytest.fixture(scope="session")
def spec_doc() -> dict[str, Any]:
    """The spec as loaded (and checked) by ``codegen.spec.load_spec``."""
    return load_spec(SPEC_PATH)


@pytest.fixture(scope="session")
def schemas(spec_doc: dict[str, Any]) -> dict[str, Any]:
    return spec_doc["components"]["schemas"]

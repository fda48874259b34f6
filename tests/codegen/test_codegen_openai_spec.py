"""Codegen from a spec no one here wrote: OpenAI's own (``../shared/specs/openai-openapi.yaml``).

The package generated from it is imported and makes live calls to a real ``oairef serve``; its
class names are counted; its derived method paths are compared with openai-python's. The figures
(regeneration time, numbered-class share, method paths matched) are printed; time is not asserted
(speed is measured, not tested).

"Shared operations" are the operations both specs have: the same HTTP method on the same path
template (parameter names aside). Of those, the ones whose ``x-oairef-method`` in our spec is a
method of the real ``openai.OpenAI`` client are the operations openai-python has at our path; for
each, the path derived from OpenAI's spec (which has no ``x-oairef-method``) either is that exact
path or not.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from codegen.cli import main
from codegen.methods import method_paths
from codegen.spec import SpecError, load_spec
from tests.codegen.conftest import REFERENCE_KEY

ROOT = Path(__file__).resolve().parents[2]
OPENAI_SPEC = ROOT.parent / "shared" / "specs" / "openai-openapi.yaml"
OUR_SPEC = ROOT / "spec" / "openai.yaml"
PACKAGE = "openai_spec_client"

pytestmark = pytest.mark.slow


def _need_spec() -> Path:
    assert OPENAI_SPEC.is_file(), f"{OPENAI_SPEC} is missing: these tests read OpenAI's spec from ../shared/specs/"
    return OPENAI_SPEC


@pytest.fixture(scope="module")
def generated_from_openai(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, float]]:
    """OpenAI's spec generated into a temporary package (and the seconds it took)."""
    root = tmp_path_factory.mktemp("openai-spec")
    started = time.perf_counter()
    status = main(["--spec", str(_need_spec()), "--out", str(root / PACKAGE), "--quiet"])
    elapsed = time.perf_counter() - started
    assert status == 0
    sys.path.insert(0, str(root))
    try:
        yield root / PACKAGE, elapsed
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def numbered_classes(package: Path, spec_path: Path) -> tuple[int, list[str]]:
    """(classes in the package, those whose name ends in a number the spec did not give them)."""
    schemas = yaml.load(spec_path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    given = {re.sub(r"[^A-Za-z0-9_]", "", name) for name in schemas["components"]["schemas"]}
    classes = [node.name for path in sorted(package.rglob("*.py")) if "__pycache__" not in path.parts
               for node in ast.parse(path.read_text(encoding="utf-8")).body if isinstance(node, ast.ClassDef)]
    return len(classes), [c for c in classes if re.search(r"[0-9]$", c) and c not in given]


def test_openai_spec_generates_a_package_that_calls_the_reference_provider(
        generated_from_openai: tuple[Path, float], reference_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    package, elapsed = generated_from_openai
    total, numbered = numbered_classes(package, OPENAI_SPEC)
    with capsys.disabled():
        print(f"\n[codegen] OpenAI's spec: regenerated in {elapsed:.1f} s; numbered class names "
              f"{len(numbered)} of {total} ({100 * len(numbered) / total:.1f} %)")
    client_module: Any = importlib.import_module(PACKAGE)
    client = client_module.OpenAI(api_key=REFERENCE_KEY, base_url=reference_url, max_retries=0)
    completion = client.completions.create(model="tiny", prompt="Once upon a time", max_tokens=5, seed=1)
    assert isinstance(completion, client_module.models.CreateCompletionResponse)
    assert completion.choices[0].text
    chat = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}],
                                          max_tokens=5, seed=1)
    assert isinstance(chat, client_module.models.CreateChatCompletionResponse)
    assert chat.choices[0].message.role == "assistant"
    stream = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}],
                                            max_tokens=5, seed=1, stream=True)
    chunks = list(stream)
    assert isinstance(stream, client_module.Stream) and stream.closed
    assert all(isinstance(c, client_module.models.CreateChatCompletionStreamResponse) for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == chat.choices[0].message.content
    # OpenAI's spec declares no event stream for /completions: its chunks take the response model
    text = "".join(c.choices[0].text for c in client.completions.create(
        model="tiny", prompt="Once upon a time", max_tokens=5, seed=1, stream=True))
    assert text == completion.choices[0].text
    assert [m.id for m in client.models.list()] == ["tiny"]
    assert client.models.retrieve("tiny").id == "tiny"
    raw = client.models.with_raw_response.retrieve("tiny")
    assert raw.status_code == 200 and raw.parse().id == "tiny"
    with pytest.raises(client_module.NotFoundError):
        client.models.retrieve("no-such-model")

    async def use_async() -> list[str]:
        async with client_module.AsyncOpenAI(api_key=REFERENCE_KEY, base_url=reference_url) as aclient:
            return [m.id async for m in aclient.models.list()]

    assert asyncio.run(use_async()) == ["tiny"]


def test_numbered_class_names_are_at_most_5_percent(generated_from_openai: tuple[Path, float],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    ours_total, ours_numbered = numbered_classes(ROOT / "generated", OUR_SPEC)
    theirs_total, theirs_numbered = numbered_classes(generated_from_openai[0], OPENAI_SPEC)
    with capsys.disabled():
        print(f"\n[codegen] numbered class names: generated/ {len(ours_numbered)} of {ours_total}; "
              f"OpenAI's spec {len(theirs_numbered)} of {theirs_total}")
    assert len(ours_numbered) <= 0.05 * ours_total, ours_numbered
    assert len(theirs_numbered) <= 0.05 * theirs_total, theirs_numbered


def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def _operations(spec: dict[str, Any]) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    return {(method, _template(path)): (path, op) for path, item in spec["paths"].items()
            for method, op in item.items() if method in ("get", "post", "put", "patch", "delete")}


def _has_method(client: Any, dotted: str) -> bool:
    target = client
    for part in dotted.split("."):
        target = getattr(target, part, None)
        if target is None:
            return False
    return callable(target)


def test_derived_method_paths_match_openai_python_on_the_shared_operations(
        capsys: pytest.CaptureFixture[str]) -> None:
    import openai  # the real openai-python (a test dependency)

    ours = load_spec(OUR_SPEC)
    theirs = load_spec(_need_spec(), strict=False)
    derived = {(method, _template(path)): ".".join(parts) for (path, method), parts in method_paths(theirs).items()}
    our_ops, their_ops = _operations(ours), _operations(theirs)
    shared = sorted(set(our_ops) & set(their_ops))
    sdk = openai.OpenAI(api_key="sk-unused", base_url="http://127.0.0.1:9/v1")
    in_sdk = [k for k in shared if _has_method(sdk, our_ops[k][1]["x-oairef-method"])]
    exact = [k for k in in_sdk if derived[k] == our_ops[k][1]["x-oairef-method"]]
    misses = [f"{m.upper()} {p}: {derived[(m, p)]} (openai-python: {our_ops[(m, p)][1]['x-oairef-method']})"
              for m, p in in_sdk if (m, p) not in exact]
    with capsys.disabled():
        print(f"\n[codegen] shared operations: {len(shared)} in both specs, {len(in_sdk)} of them in "
              f"openai-python at our method path; derived path exact for {len(exact)} of {len(in_sdk)}")
        for line in misses:
            print(f"[codegen]   differs: {line}")
    assert len(shared) >= 79 and len(in_sdk) >= 43
    assert len(exact) >= 27  # the figure when written; a regression lowers it
    for key in exact:  # exact really is openai-python's method
        assert _has_method(sdk, derived[key])


def test_openai_spec_is_refused_in_strict_mode_with_the_pointer(capsys: pytest.CaptureFixture[str],
                                                                tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(_need_spec())
    assert info.value.pointer.endswith("/nullable") or "x-oairef-method" in info.value.message
    assert main(["--spec", str(OPENAI_SPEC), "--out", str(tmp_path / "out"), "--strict"]) == 2
    assert "malformed spec" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()

"""A snippet written for openai-python runs unchanged (but for the import) against the reference provider.

The same snippet runs with the official ``openai`` package and with ``generated``; with a fixed seed
the reference provider is deterministic, so both clients must print the same thing.
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from typing import Any

import pytest

from tests.codegen.conftest import REFERENCE_KEY

SNIPPET = '''
client = OpenAI(api_key=API_KEY, base_url=BASE_URL, max_retries=0)

completion = client.completions.create(model="tiny", prompt="Once upon a time", max_tokens=8,
                                       temperature=0.7, seed=7, n=2)
for choice in completion.choices:
    print("completion", choice.index, repr(choice.text), choice.finish_reason)
print("usage", completion.usage.prompt_tokens, completion.usage.completion_tokens)

stream = client.chat.completions.create(
    model="tiny",
    messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi"}],
    max_tokens=8, temperature=0.9, seed=11, stream=True,
)
parts = []
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        parts.append(chunk.choices[0].delta.content)
print("chat", repr("".join(parts)))

for model in client.models.list():
    print("model", model.id, model.owned_by)
'''


def _run(module: str, base_url: str) -> str:
    namespace: dict[str, Any] = {"BASE_URL": base_url, "API_KEY": REFERENCE_KEY}
    exec(f"from {module} import OpenAI", namespace)  # the only line that differs
    out = io.StringIO()
    with redirect_stdout(out):
        exec(SNIPPET, namespace)
    return out.getvalue()


def test_openai_python_snippet_runs_unchanged_against_the_reference_provider(reference_url: str) -> None:
    ours = _run("generated", reference_url)
    theirs = _run("openai", reference_url)
    assert ours == theirs
    lines = ours.splitlines()
    assert [ln.split()[0] for ln in lines[:2]] == ["completion", "completion"]
    assert any(ln.startswith("chat '") and ln != "chat ''" for ln in lines)
    assert any(ln.startswith("model tiny") for ln in lines)


def test_reference_provider_errors_map_to_typed_errors(reference_url: str) -> None:
    from generated import BadRequestError, InvalidRequestParameterError, OpenAI

    client = OpenAI(api_key=REFERENCE_KEY, base_url=reference_url, max_retries=0)
    with pytest.raises(InvalidRequestParameterError) as refused:
        client.completions.create(model="tiny", prompt="x", temperature=3)
    assert refused.value.param == "temperature"
    # the provider's own check of the same range, reached by bypassing the client's check
    with pytest.raises(BadRequestError) as info:
        client.completions.create(model="tiny", prompt="x", extra_body={"temperature": 3})
    assert info.value.param == "temperature"
    assert info.value.status_code == 400

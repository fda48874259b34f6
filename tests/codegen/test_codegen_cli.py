"""``oairef codegen``: deterministic output equal to the committed generated/, --check, spec errors."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from codegen.cli import main
from codegen.modelgen import HEADER
from codegen.pipeline import build, compare
from codegen.spec import SpecError, iter_operations, load_spec

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "spec" / "openai.yaml"
GENERATED = ROOT / "generated"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return load_spec(SPEC)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A regeneration of the whole spec into a temporary directory."""
    out = tmp_path_factory.mktemp("gen") / "generated"
    assert main(["--spec", str(SPEC), "--out", str(out), "--quiet"]) == 0
    return out


def _tree(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*.py"))
            if "__pycache__" not in p.parts}


def test_regeneration_matches_the_committed_generated_package(fresh: Path) -> None:
    ours, committed = _tree(fresh), _tree(GENERATED)
    assert sorted(ours) == sorted(committed)
    stale = [name for name in ours if ours[name] != committed[name]]
    assert stale == [], f"generated/ is stale in {stale}; run `oairef codegen`"


def test_output_is_deterministic_and_headed(spec: dict[str, Any], fresh: Path) -> None:
    again = build(spec)
    assert {k: v.encode() for k, v in again.items()} == _tree(fresh)
    for name, text in again.items():
        assert text.startswith(HEADER + "\n"), name
        assert "oairef codegen" in text.splitlines()[0]
        assert text.endswith("\n") and not text.endswith("\n\n")


def test_check_exit_codes(fresh: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(fresh, copy)
    assert main(["--spec", str(SPEC), "--out", str(copy), "--check", "--quiet"]) == 0

    (copy / "_errors.py").write_text((copy / "_errors.py").read_text() + "# hand edit\n")
    (copy / "_types.py").unlink()
    (copy / "resources" / "gone.py").write_text(HEADER + "\n")
    (copy / "handwritten_notes.py").write_text("# not generated\n")
    capsys.readouterr()
    assert main(["--spec", str(SPEC), "--out", str(copy), "--check"]) == 1
    report = capsys.readouterr().out
    assert "_errors.py: differs (+0 -1 lines)" in report
    assert "_types.py: missing" in report
    assert "resources/gone.py: stale generated file" in report
    assert "handwritten_notes.py: not written by codegen" in report

    assert main(["--spec", str(SPEC), "--out", str(copy), "--quiet"]) == 0  # repairs, removes the stale file
    assert not (copy / "resources" / "gone.py").exists()
    assert (copy / "handwritten_notes.py").exists()  # writing never deletes what it did not write ...
    assert main(["--spec", str(SPEC), "--out", str(copy), "--check", "--quiet"]) == 1  # ... --check flags it
    (copy / "handwritten_notes.py").unlink()
    assert main(["--spec", str(SPEC), "--out", str(copy), "--check", "--quiet"]) == 0


def test_check_flags_any_file_codegen_would_not_write(
        spec: dict[str, Any], fresh: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A stray file of any name or kind fails ``--check``; Python's own caches do not."""
    copy = tmp_path / "copy"
    shutil.copytree(fresh, copy)
    files = build(spec)
    (copy / "__pycache__").mkdir(exist_ok=True)
    (copy / "__pycache__" / "models.cpython-310.pyc").write_bytes(b"\x00cache")
    (copy / "resources" / "__pycache__").mkdir(exist_ok=True)
    (copy / "resources" / "__pycache__" / "notes.txt").write_text("cache dir\n")
    (copy / "old.pyc").write_bytes(b"\x00")
    assert compare(files, copy) == []
    assert main(["--spec", str(SPEC), "--out", str(copy), "--check", "--quiet"]) == 0

    strays = ["py.typed", "resources/helpers.py", "notes/README.md", ".models.py.abc.tmp"]
    for rel in strays:
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_text("hand-written, no header\n")
    diffs = compare(files, copy)
    assert sorted((d.path, d.kind) for d in diffs) == sorted((rel, "stray") for rel in strays)
    capsys.readouterr()
    assert main(["--spec", str(SPEC), "--out", str(copy), "--check"]) == 1
    report = capsys.readouterr().out
    assert f"is stale ({len(strays)} file(s))" in report
    for rel in strays:
        assert f"{rel}: not written by codegen" in report


def test_every_operation_has_a_client_method(spec: dict[str, Any]) -> None:
    generated = importlib.import_module("generated")
    client = generated.OpenAI(api_key="sk-x", base_url="http://127.0.0.1:9/v1")
    count = 0
    for _path, _method, op in iter_operations(spec):
        target: Any = client
        for part in op["x-oairef-method"].split("."):
            target = getattr(target, part)
        assert callable(target), op["x-oairef-method"]
        count += 1
    assert count == len(list(iter_operations(spec))) >= 90
    assert callable(client.fine_tuning.jobs.list_events)
    assert callable(client.organization.projects.users.list)


def _write_spec(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codegen.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)


def test_malformed_spec_exits_2_with_the_json_pointer(spec: dict[str, Any], tmp_path: Path) -> None:
    doc = yaml.safe_load(SPEC.read_text())
    rules = doc["components"]["schemas"]["CreateCompletionRequest"]["x-oairef-rules"]
    rules[0]["require"]["op"] = "approximately"
    result = _run_cli("--spec", str(_write_spec(tmp_path, doc)), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "/components/schemas/CreateCompletionRequest/x-oairef-rules/0/require" in result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert not (tmp_path / "out").exists()


def test_codegen_own_checks_report_pointers(tmp_path: Path) -> None:
    doc = yaml.safe_load(SPEC.read_text())
    body = doc["paths"]["/files"]["post"]["requestBody"]
    body["content"] = {"application/xml": body["content"]["multipart/form-data"]}
    result = _run_cli("--spec", str(_write_spec(tmp_path, doc)), "--out", str(tmp_path / "out"), "--strict")
    assert result.returncode == 2
    assert "/paths/~1files/post/requestBody/content" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreadable_and_non_yaml_specs_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("openapi: [unclosed\n")
    assert _run_cli("--spec", str(bad)).returncode == 2
    missing = _run_cli("--spec", str(tmp_path / "missing.yaml"))
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr


def test_spec_error_carries_the_pointer_in_process(tmp_path: Path) -> None:
    from codegen.operations import OperationReader

    doc = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
           "paths": {"/a/{x}": {"get": {"x-oairef-method": "a.get", "responses": {"200": {"description": "ok"}}}}}}
    with pytest.raises(SpecError) as info:
        OperationReader(doc, set()).read_all()
    assert info.value.pointer == "/paths/~1a~1{x}/get/parameters"


def test_paths_that_are_not_a_mapping_are_a_spec_error() -> None:
    """Every reader of operations walks them through ``iter_operations``, which names the fault."""
    doc = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": ["/models"]}
    with pytest.raises(SpecError) as info:
        build(doc, strict=False)
    assert info.value.pointer == "/paths"

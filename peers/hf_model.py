"""SmolLM2-135M-Instruct as a Hugging Face folder, converted offline from the packaged GGUF and cached.

vLLM and transformers ``serve`` load Hugging Face folders, not GGUF files (vLLM's GGUF loader still
wants the original tokenizer from a hub). The folder is made once from ``models.smollm2_path()`` by
``peers/gguf_to_hf.py`` run with the peer venv's Python (about 50 s; 517 MB of float32 safetensors:
the 4-bit weights dequantised, so the peers and llama.cpp see the same numbers up to float rounding).
"""

from __future__ import annotations

from pathlib import Path

from models.smollm2 import SMOLLM2_FILE, smollm2_path
from peers.cache import InstallError, cache_dir, log_path, marker_matches, offline_env, run_step, write_marker

CONVERT_TIMEOUT_S = 900.0
SCRIPT = Path(__file__).with_name("gguf_to_hf.py")


def hf_dir() -> Path:
    return cache_dir("models") / "SmolLM2-135M-Instruct-hf"


def ensure_hf_model(python: Path) -> Path:
    """The converted folder (converting with ``python`` the first time)."""
    gguf = smollm2_path()
    out = hf_dir()
    marker = out / "oairef-converted.json"
    expected = {"gguf": SMOLLM2_FILE, "gguf_bytes": gguf.stat().st_size, "dtype": "float32"}
    if marker_matches(marker, expected) and (out / "config.json").exists():
        return out
    run_step(f"converting {SMOLLM2_FILE} to a Hugging Face folder (~1 min)",
             [str(python), str(SCRIPT), str(gguf), str(out)], log_path("convert-smollm2"), CONVERT_TIMEOUT_S,
             env=offline_env())
    if not (out / "config.json").exists():
        raise InstallError(f"conversion finished without {out / 'config.json'}")
    write_marker(marker, expected)
    return out

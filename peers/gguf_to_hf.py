"""Convert a GGUF file into a Hugging Face model folder, offline (run inside a peer's venv).

Usage (with a Python that has ``transformers``, ``gguf``, ``accelerate`` and ``torch``)::

    python peers/gguf_to_hf.py MODEL.gguf OUT_DIR

transformers dequantises the GGUF tensors into float32 (``from_pretrained(dir, gguf_file=...)``). The
loaded model still carries a GGUF quantizer and ``config.quantization_config``, which would make
``save_pretrained`` write a folder that claims to be quantized: both are dropped before saving. The
tokenizer (with the chat template stored in the GGUF) is converted and saved beside it. No hub is
contacted (the caller sets ``HF_HUB_OFFLINE=1``).

This file is run as a script by :mod:`peers.hf_model`; it imports nothing of oairef.
"""

from __future__ import annotations

import sys
from pathlib import Path


def convert(gguf: Path, out: Path) -> None:
    """Write ``out/`` (config, float32 safetensors, tokenizer, chat template) from ``gguf``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    print(f"loading {gguf} (dequantising to float32)", flush=True)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, torch_dtype=torch.float32)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    if not getattr(tokenizer, "chat_template", None):
        from gguf import GGUFReader

        field = GGUFReader(str(gguf)).fields.get("tokenizer.chat_template")
        if field is not None:
            tokenizer.chat_template = bytes(field.parts[field.data[0]]).decode("utf-8")
    out.mkdir(parents=True, exist_ok=True)
    print(f"saving to {out}", flush=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    print("done", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python gguf_to_hf.py MODEL.gguf OUT_DIR")
    convert(Path(sys.argv[1]), Path(sys.argv[2]))

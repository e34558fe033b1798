"""mlxfn-demo: a small chat model trained with MLX on synthetic tasks, shipped in the package.

``python -m mlxfn`` serves it when no ``--model`` is given, so a fresh machine with no model hub
gets a server whose answers mean something ("What is 17 + 25?" → "42").
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

DEMO_MODEL_NAME: Final = "mlxfn-demo"
DEMO_MODEL_DIR: Final = Path(__file__).resolve().parent / "model"

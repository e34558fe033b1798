"""The example notebooks execute top to bottom in a real kernel, so they never rot."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
CELL_TIMEOUT_S = 120
# What the default model (SmolLM2-135M-Instruct, greedy) answers in each notebook.
ANSWERS = {
    "01-pipeline.ipynb": ["Paris", "Tokyo", "cat"],
    "02-openai-client.ipynb": ["cold", "Tokyo"],
}


def test_there_are_notebooks() -> None:
    assert [p.name for p in NOTEBOOKS] == ["01-pipeline.ipynb", "02-openai-client.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = "".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    for answer in ANSWERS[path.name]:
        assert answer in shown, (answer, shown)

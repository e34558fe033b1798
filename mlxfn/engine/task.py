"""MLX work that is not generation (embeddings), run on the engine thread between steps."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import attrs

from mlxfn.domain.errors import GenerationError
from mlxfn.engine.loader import LoadedModel


class TaskNotRun(Exception):
    """A task the engine could not run: it stopped, or failed, first."""

    def __init__(self, error: GenerationError) -> None:
        super().__init__(repr(error))
        self.error = error


@attrs.frozen
class Task:
    """One piece of work and the future its caller waits on."""

    work: Callable[[LoadedModel], Any]
    result: Future[Any]

    def run(self, loaded: LoadedModel) -> None:
        if not self.result.set_running_or_notify_cancel():
            return
        try:
            self.result.set_result(self.work(loaded))
        except Exception as exc:  # noqa: BLE001  the caller gets whatever the work raised
            self.result.set_exception(exc)

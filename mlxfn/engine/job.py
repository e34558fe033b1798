"""A submitted generation, as the engine thread and the submitting side both see it."""

from __future__ import annotations

import threading
from collections.abc import Callable

from mlxfn.domain.events import Event
from mlxfn.pipeline.plan import GenerationPlan

Sink = Callable[[Event], None]


class Job:
    """A plan and where its events go; ``cancel`` frees its batch slot before the next step."""

    def __init__(self, job_id: int, plan: GenerationPlan, sink: Sink) -> None:
        self.id = job_id
        self.plan = plan
        self.sink = sink
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

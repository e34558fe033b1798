"""A submitted generation, as the engine thread and the submitting side both see it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from mlxfn.domain.errors import EngineFailed
from mlxfn.domain.events import Event, Failed
from mlxfn.pipeline.plan import GenerationPlan

Sink = Callable[[Event], None]

log = logging.getLogger(__name__)


class Job:
    """A plan and where its events go; ``cancel`` frees its batch slot before the next step."""

    def __init__(self, job_id: int, plan: GenerationPlan, sink: Sink) -> None:
        self.id = job_id
        self.plan = plan
        self.sink = sink
        self._cancelled = threading.Event()

    def fail(self, why: str) -> None:
        """Tell the client its generation failed; a client that is gone cannot be told."""
        try:
            self.sink(Failed(EngineFailed(why)))
        except Exception:  # noqa: BLE001  the client is gone; nothing left to tell
            log.debug("could not tell generation %d that it failed", self.id)

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

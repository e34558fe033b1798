"""A submitted generation, as the engine thread and the submitting side both see it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from mlxfn.domain.errors import GenerationError
from mlxfn.domain.events import Event, Failed
from mlxfn.pipeline.plan import GenerationPlan

Sink = Callable[[Event], None]

log = logging.getLogger(__name__)


class Job:
    """A plan and where its events go; ``cancel`` frees its batch slot before the next step.

    ``kv_bytes`` is the KV cache its prompt and longest completion can take; ``start_by`` and
    ``end_by`` are its deadlines on the ``time.monotonic`` clock (None: none).
    """

    def __init__(
        self,
        job_id: int,
        plan: GenerationPlan,
        sink: Sink,
        *,
        kv_bytes: int = 0,
        start_by: float | None = None,
        end_by: float | None = None,
    ) -> None:
        self.id = job_id
        self.plan = plan
        self.sink = sink
        self.kv_bytes = kv_bytes
        self.start_by = start_by
        self.end_by = end_by
        self._cancelled = threading.Event()

    def fail(self, error: GenerationError) -> None:
        """Tell the client its generation failed; a client that is gone cannot be told."""
        try:
            self.sink(Failed(error))
        except Exception:  # noqa: BLE001  the client is gone; nothing left to tell
            log.debug("could not tell generation %d that it failed", self.id)

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def expired(self, now: float) -> bool:
        return self.end_by is not None and now > self.end_by

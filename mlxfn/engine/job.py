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
    """A plan and where its events go; ``cancel`` gives up its place in the engine's queue at
    once (``on_cancel``) and frees its batch slot before the next step.

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
        on_cancel: Callable[[Job], None] | None = None,
    ) -> None:
        self.id = job_id
        self.plan = plan
        self.sink = sink
        self.kv_bytes = kv_bytes
        self.start_by = start_by
        self.end_by = end_by
        self._cancelled = threading.Event()
        self._on_cancel = on_cancel
        self._queued = True
        self._queued_lock = threading.Lock()

    def fail(self, error: GenerationError) -> None:
        """Tell the client its generation failed; a client that is gone cannot be told."""
        try:
            self.sink(Failed(error))
        except Exception:  # noqa: BLE001  the client is gone; nothing left to tell
            log.debug("could not tell generation %d that it failed", self.id)

    def cancel(self) -> None:
        self._cancelled.set()
        if self._on_cancel is not None:
            self._on_cancel(self)

    def leave_queue(self) -> bool:
        """Give up this job's place in the engine's count of pending requests: True the first
        time only, so a job cancelled by its client and then dropped by the engine is
        uncounted once."""
        with self._queued_lock:
            was, self._queued = self._queued, False
            return was

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def expired(self, now: float) -> bool:
        return self.end_by is not None and now > self.end_by

"""The engine: one long-lived thread that owns the model and makes every MLX call.

MLX streams are thread-local, so MLX work cannot hop between threads (a thread pool would
break it). Requests arrive on a queue and join the running batch between decode steps
(``batch.py``); events go back through each request's sink without blocking either side.
"""

from __future__ import annotations

import atexit
import gc
import itertools
import logging
import queue
import threading
from concurrent.futures import Future

import attrs
import mlx.core as mx
from returns.io import IOFailure, IOResult, IOSuccess
from returns.result import Success

from mlxfn.domain.errors import ApiError, Overloaded, Unavailable
from mlxfn.effects import run_io
from mlxfn.engine.batch import Batch
from mlxfn.engine.job import Job, Sink
from mlxfn.engine.loader import LoadedModel, ModelLoadFailed, ModelSpec, load_model
from mlxfn.engine.memory import map_large_buffers_directly, release_free_heap
from mlxfn.pipeline.plan import GenerationPlan, Limits

log = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 64
DEFAULT_MAX_TOKENS = 512
DEFAULT_MAX_BATCH = 32
DEFAULT_PREFILL_STEP = 512
DEFAULT_PREFILL_STEP_BUSY = 64
DEFAULT_PROMPT_CACHE_BYTES = 256 * 1024 * 1024
DEFAULT_LONG_PROMPT = 1024

__all__ = ["Engine", "EngineConfig", "EngineStats", "Job", "start_engine"]


@attrs.frozen(kw_only=True)
class EngineConfig:
    """Scheduling limits. ``max_pending`` counts queued and running requests together;
    prompts of ``long_prompt`` tokens or more decode in a batch of their own (``batch.py``)."""

    max_pending: int = DEFAULT_MAX_PENDING
    default_max_tokens: int = DEFAULT_MAX_TOKENS
    max_batch: int = DEFAULT_MAX_BATCH
    prefill_step: int = DEFAULT_PREFILL_STEP
    prefill_step_busy: int = DEFAULT_PREFILL_STEP_BUSY
    prompt_cache_bytes: int = DEFAULT_PROMPT_CACHE_BYTES
    long_prompt: int = DEFAULT_LONG_PROMPT


@attrs.frozen(kw_only=True)
class EngineStats:
    """What the engine thread last published about itself, for ``/metrics``. Other threads
    read this snapshot instead of calling MLX, whose state belongs to the engine thread."""

    queued: int = 0
    running: int = 0
    active_memory_bytes: int = 0
    peak_memory_bytes: int = 0
    cache_memory_bytes: int = 0


_STOP = object()


class Engine:
    """The handle the server and notebooks hold. Create it with ``start_engine``."""

    def __init__(self, spec: ModelSpec, config: EngineConfig) -> None:
        self.spec = spec
        self.config = config
        self._inbox: queue.SimpleQueue[Job | object] = queue.SimpleQueue()
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._loaded: Future[IOResult[LoadedModel, ModelLoadFailed]] = Future()
        self._closing = False
        self._stopped = threading.Event()
        self._stats = EngineStats()
        self._thread = threading.Thread(target=self._run, name="mlxfn-engine", daemon=True)

    # -- on the caller's thread -------------------------------------------------------------

    @property
    def loaded(self) -> LoadedModel:
        return run_io(self._loaded.result()).unwrap()

    @property
    def limits(self) -> Limits:
        return Limits(
            context_length=self.loaded.context_length,
            default_max_tokens=self.config.default_max_tokens,
        )

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._closing

    @property
    def pending(self) -> int:
        return self._pending

    @property
    def stats(self) -> EngineStats:
        """The last published snapshot; ``queued`` is what is pending beyond the running batch."""
        published = self._stats
        return attrs.evolve(published, queued=max(0, self._pending - published.running))

    def submit(self, plan: GenerationPlan, sink: Sink) -> IOResult[Job, ApiError]:
        """Queue a plan; ``Overloaded`` when the queue is full, ``Unavailable`` once stopped."""
        # Under the lock, so that no job can be queued behind the engine's last look at the queue.
        with self._pending_lock:
            if not self.alive:
                return IOFailure(Unavailable("the engine is not running"))
            if self._pending >= self.config.max_pending:
                return IOFailure(Overloaded(self._pending))
            self._pending += 1
            job = Job(next(self._ids), plan, sink)
            self._inbox.put(job)
        return IOSuccess(job)

    def close(self, timeout: float = 10.0) -> None:
        """Stop: running and queued requests get ``Failed``, later ones ``Unavailable``."""
        with self._pending_lock:
            self._closing = True
            self._inbox.put(_STOP)
        if self._thread.is_alive():
            self._stopped.wait(timeout)

    # -- on the engine thread ---------------------------------------------------------------

    def _run(self) -> None:
        map_large_buffers_directly()
        try:
            loaded = load_model(self.spec)
        except Exception as exc:  # noqa: BLE001  whatever a loader raises, start_engine must answer
            loaded = IOFailure(ModelLoadFailed(self.spec.source, f"{type(exc).__name__}: {exc}"))
        self._loaded.set_result(loaded)
        match loaded:
            case IOSuccess(Success(model)):
                self._serve(model)
            case _:
                return
        self._stopped.set()
        # Park instead of returning: a thread that ran MLX work and then ends can make the
        # process abort at exit ("terminate called without an active exception") when MLX's
        # thread-local state is torn down while the interpreter exits. A parked daemon thread
        # is never torn down, so the process exits cleanly.
        threading.Event().wait()

    def _serve(self, loaded: LoadedModel) -> None:
        batch = Batch(
            loaded,
            max_batch=self.config.max_batch,
            prefill_step=self.config.prefill_step,
            prefill_step_busy=self.config.prefill_step_busy,
            prompt_cache_bytes=self.config.prompt_cache_bytes,
            long_prompt=self.config.long_prompt,
            on_done=self._finished,
        )
        try:
            while True:
                self._publish(batch)  # after every step, and before waiting while idle
                for item in self._take(block=batch.idle):
                    if item is _STOP:
                        batch.fail_all("the engine stopped")
                        self._fail_queued()
                        batch.close()
                        return
                    if isinstance(item, Job):
                        self._admit(batch, item)
                batch.drop_cancelled()
                if not batch.idle:
                    self._step(batch)
                elif self._inbox.empty():
                    settle()
        except Exception:  # a bug in the loop itself: nobody may wait forever on a dead engine
            log.exception("the engine loop failed; failing every request")
            with self._pending_lock:
                self._closing = True
            batch.fail_all("the engine failed")
            self._fail_queued()

    def _take(self, *, block: bool) -> list[Job | object]:
        items: list[Job | object] = []
        if block:
            items.append(self._inbox.get())
        while True:
            try:
                items.append(self._inbox.get_nowait())
            except queue.Empty:
                return items

    def _admit(self, batch: Batch, job: Job) -> None:
        if job.cancelled:
            self._release()
            return
        try:
            batch.admit(job)
        except Exception as exc:
            log.exception("could not start generation %d", job.id)
            self._tell(job, f"{type(exc).__name__}: {exc}")

    def _step(self, batch: Batch) -> None:
        try:
            batch.step()
        except Exception as exc:
            log.exception("a decode step failed; failing the %d requests in the batch", len(batch))
            batch.fail_all(f"{type(exc).__name__}: {exc}")
            batch.reset()

    def _publish(self, batch: Batch) -> None:
        # One attribute store: readers on other threads see the old snapshot or the new one.
        self._stats = EngineStats(
            running=len(batch),
            active_memory_bytes=mx.get_active_memory(),
            peak_memory_bytes=mx.get_peak_memory(),
            cache_memory_bytes=mx.get_cache_memory(),
        )

    def _finished(self, job: Job) -> None:
        self._release()

    def _fail_queued(self) -> None:
        for item in self._take(block=False):
            if isinstance(item, Job):
                self._tell(item, "the engine stopped")

    def _tell(self, job: Job, why: str) -> None:
        self._release()
        job.fail(why)

    def _release(self) -> None:
        with self._pending_lock:
            self._pending -= 1


def settle() -> None:
    """Tidy up as the engine goes idle: finish pending MLX work (work in flight at interpreter
    exit can abort the process), collect the reference cycles that keep finished requests' KV
    arrays alive, and hand freed heap pages back to the system."""
    mx.synchronize()
    gc.collect()
    release_free_heap()


def start_engine(
    spec: ModelSpec, config: EngineConfig | None = None
) -> IOResult[Engine, ModelLoadFailed]:
    """Start the engine thread, load the model on it, and wait until it is ready (or failed)."""
    engine = Engine(spec, config or EngineConfig())
    engine._thread.start()
    atexit.register(engine.close)  # stop generating before the interpreter tears MLX down
    return engine._loaded.result().map(lambda _: engine)

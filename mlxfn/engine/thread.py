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
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

import attrs
import mlx.core as mx
from returns.io import IOFailure, IOResult, IOSuccess
from returns.result import Success

from mlxfn.domain.errors import (
    ApiError,
    EngineFailed,
    GenerationError,
    InvalidRequest,
    Overloaded,
    TimedOut,
    Unavailable,
)
from mlxfn.effects import run_io
from mlxfn.engine.batch import Batch
from mlxfn.engine.config import (
    DEFAULT_MAX_PENDING,
    DEFAULT_MAX_TOKENS,
    DEFAULT_PREFILL_STEP_BUSY,
    MEMORY_BUDGET_SHARE,
    EngineConfig,
    EngineStats,
)
from mlxfn.engine.job import Job, Sink
from mlxfn.engine.loader import LoadedModel, ModelLoadFailed, ModelSpec, load_model
from mlxfn.engine.memory import (
    available_memory_bytes,
    kv_bytes_per_token,
    map_large_buffers_directly,
    release_free_heap,
)
from mlxfn.engine.task import Task, TaskNotRun
from mlxfn.pipeline.plan import DEFAULT_MAX_CHOICES, GenerationPlan, Limits
from mlxfn.platform.os_threads import name_os_thread

log = logging.getLogger(__name__)

# the defaults the tests and benchmarks name here are re-exported from config.py
__all__ = [
    "DEFAULT_MAX_PENDING",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_PREFILL_STEP_BUSY",
    "Engine",
    "EngineConfig",
    "EngineStats",
    "Job",
    "TaskNotRun",
    "start_engine",
]


_STOP = object()
T = TypeVar("T")


class Engine:
    """The handle the server and notebooks hold. Create it with ``start_engine``."""

    def __init__(self, spec: ModelSpec, config: EngineConfig) -> None:
        self.spec = spec
        self.config = config
        self._inbox: queue.SimpleQueue[Job | object] = queue.SimpleQueue()
        self._pending = 0
        self._pending_tokens = 0
        self._pending_lock = threading.Lock()
        self._waiting: deque[Job] = deque()  # taken from the inbox, not yet in the batch
        self._reserved_kv = 0  # bytes the admitted requests' KV caches can grow to
        self.kv_bytes_per_token = 0  # measured on the engine thread once the model is loaded
        self.memory_budget = 0  # bytes; see EngineConfig
        self._ids = itertools.count(1)
        self._loaded: Future[IOResult[LoadedModel, ModelLoadFailed]] = Future()
        self._closing = False
        self._end_thread = False
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
            max_completion_tokens=self.config.max_completion_tokens,
            max_output_tokens=self.config.max_output_tokens,
            model_aliases=self.config.model_aliases,
            max_prompt_tokens=self.config.max_prompt_tokens,
            max_messages=self.config.max_messages,
            max_choices=min(DEFAULT_MAX_CHOICES, self.config.max_batch),
            vocab_size=self.loaded.vocab_size,
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
        """Queue a plan; ``Overloaded`` when the queue is full (in requests or prompt tokens),
        ``InvalidRequest`` when its KV cache could never fit the memory budget, ``Unavailable``
        once stopped."""
        # each of the n choices holds a copy of the prompt's KV cache, and its own completion
        kv_bytes = (len(plan.prompt) + plan.max_tokens) * plan.n * self.kv_bytes_per_token
        if kv_bytes > self.memory_budget:
            return IOFailure(
                InvalidRequest(
                    f"This request could need {kv_bytes / 2**20:.0f} MiB of KV cache (prompt "
                    f"plus max_tokens, times n), more than this server's budget of "
                    f"{self.memory_budget / 2**20:.0f} MiB; lower max_tokens or the prompt",
                    param="max_tokens",
                    code="request_too_large",
                )
            )
        config, tokens, now = self.config, len(plan.prompt), time.monotonic()
        # Under the lock, so that no job can be queued behind the engine's last look at the queue.
        with self._pending_lock:
            if not self.alive:
                return IOFailure(Unavailable("the engine is not running"))
            if self._pending >= config.max_pending:
                return IOFailure(Overloaded(self._pending))
            token_cap = config.max_pending_tokens
            if self._pending and token_cap and self._pending_tokens + tokens > token_cap:
                return IOFailure(Overloaded(self._pending))
            self._pending += 1
            self._pending_tokens += tokens
            job = Job(
                next(self._ids),
                plan,
                sink,
                kv_bytes=kv_bytes,
                start_by=None if config.queue_timeout is None else now + config.queue_timeout,
                end_by=None if config.request_timeout is None else now + config.request_timeout,
                # A request refused part-way cancels its other prompts' jobs; their places
                # must be free for the client's retry at once, not after the next engine step.
                on_cancel=self._leave_queue,
            )
            self._inbox.put(job)
        return IOSuccess(job)

    def run_task(self, work: Callable[[LoadedModel], T]) -> IOResult[Future[T], ApiError]:
        """Run ``work`` on the engine thread, between two decode steps, with the loaded model
        (MLX may only be called there); ``Unavailable`` once stopped."""
        future: Future[T] = Future()
        with self._pending_lock:
            if not self.alive:
                return IOFailure(Unavailable("the engine is not running"))
            self._inbox.put(Task(work, future))
        return IOSuccess(future)

    def close(self, timeout: float = 10.0, *, end_thread: bool = False) -> None:
        """Stop: running and queued requests get ``Failed``, later ones ``Unavailable``.
        ``end_thread`` lets the thread end rather than park (below): for an engine stopped
        while the process runs on, such as an unloaded model's."""
        atexit.unregister(self.close)  # which held this engine, and so its model, alive
        with self._pending_lock:
            self._closing = True
            self._end_thread = end_thread
            self._inbox.put(_STOP)
        if self._thread.is_alive():
            self._stopped.wait(timeout)

    # -- on the engine thread ---------------------------------------------------------------

    def _run(self) -> None:
        name_os_thread()
        map_large_buffers_directly()
        try:
            loaded = load_model(self.spec).map(self._measure)
        except Exception as exc:  # noqa: BLE001  whatever a loader raises, start_engine must answer
            loaded = IOFailure(ModelLoadFailed(self.spec.source, f"{type(exc).__name__}: {exc}"))
        self._loaded.set_result(loaded)
        match loaded:
            case IOSuccess(Success(model)):
                self._serve(model)
            case _:
                return
        # The weights' memory goes back once the engine stops (an evicted model's), although
        # this thread lives on, parked, below; what handlers read (name, tokenizer) stays.
        stopped: Future[IOResult[LoadedModel, ModelLoadFailed]] = Future()
        stopped.set_result(IOSuccess(attrs.evolve(model, model=None)))
        self._loaded = stopped
        del model, loaded
        settle()
        mx.clear_cache()
        self._stopped.set()
        # Park instead of returning: a thread that ran MLX work and then ends can make the
        # process abort at exit ("terminate called without an active exception") when MLX's
        # thread-local state is torn down while the interpreter exits. A parked daemon thread
        # is never torn down, so the process exits cleanly. One that ends long before the
        # exit is fine, and frees its stack and heap arena.
        if not self._end_thread:
            threading.Event().wait()

    def _measure(self, loaded: LoadedModel) -> LoadedModel:
        """Settle what admission needs, before the first request can arrive."""
        self.kv_bytes_per_token = kv_bytes_per_token(loaded.model)
        budget = self.config.memory_budget_bytes
        if budget is None:
            free = available_memory_bytes()
            budget = 2**62 if free is None else int(free * MEMORY_BUDGET_SHARE)
            budget -= self.config.prompt_cache_bytes
        self.memory_budget = max(budget, 0)
        log.info(
            "KV cache: %d bytes per token; budget %.0f MiB (%d tokens of context in flight)",
            self.kv_bytes_per_token,
            self.memory_budget / 2**20,
            self.memory_budget // self.kv_bytes_per_token,
        )
        return loaded

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
        unsettled = True
        try:
            while True:
                self._publish(batch)  # after every step, and before waiting while idle
                for item in self._take(block=batch.idle and not self._waiting):
                    if item is _STOP:
                        stopping = Unavailable("the server is shutting down")
                        batch.fail_all(stopping)
                        self._fail_queued(stopping)
                        batch.close()
                        return
                    if isinstance(item, Job):
                        self._waiting.append(item)
                    elif isinstance(item, Task):
                        item.run(loaded)
                self._admit_waiting(batch)
                batch.drop_cancelled()
                for job in batch.drop_expired(time.monotonic()):
                    job.fail(TimedOut("total", self.config.request_timeout or 0.0))
                if not batch.idle:
                    self._step(batch)
                    unsettled = True
                elif unsettled and self._inbox.empty() and not self._waiting:
                    # Once per fall to idle after generating: a task (an embedding) leaves
                    # nothing to tidy, and tidying after each of many would cost ~60 ms each.
                    settle()
                    unsettled = False
        except Exception:  # a bug in the loop itself: nobody may wait forever on a dead engine
            log.exception("the engine loop failed; failing every request")
            with self._pending_lock:
                self._closing = True
            batch.fail_all(EngineFailed("the engine failed"))
            self._fail_queued(EngineFailed("the engine failed"))

    def _take(self, *, block: bool) -> list[Job | object]:
        items: list[Job | object] = []
        if block:
            items.append(self._inbox.get())
        while True:
            try:
                items.append(self._inbox.get_nowait())
            except queue.Empty:
                return items

    def _admit_waiting(self, batch: Batch) -> None:
        """Move waiting requests into the batch in arrival order, while their KV caches fit
        the memory budget (one always fits an idle batch); drop those cancelled or too late."""
        now = time.monotonic()
        late = [job for job in self._waiting if job.start_by is not None and now > job.start_by]
        for job in late:
            self._waiting.remove(job)
            self._tell(job, TimedOut("queue", self.config.queue_timeout or 0.0))
        while self._waiting:
            job = self._waiting[0]
            if job.cancelled:
                self._waiting.popleft()
                self._release(job)
                continue
            if not batch.idle and self._reserved_kv + job.kv_bytes > self.memory_budget:
                return  # it waits for running requests to finish
            self._waiting.popleft()
            self._admit(batch, job)

    def _admit(self, batch: Batch, job: Job) -> None:
        self._reserved_kv += job.kv_bytes
        try:
            batch.admit(job)
        except Exception as exc:
            log.exception("could not start generation %d", job.id)
            self._tell(job, EngineFailed(f"{type(exc).__name__}: {exc}"), admitted=True)

    def _step(self, batch: Batch) -> None:
        try:
            batch.step()
        except Exception as exc:
            log.exception("a decode step failed; failing the %d requests in the batch", len(batch))
            batch.fail_all(EngineFailed(f"{type(exc).__name__}: {exc}"))
            batch.reset()

    def _publish(self, batch: Batch) -> None:
        # One attribute store: readers on other threads see the old snapshot or the new one.
        self._stats = EngineStats(
            running=len(batch),
            active_memory_bytes=mx.get_active_memory(),
            peak_memory_bytes=mx.get_peak_memory(),
            cache_memory_bytes=mx.get_cache_memory(),
            prefill_tokens=batch.prefill_tokens,
        )

    def _finished(self, job: Job) -> None:
        self._release(job, admitted=True)

    def _fail_queued(self, error: GenerationError) -> None:
        queued = [*self._waiting, *self._take(block=False)]
        self._waiting.clear()
        for item in queued:
            if isinstance(item, Job):
                self._tell(item, error)
            elif isinstance(item, Task) and item.result.set_running_or_notify_cancel():
                item.result.set_exception(TaskNotRun(error))

    def _tell(self, job: Job, error: GenerationError, *, admitted: bool = False) -> None:
        self._release(job, admitted=admitted)
        job.fail(error)

    def _release(self, job: Job, *, admitted: bool = False) -> None:
        if admitted:
            self._reserved_kv -= job.kv_bytes
        self._leave_queue(job)

    def _leave_queue(self, job: Job) -> None:
        if job.leave_queue():
            with self._pending_lock:
                self._pending -= 1
                self._pending_tokens -= len(job.plan.prompt)


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

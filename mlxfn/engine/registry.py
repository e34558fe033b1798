"""Several models behind one endpoint: each served id has an engine of its own, started when
a request first needs it and stopped again, least recently used first, to keep the loaded
weights within a memory budget, or once idle for the keep-alive time.

A request holds a lease on its model's engine from the moment it is routed until its last
byte, so an engine is only ever stopped while nothing uses it; a model that is in use stays
loaded even when that leaves the budget exceeded (the next idle moment puts it right). Loads
run one at a time on the caller's thread (the server's is a worker thread, never the event
loop), so a load never blocks another model's engine, which keeps generating on its own
thread. An adapter is a model of its own: its base model loaded again with the adapter's
layers, since mlx-lm's LoRA layers apply one adapter to every row of a batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import attrs
from returns.io import IOResult
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, ModelNotFound, Unavailable
from mlxfn.domain.models import ModelCard, ModelState
from mlxfn.effects import run_io
from mlxfn.engine.config import EngineConfig
from mlxfn.engine.loader import ModelLoadFailed, ModelSpec, served_name_of
from mlxfn.engine.thread import Engine, start_engine

log = logging.getLogger(__name__)

Starter = Callable[[ModelSpec, EngineConfig], IOResult[Engine, ModelLoadFailed]]


@attrs.frozen(kw_only=True)
class ServedModel:
    """A model id and what serves it. ``parent`` is an adapter's base model id."""

    id: str
    spec: ModelSpec
    config: EngineConfig
    parent: str | None = None


@attrs.frozen(kw_only=True)
class ModelStatus:
    """One served model as ``/v1/models`` lists it."""

    id: str
    state: ModelState
    created: int
    parent: str | None
    weight_bytes: int  # 0 until it has been loaded once
    loads: int
    running: int
    queued: int
    prefill_tokens: int

    @property
    def card(self) -> ModelCard:
        return ModelCard(id=self.id, created=self.created, state=self.state, parent=self.parent)


@attrs.define
class _Entry:
    model: ServedModel
    created: int
    engine: Engine | None = None
    leases: int = 0
    last_used: float = 0.0
    weight_bytes: int = 0
    loads: int = 0
    loading: bool = False
    prefill_done: int = 0  # prefill tokens of engines already stopped, so the counter only grows
    load_lock: threading.Lock = attrs.field(factory=threading.Lock)


def served_id(spec: ModelSpec) -> str:
    return spec.served_name or served_name_of(spec.source)


class ModelRegistry:
    """The served models, by id; thread-safe. ``aliases`` (``*``: any id) name the first."""

    def __init__(
        self,
        models: Sequence[ServedModel],
        *,
        memory_budget: int | None = None,
        keep_alive: float | None = None,
        starter: Starter = start_engine,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not models:
            raise ValueError("a registry needs at least one model")
        ids = [m.id for m in models]
        if len(set(ids)) != len(ids):
            raise ValueError(f"model ids must differ: {ids}")
        now = int(time.time())
        self._entries = {m.id: _Entry(m, now) for m in models}
        self.ids = tuple(ids)
        self.memory_budget = memory_budget
        self.keep_alive = keep_alive
        self._start = starter
        self._clock = clock
        self._lock = threading.Lock()  # the entries' fields; never held while loading
        self._load_lock = threading.Lock()  # one load at a time: the budget counts each once
        self._closed = False

    @classmethod
    def of_specs(
        cls,
        specs: Sequence[ModelSpec],
        config: EngineConfig | None = None,
        *,
        memory_budget: int | None = None,
        keep_alive: float | None = None,
    ) -> ModelRegistry:
        """Models served under their own ids (``served_name``, or the folder's or file's
        name), with one engine configuration; none is loaded until first used."""
        config = config or EngineConfig()
        served = [
            ServedModel(
                id=served_id(spec),
                spec=attrs.evolve(spec, served_name=served_id(spec)),
                config=config,
            )
            for spec in specs
        ]
        return cls(served, memory_budget=memory_budget, keep_alive=keep_alive)

    @classmethod
    def of_engine(cls, engine: Engine) -> ModelRegistry:
        """One model, already loaded: what an app made from a started engine serves."""
        registry = cls([ServedModel(id=engine.loaded.name, spec=engine.spec, config=engine.config)])
        entry = registry._entries[registry.ids[0]]
        entry.engine, entry.loads = engine, 1
        entry.weight_bytes, entry.created = engine.loaded.weight_bytes, engine.loaded.created
        entry.last_used = registry._clock()
        return registry

    # -- which model ----------------------------------------------------------------------

    @property
    def default_id(self) -> str:
        return self.ids[0]

    @property
    def default_config(self) -> EngineConfig:
        """The first model's engine configuration, with the aliases."""
        return self._entries[self.default_id].model.config

    def resolve(self, model_id: str | None) -> Result[str, ApiError]:
        """The served id a request's ``model`` names: an id, an alias of the first model, any
        name where ``*`` is an alias; no model at all means the first."""
        if model_id is None or model_id in self._entries:
            return Success(model_id or self.default_id)
        aliases = self._entries[self.default_id].model.config.model_aliases
        if model_id in aliases or "*" in aliases:
            return Success(self.default_id)
        return Failure(ModelNotFound(model_id))

    def any_loaded(self) -> str | None:
        """A loaded model's id, the first model's if it is: enough to answer for an unknown
        id (its own checks then say what else is wrong with the request, in the usual order)."""
        with self._lock:
            return next((i for i, e in self._entries.items() if e.engine is not None), None)

    # -- leases ---------------------------------------------------------------------------

    def try_lease(self, model_id: str) -> Engine | None:
        """The model's engine, leased, if it is loaded; never waits. An engine that has
        stopped by itself stays: it refuses work with a 503, and ``/health`` says so."""
        with self._lock:
            entry = self._entries[model_id]
            if entry.engine is None:
                return None
            entry.leases += 1
            entry.last_used = self._clock()
            return entry.engine

    def lease(self, model_id: str) -> Result[Engine, ApiError]:
        """The model's engine, leased, loading it first if need be (this may take minutes:
        call it off the event loop). A failed load is ``Unavailable``, and the next request
        tries again."""
        if (engine := self.try_lease(model_id)) is not None:
            return Success(engine)
        entry = self._entries[model_id]
        with entry.load_lock:  # requests for one model wait for a single load
            if (engine := self.try_lease(model_id)) is not None:
                return Success(engine)
            with self._load_lock:
                return self._load(entry)

    def release(self, model_id: str) -> None:
        with self._lock:
            entry = self._entries[model_id]
            entry.leases -= 1
            entry.last_used = self._clock()

    @contextmanager
    def using(self, model_id: str | None = None) -> Iterator[Engine]:
        """A model's engine for the duration of a ``with`` block (notebooks, scripts)."""
        served = self.resolve(model_id).alt(lambda err: RuntimeError(repr(err))).unwrap()
        engine = self.lease(served).alt(lambda err: RuntimeError(repr(err))).unwrap()
        try:
            yield engine
        finally:
            self.release(served)

    # -- loading and unloading ------------------------------------------------------------

    def _load(self, entry: _Entry) -> Result[Engine, ApiError]:
        with self._lock:
            if self._closed:
                return Failure(Unavailable("the server is shutting down"))
            entry.loading = True
        model = entry.model
        try:
            self._evict(keep=model.id, room=_cost(entry))  # what it took last time
            log.info("loading model %s from %s", model.id, model.spec.source)
            started = run_io(self._start(model.spec, model.config))
        finally:
            with self._lock:
                entry.loading = False
        if isinstance(started, Failure):
            failed = started.failure()
            log.error("cannot load model %s: %s", model.id, failed.reason)
            return Failure(Unavailable(f"model '{model.id}' could not be loaded: {failed.reason}"))
        engine = started.unwrap()
        with self._lock:
            entry.engine = engine
            entry.weight_bytes = engine.loaded.weight_bytes
            entry.loads += 1
            entry.leases += 1
            entry.last_used = self._clock()
            closed = self._closed
        if closed:  # the server began to shut down while this model loaded
            self.release(model.id)
            self._stop(entry, for_good=True)
            return Failure(Unavailable("the server is shutting down"))
        self._evict(keep=model.id, room=0)  # now that its real size is known
        return Success(engine)

    def _evict(self, *, keep: str, room: int) -> None:
        """Stop idle engines, least recently used first, until the loaded models and
        ``room`` fit the budget: each model's weights, and the most its prefix cache holds."""
        if self.memory_budget is None:
            return
        while True:
            with self._lock:
                loaded = [e for e in self._entries.values() if e.engine is not None]
                used = sum(_cost(e) for e in loaded if e.model.id != keep)
                if keep_entry := self._entries.get(keep):
                    used += _cost(keep_entry) if keep_entry.engine is not None else room
                idle = [e for e in loaded if e.leases == 0 and e.model.id != keep]
                if used <= self.memory_budget or not idle:
                    if used > self.memory_budget and len(loaded) > 1:  # others are in use
                        log.warning(
                            "models use %.0f MiB, over the %.0f MiB budget, while in use",
                            used / 2**20,
                            self.memory_budget / 2**20,
                        )
                    return
                victim = min(idle, key=lambda e: e.last_used)
            log.info("unloading model %s to make room", victim.model.id)
            self._stop(victim)

    def _stop(self, entry: _Entry, *, for_good: bool = False) -> None:
        with self._lock:
            engine, entry.engine = entry.engine, None
            if engine is not None:
                entry.prefill_done += engine.stats.prefill_tokens
        if engine is not None:
            # An unloaded model's thread ends; at shutdown they park, as every engine's does.
            engine.close(end_thread=not for_good)

    def expire_idle(self) -> list[str]:
        """Stop the engines idle for longer than the keep-alive time; the ids stopped."""
        if self.keep_alive is None:
            return []
        deadline = self._clock() - self.keep_alive
        with self._lock:
            idle = [
                e
                for e in self._entries.values()
                if e.engine is not None and e.leases == 0 and e.last_used < deadline
            ]
        for entry in idle:
            log.info("unloading model %s: idle for %g s", entry.model.id, self.keep_alive)
            self._stop(entry)
        return [e.model.id for e in idle]

    def preload(self, model_ids: Sequence[str] | None = None) -> list[tuple[str, ApiError]]:
        """Load models now (all of them by default); the failures, by id."""
        failures: list[tuple[str, ApiError]] = []
        for model_id in model_ids or self.ids:
            leased = self.lease(model_id)
            if isinstance(leased, Failure):
                failures.append((model_id, leased.failure()))
            else:
                self.release(model_id)
        return failures

    def close(self) -> None:
        """Stop every engine; loads that finish afterwards stop at once."""
        with self._lock:
            self._closed = True
        for entry in self._entries.values():
            self._stop(entry, for_good=True)

    # -- what runs ------------------------------------------------------------------------

    def engines(self) -> list[Engine]:
        with self._lock:
            return [e.engine for e in self._entries.values() if e.engine is not None]

    @property
    def pending(self) -> int:
        return sum(engine.pending for engine in self.engines())

    @property
    def alive(self) -> bool:
        """No loaded engine has died: a model not loaded is not a fault."""
        with self._lock:
            return not self._closed and all(
                e.engine.alive for e in self._entries.values() if e.engine is not None
            )

    def statuses(self) -> list[ModelStatus]:
        with self._lock:
            entries = list(self._entries.values())
            return [_status(e) for e in entries]

    def status(self, model_id: str) -> ModelStatus:
        with self._lock:
            return _status(self._entries[model_id])


def _cost(entry: _Entry) -> int:
    """What a loaded model counts against the budget: its weights and its prefix cache's
    bound (its KV cache in flight has a budget of its own, ``--memory-budget``)."""
    return entry.weight_bytes + entry.model.config.prompt_cache_bytes


def _status(entry: _Entry) -> ModelStatus:
    engine = entry.engine
    stats = engine.stats if engine is not None else None
    state: ModelState = "loaded" if engine is not None else "unloaded"
    return ModelStatus(
        id=entry.model.id,
        state="loading" if entry.loading else state,
        created=entry.created,
        parent=entry.model.parent,
        weight_bytes=entry.weight_bytes,
        loads=entry.loads,
        running=0 if stats is None else stats.running,
        queued=0 if stats is None else stats.queued,
        prefill_tokens=entry.prefill_done + (0 if stats is None else stats.prefill_tokens),
    )

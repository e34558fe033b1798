"""What each request did, recorded once as it ends: Prometheus metrics and the access log line.

A ``Trace`` follows one request on the event loop (its generation's events pass through it);
the middleware turns it into a frozen ``RequestRecord`` when the request ends, and both the
access log and the metrics read that record. Engine gauges are read at scrape time from the
engine's published ``EngineStats``, never from MLX on this thread.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import attrs
import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from mlxfn.domain.events import Delta, Event, Finished, Usage, add_choice_usage, add_prompt_usage
from mlxfn.engine.config import EngineStats
from mlxfn.engine.registry import ModelRegistry, ModelStatus

UNMATCHED_ROUTE = "unmatched"  # every path no route matches shares one label value

# Seconds, from a few milliseconds (a cached prompt on a tiny model) to minutes (a long CPU
# generation).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
TOKEN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@attrs.define
class Trace:
    """When one request started and what its generation reported; mutated on the event loop only."""

    started: float = attrs.field(factory=time.perf_counter)
    first_output: float | None = None
    finished: float | None = None
    usage: Usage | None = None
    prompts: set[int] = attrs.field(factory=set)  # the prompts whose tokens usage counts
    model: str | None = None  # the served model the request was routed to

    def observe(self, event: Event, prompt: int = 0) -> None:
        """Note an engine event as it reaches the event loop; ``prompt`` says which of a
        completions request's prompts it is about."""
        now = time.perf_counter()
        match event:
            case Delta():
                if self.first_output is None:
                    self.first_output = now
            case Finished(usage=usage):  # one per choice: each prompt counted once
                self.finished = now
                if prompt in self.prompts:
                    self.usage = add_choice_usage(self.usage, usage)
                else:
                    self.prompts.add(prompt)
                    self.usage = add_prompt_usage(self.usage, usage)
            case _:
                pass


@attrs.frozen(kw_only=True)
class RequestRecord:
    """One finished request, as the access log and the metrics see it."""

    request_id: str
    method: str
    route: str
    path: str
    status: int
    total_s: float
    usage: Usage | None = None
    ttft_s: float | None = None
    tpot_s: float | None = None
    model: str | None = None


def build_record(
    trace: Trace, *, request_id: str, method: str, route: str, path: str, status: int, ended: float
) -> RequestRecord:
    """The record of a request that ended at ``ended`` (a ``time.perf_counter`` reading).

    Time to first token is measured to the first output text; time per output token spreads
    the rest of the generation over the tokens after the first.

    >>> trace = Trace(started=1.0, first_output=1.5, finished=2.5, usage=Usage(10, 5))
    >>> record = build_record(
    ...     trace, request_id="r", method="POST", route="/c", path="/c", status=200, ended=3.0
    ... )
    >>> record.total_s, record.ttft_s, record.tpot_s
    (2.0, 0.5, 0.25)
    """
    ttft = tpot = None
    usage = trace.usage
    if usage is not None and usage.completion_tokens > 0:
        first = trace.first_output if trace.first_output is not None else trace.finished
        ttft = None if first is None else first - trace.started
        if first is not None and trace.finished is not None and usage.completion_tokens > 1:
            tpot = (trace.finished - first) / (usage.completion_tokens - 1)
    return RequestRecord(
        request_id=request_id,
        method=method,
        route=route,
        path=path,
        status=status,
        total_s=ended - trace.started,
        usage=usage,
        ttft_s=ttft,
        tpot_s=tpot,
        model=trace.model,
    )


_BARE = re.compile(r"[A-Za-z0-9._:/{}\-]+")


def _value(raw: str) -> str:
    # Client-chosen text (a path, a method) is quoted, so that it cannot forge fields or lines.
    return raw if _BARE.fullmatch(raw) else orjson.dumps(raw).decode()


def render_access_line(record: RequestRecord) -> str:
    """One ``key=value`` line; token counts and timings appear when the request had them.

    >>> render_access_line(RequestRecord(
    ...     request_id="r1", method="GET", route="unmatched", path="/a b", status=404, total_s=0.002
    ... ))
    'id=r1 method=GET route=unmatched path="/a b" status=404 total_s=0.002000'
    """
    fields = [
        f"id={_value(record.request_id)}",
        f"method={_value(record.method)}",
        f"route={_value(record.route)}",
        f"path={_value(record.path)}",
        f"status={record.status}",
    ]
    if record.model is not None:
        fields.append(f"model={_value(record.model)}")
    if record.usage is not None:
        fields += [
            f"prompt_tokens={record.usage.prompt_tokens}",
            f"completion_tokens={record.usage.completion_tokens}",
            f"cached_tokens={record.usage.cached_tokens}",
        ]
    if record.ttft_s is not None:
        fields.append(f"ttft_s={record.ttft_s:.6f}")
    if record.tpot_s is not None:
        fields.append(f"tpot_s={record.tpot_s:.6f}")
    fields.append(f"total_s={record.total_s:.6f}")
    return " ".join(fields)


class _EngineCollector(Collector):
    """Gauges read when Prometheus scrapes, from each engine's last published snapshot: the
    server's totals, and per model (``model`` label) whether it is loaded and what it runs."""

    def __init__(self, models: ModelRegistry) -> None:
        self._models = models

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        statuses = self._models.statuses()
        engines = self._models.engines()
        stats = engines[0].stats if engines else EngineStats()  # MLX's memory is the process's
        gauges = (
            (
                "mlxfn_requests_queued",
                "Requests waiting to join a running batch",
                sum(s.queued for s in statuses),
            ),
            (
                "mlxfn_sequences_running",
                "Sequences in the running batches",
                sum(s.running for s in statuses),
            ),
            (
                "mlxfn_mlx_active_memory_bytes",
                "Memory MLX holds in live arrays: the models' weights and the KV caches",
                stats.active_memory_bytes,
            ),
            (
                "mlxfn_mlx_peak_memory_bytes",
                "The most memory MLX has held in live arrays since the engine started",
                stats.peak_memory_bytes,
            ),
            (
                "mlxfn_mlx_cache_memory_bytes",
                "Freed memory MLX keeps cached for reuse",
                stats.cache_memory_bytes,
            ),
        )
        for name, documentation, value in gauges:
            yield GaugeMetricFamily(name, documentation, value=value)
        yield CounterMetricFamily(
            "mlxfn_prefill_tokens",
            "Prompt tokens the model computed (not those from the prefix cache; a prompt "
            "of n choices once, plus one token per further choice)",
            value=sum(s.prefill_tokens for s in statuses),
        )
        yield from _per_model(statuses)


def _per_model(statuses: list[ModelStatus]) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    families: list[tuple[str, str, type[GaugeMetricFamily | CounterMetricFamily]]] = [
        ("mlxfn_model_loaded", "1 while the model is loaded, else 0", GaugeMetricFamily),
        (
            "mlxfn_model_weight_bytes",
            "The model's weights in memory, once loaded",
            GaugeMetricFamily,
        ),
        ("mlxfn_model_sequences_running", "The model's running sequences", GaugeMetricFamily),
        ("mlxfn_model_requests_queued", "Requests waiting for the model", GaugeMetricFamily),
        ("mlxfn_model_loads", "Times the model has been loaded", CounterMetricFamily),
        ("mlxfn_model_prefill_tokens", "Prompt tokens the model computed", CounterMetricFamily),
    ]
    made = [kind(name, doc, labels=["model"]) for name, doc, kind in families]
    for status in statuses:
        values = (
            int(status.state == "loaded"),
            status.weight_bytes,
            status.running,
            status.queued,
            status.loads,
            status.prefill_tokens,
        )
        for family, value in zip(made, values, strict=True):
            family.add_metric([status.id], value)
    yield from made


class Metrics:
    """The app's metrics, in a registry of its own (a process may run many apps, as tests do)."""

    def __init__(self, models: ModelRegistry) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mlxfn_requests",
            "HTTP requests by route (its pattern, not the raw path) and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.prompt_tokens = Counter(
            "mlxfn_prompt_tokens", "Prompt tokens of finished generations", registry=self.registry
        )
        self.completion_tokens = Counter(
            "mlxfn_completion_tokens", "Tokens generated", registry=self.registry
        )
        self.cached_tokens = Counter(
            "mlxfn_prefix_cache_hit_tokens",
            "Prompt tokens whose KV state came from the prefix cache",
            registry=self.registry,
        )
        self.time_to_first_token = Histogram(
            "mlxfn_time_to_first_token_seconds",
            "From the request's arrival to its first output text",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.time_per_output_token = Histogram(
            "mlxfn_time_per_output_token_seconds",
            "Decode time per generated token after the first",
            buckets=TOKEN_BUCKETS,
            registry=self.registry,
        )
        self.e2e_latency = Histogram(
            "mlxfn_e2e_request_latency_seconds",
            "From a generation request's arrival to its last byte",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model_tokens = Counter(
            "mlxfn_model_tokens",
            "Prompt and generated tokens of finished generations, by model",
            ["model", "kind"],
            registry=self.registry,
        )
        self.model_requests = Counter(
            "mlxfn_model_requests",
            "Requests routed to each model, by status",
            ["model", "status"],
            registry=self.registry,
        )
        self.registry.register(_EngineCollector(models))

    def record(self, record: RequestRecord) -> None:
        self.requests.labels(record.route, str(record.status)).inc()
        if record.model is not None:
            self.model_requests.labels(record.model, str(record.status)).inc()
        if record.usage is None:
            return
        if record.model is not None:
            self.model_tokens.labels(record.model, "prompt").inc(record.usage.prompt_tokens)
            self.model_tokens.labels(record.model, "completion").inc(record.usage.completion_tokens)
        self.prompt_tokens.inc(record.usage.prompt_tokens)
        self.completion_tokens.inc(record.usage.completion_tokens)
        self.cached_tokens.inc(record.usage.cached_tokens)
        self.e2e_latency.observe(record.total_s)
        if record.ttft_s is not None:
            self.time_to_first_token.observe(record.ttft_s)
        if record.tpot_s is not None:
            self.time_per_output_token.observe(record.tpot_s)

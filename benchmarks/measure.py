"""What one request and one repetition of a scenario measured, and the statistics over them.

Shared by the HTTP driver and the in-process ceiling, so both are summarised the same way.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class RequestResult:
    """One request: times are seconds from the moment it was sent."""

    start_s: float  # when it was sent, on the repetition's clock
    ttft_s: float | None  # first content; None when not streamed or nothing came
    token_times_s: tuple[float, ...]  # arrival of each content delta (streams only)
    total_s: float
    output_tokens: int
    prompt_tokens: int | None
    usage_reported: bool  # output_tokens came from usage (else: counted content deltas)
    text: str
    error: str | None = None

    @property
    def gaps_s(self) -> tuple[float, ...]:
        times = self.token_times_s
        return tuple(b - a for a, b in itertools.pairwise(times))


@dataclass(frozen=True)
class RepetitionResult:
    """One repetition of one scenario on one system."""

    wall_s: float
    requests: tuple[RequestResult, ...]
    # Scenario-specific figures: warm/cold TTFT for multiturn, max/median gap for burst.
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def output_tokens(self) -> int:
        return sum(r.output_tokens for r in self.requests)

    @property
    def tokens_per_s(self) -> float:
        return self.output_tokens / self.wall_s if self.wall_s > 0 else math.nan

    @property
    def errors(self) -> tuple[str, ...]:
        return tuple(r.error for r in self.requests if r.error is not None)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]; NaN for no values.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    >>> percentile([5.0], 95)
    5.0
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if finite else math.nan


def gap_ratio(requests: Sequence[RequestResult]) -> float:
    """Largest inter-token gap over the median gap, pooled over the requests' streams."""
    gaps = [gap for r in requests for gap in r.gaps_s]
    if not gaps:
        return math.nan
    middle = statistics.median(gaps)
    return max(gaps) / middle if middle > 0 else math.nan


def multiturn_extra(cold: float | None, warm: float | None) -> dict[str, float]:
    cold_s = math.nan if cold is None else cold
    warm_s = math.nan if warm is None else warm
    return {
        "cold_ttft_s": cold_s,
        "warm_ttft_s": warm_s,
        "warm_over_cold_ttft": warm_s / cold_s if cold_s > 0 else math.nan,
    }


def burst_extra(
    streams: Sequence[RequestResult], long_ttft: float | None, joined_s: float
) -> dict[str, float]:
    gaps = [g for r in streams for g in r.gaps_s]
    return {
        "max_over_median_gap": gap_ratio(streams),
        "max_gap_s": max(gaps) if gaps else math.nan,
        "long_prompt_ttft_s": math.nan if long_ttft is None else long_ttft,
        "long_prompt_joined_s": joined_s,
    }


@dataclass(frozen=True)
class Summary:
    """Medians over repetitions of one scenario on one system."""

    tokens_per_s: float
    ttft_p50_s: float
    ttft_p95_s: float
    latency_p50_s: float
    extra: dict[str, float]
    repetitions: int
    errors: int


def summarise(repetitions: Sequence[RepetitionResult]) -> Summary:
    """Each figure is computed per repetition; the summary is the median over repetitions."""

    def per_rep_ttft(rep: RepetitionResult, q: float) -> float:
        return percentile([r.ttft_s for r in rep.requests if r.ttft_s is not None], q)

    keys = sorted({k for rep in repetitions for k in rep.extra})
    return Summary(
        tokens_per_s=median([rep.tokens_per_s for rep in repetitions]),
        ttft_p50_s=median([per_rep_ttft(rep, 50) for rep in repetitions]),
        ttft_p95_s=median([per_rep_ttft(rep, 95) for rep in repetitions]),
        latency_p50_s=median(
            [percentile([r.total_s for r in rep.requests], 50) for rep in repetitions]
        ),
        extra={k: median([rep.extra.get(k, math.nan) for rep in repetitions]) for k in keys},
        repetitions=len(repetitions),
        errors=sum(len(rep.errors) for rep in repetitions),
    )


def repetition_to_dict(rep: RepetitionResult) -> dict[str, Any]:
    return asdict(rep)


def repetition_from_dict(data: dict[str, Any]) -> RepetitionResult:
    return RepetitionResult(
        wall_s=float(data["wall_s"]),
        requests=tuple(
            RequestResult(**{**r, "token_times_s": tuple(r["token_times_s"])})
            for r in data["requests"]
        ),
        extra={str(k): float(v) for k, v in data["extra"].items()},
    )

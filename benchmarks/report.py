"""The results table and the JSON document, from per-repetition results."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks.measure import RepetitionResult, Summary, median, summarise
from benchmarks.servers import Memory
from benchmarks.workload import Scenario

CEILING = "ceiling"
SYSTEM_LABELS = {
    "mlxfn": "mlxfn",
    "mlx_lm": "mlx_lm",
    "llama_cpp": "llama.cpp",
    "mlxfn_gguf": "mlxfn-gguf",
    CEILING: "ceil",
}


@dataclass(frozen=True)
class VariantResults:
    """Everything measured on one model: by scenario, then by system (server name or ceiling)."""

    variant: str
    model_path: str
    description: str
    scenarios: tuple[Scenario, ...]
    results: Mapping[str, Mapping[str, Sequence[RepetitionResult]]]
    memory: Mapping[str, Memory | None]
    ceiling_peak_mb: float | None
    blas: Mapping[str, str]  # by system: which BLAS it loaded, as far as can be seen


def _num(value: float, digits: int = 1) -> str:
    return "—" if math.isnan(value) else f"{value:.{digits}f}"


def _ms(value: float) -> str:
    return "—" if math.isnan(value) else f"{value * 1000:.0f}"


def _ratio(a: float, b: float) -> str:
    return "—" if math.isnan(a) or math.isnan(b) or b == 0 else f"{a / b:.2f}"


def _figure(scenario: Scenario, summary: Summary | None) -> str:
    """The scenario's own figure: warm/cold TTFT, max/median gap, or JSON latency."""
    if summary is None:
        return "—"
    match scenario.kind:
        case "multiturn":
            return _num(summary.extra.get("warm_over_cold_ttft", math.nan), 2)
        case "burst":
            return _num(summary.extra.get("max_over_median_gap", math.nan), 1)
        case _:
            return "—" if scenario.stream else f"{summary.latency_p50_s:.2f}s"


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join((first, *rest))

    rule = "  ".join("-" * w for w in widths)
    return "\n".join((line(header), rule, *(line(r) for r in rows)))


def summaries(
    variant: VariantResults,
) -> dict[str, dict[str, Summary]]:
    return {
        name: {system: summarise(reps) for system, reps in by_system.items() if reps}
        for name, by_system in variant.results.items()
    }


def render_table(variants: Sequence[VariantResults], systems: Sequence[str]) -> str:
    """One table: a row per scenario (per model variant), a column group per measure."""
    labels = [SYSTEM_LABELS.get(s, s) for s in systems]
    versus = ["mlx_lm", *(["llama_cpp"] if "llama_cpp" in systems else []), CEILING]
    header = [
        "scenario",
        *(f"tok/s {label}" for label in labels),
        *(f"mlxfn/{SYSTEM_LABELS[s]}" for s in versus),
        *(f"TTFT50 {label}" for label in labels),
        *(f"TTFT95 {label}" for label in labels),
        *(f"fig {label}" for label in labels),
    ]
    rows: list[list[str]] = []
    for variant in variants:
        by_scenario = summaries(variant)
        for scenario in variant.scenarios:
            found = by_scenario.get(scenario.name, {})
            got = [found.get(system) for system in systems]
            tps = {s: (found[s].tokens_per_s if s in found else math.nan) for s in systems}
            name = scenario.name if len(variants) == 1 else f"{variant.variant} {scenario.name}"
            errors = sum(g.errors for g in got if g is not None)
            rows.append(
                [
                    name + (f" ({errors} errors)" if errors else ""),
                    *(_num(tps[s]) for s in systems),
                    *(_ratio(tps.get("mlxfn", math.nan), tps.get(s, math.nan)) for s in versus),
                    *(_ms(g.ttft_p50_s) if g else "—" for g in got),
                    *(_ms(g.ttft_p95_s) if g else "—" for g in got),
                    *(_figure(scenario, g) for g in got),
                ]
            )
    return _table(rows, header)


def render_ceiling_basics(variant: VariantResults) -> str:
    """The in-process figures item by item, taken from the scenarios that measure them."""
    reps = variant.results

    def extra(scenario: str, key: str) -> float:
        runs = reps.get(scenario, {}).get(CEILING, ())
        return median([r.extra.get(key, math.nan) for r in runs])

    prompts = {s.name: s.prompt_tokens for s in variant.scenarios}
    parts = [
        f"single-sequence decode {_num(extra('short-c1', 'decode_tok_s'))} tok/s",
        f"prefill {prompts.get('short-c1', '~20')}-token prompt "
        f"{_ms(extra('short-c1', 'prefill_s'))} ms",
        f"prefill {prompts.get('long-c1', '~1k')}-token prompt "
        f"{_ms(extra('long-c1', 'prefill_s'))} ms",
        f"batched decode x4 {_num(extra('short-c4', 'decode_tok_s'))} tok/s",
        f"x16 {_num(extra('short-c16', 'decode_tok_s'))} tok/s",
    ]
    return "; ".join(parts)


def render_memory(variant: VariantResults) -> str:
    parts = []
    for system, memory in variant.memory.items():
        if memory is None:
            parts.append(f"{system} n/a")
        else:
            parts.append(
                f"{system} VmRSS {memory.rss_mb:.0f} MB (peak VmHWM {memory.peak_rss_mb:.0f} MB)"
            )
    if variant.ceiling_peak_mb is not None:
        parts.append(f"ceiling MLX peak {variant.ceiling_peak_mb:.0f} MB")
    return "; ".join(parts)


def render_checks(variant: VariantResults, systems: Sequence[str]) -> list[str]:
    """Sanity lines: how tokens were counted, prompt sizes as served, greedy agreement."""
    lines = []
    for system in systems:
        if system == CEILING:
            continue
        requests = [
            r
            for by_system in variant.results.values()
            for rep in by_system.get(system, ())
            for r in rep.requests
        ]
        if not requests:
            continue
        usage = sum(r.usage_reported for r in requests)
        lines.append(
            f"{system}: output tokens from usage in {usage}/{len(requests)} requests"
            + ("" if usage == len(requests) else " (the rest: counted content deltas)")
        )
    sizes = []
    for scenario in variant.scenarios:
        for system in systems:
            counts = [
                r.prompt_tokens
                for rep in variant.results.get(scenario.name, {}).get(system, ())
                for r in rep.requests[:1]
                if r.prompt_tokens is not None
            ]
            if counts:
                sizes.append(f"{scenario.name} {counts[0]}")
                break
    if sizes:
        lines.append("prompt tokens (first request, as the server counted): " + ", ".join(sizes))
    servers = [s for s in systems if s != CEILING]
    for other in servers[1:]:
        lines.extend(_agreement(variant, servers[0], other))
    return lines


def _agreement(variant: VariantResults, a: str, b: str) -> list[str]:
    """Whether two servers' greedy replies to the same requests match, text and token count.
    mlxfn and mlx_lm.server drop the space a reply's first token starts with, llama.cpp keeps
    it; "but for a leading space" counts the replies equal after that space."""
    same = spaced = same_count = total = 0
    for by_system in variant.results.values():
        for rep_a, rep_b in zip(by_system.get(a, ()), by_system.get(b, ()), strict=False):
            for ra, rb in zip(rep_a.requests, rep_b.requests, strict=False):
                if ra.error is None and rb.error is None:
                    total += 1
                    same += ra.text == rb.text
                    spaced += ra.text != rb.text and ra.text.lstrip(" ") == rb.text.lstrip(" ")
                    same_count += ra.output_tokens == rb.output_tokens
    if not total:
        return []
    but_space = f" (and {spaced} more but for a leading space)" if spaced else ""
    return [
        f"greedy outputs identical between {a} and {b}: {same}/{total} requests{but_space}; "
        f"same output token count: {same_count}/{total}"
    ]


def _clean(value: Any) -> Any:
    """JSON without NaN: NaN becomes null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def build_document(
    variants: Sequence[VariantResults], config: Mapping[str, Any], table: str, elapsed_s: float
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "config": dict(config),
        "elapsed_s": elapsed_s,
        "table": table,
        "variants": {},
    }
    for variant in variants:
        by_scenario = summaries(variant)
        doc["variants"][variant.variant] = {
            "model_path": variant.model_path,
            "model": variant.description,
            "memory": {k: (asdict(m) if m else None) for k, m in variant.memory.items()},
            "ceiling_peak_mb": variant.ceiling_peak_mb,
            "blas": dict(variant.blas),
            "scenarios": {
                s.name: {
                    "scenario": asdict(s),
                    "summary": {
                        system: asdict(summary)
                        for system, summary in by_scenario.get(s.name, {}).items()
                    },
                    "repetitions": {
                        system: [asdict(rep) for rep in reps]
                        for system, reps in variant.results.get(s.name, {}).items()
                    },
                }
                for s in variant.scenarios
            },
        }
    cleaned: dict[str, Any] = _clean(doc)
    return cleaned

"""PNG charts from a benchmark run's results: the document ``--json`` writes.

``python -m benchmarks.bench`` calls :func:`write_charts` itself (``--charts DIR``); the same
charts can be redrawn from a saved run with ``python -m benchmarks.charts RESULTS.json DIR``.
Each chart's last line names the run's date, commit and command. matplotlib is the ``bench``
extra (``pip install -e '.[bench]'``).

- ``throughput.png``: output tok/s against concurrency, short and long prompts, a bar per
  system (the median over repetitions) with each repetition as a point.
- ``ttft.png``: time to first token over every request of every repetition, per system, for
  the scenarios where queueing and prefill show.
- ``burst-gaps.png``: the burst scenario's inter-token gaps against time, per system, with the
  long prompt's arrival and its first token marked.
"""

from __future__ import annotations

import itertools
import math
import statistics
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, ScalarFormatter

CEILING = "ceiling"
LABELS = {
    "mlxfn": "mlxfn",
    "mlx_lm": "mlx_lm.server",
    "llama_cpp": "llama.cpp (llama-cpp-python server)",
    "mlxfn_gguf": "mlxfn on the GGUF file",
    CEILING: "mlx-lm in-process (no HTTP)",
}
COLOURS = {
    "mlxfn": "#1f77b4",
    "mlx_lm": "#ff7f0e",
    "llama_cpp": "#2ca02c",
    "mlxfn_gguf": "#9467bd",
    CEILING: "#9a9a9a",
}
SHORT_LABELS = {
    "mlxfn": "mlxfn",
    "mlx_lm": "mlx_lm",
    "llama_cpp": "llama.cpp",
    "mlxfn_gguf": "mlxfn\n(GGUF)",
    CEILING: "in-process",
}
TTFT_SCENARIOS = ("short-c16", "long-c1", "long-c4", "long-c16")
DPI = 110

Document = Mapping[str, Any]


def caption(document: Document) -> str:
    config = document.get("config", {})
    parts = [
        f"{config.get('date', 'undated')}, commit {config.get('commit', 'unknown')}",
        f"{config.get('repetitions', '?')} repetition(s), max_tokens {config.get('max_tokens')}",
    ]
    # The command on a line of its own: it is the longest part, and must show whole.
    return " · ".join(parts) + "\n" + str(config.get("command", ""))


def _systems(document: Document, variant: Mapping[str, Any]) -> list[str]:
    """The systems in the run's order (servers, then the ceiling), those with results only."""
    config = document.get("config", {})
    order = [*config.get("servers", []), CEILING]
    present = {
        system
        for scenario in variant["scenarios"].values()
        for system, reps in scenario["repetitions"].items()
        if reps
    }
    return [s for s in order if s in present]


def _tokens_per_s(rep: Mapping[str, Any]) -> float:
    tokens = sum(r["output_tokens"] for r in rep["requests"])
    wall = rep["wall_s"]
    return tokens / wall if wall else math.nan


def _finish(figure: Figure, document: Document, title: str) -> None:
    figure.suptitle(title, fontsize=12, fontweight="bold")
    figure.text(
        0.01, 0.005, caption(document), fontsize=6.5, color="#555555", ha="left", va="bottom"
    )


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path


def throughput_chart(document: Document, variant: Mapping[str, Any], path: Path) -> Path | None:
    """(a) output tok/s against concurrency, short and long prompts, systems side by side."""
    scenarios = variant["scenarios"]
    families = [
        (family, [n for n in (f"{family}-c1", f"{family}-c4", f"{family}-c16") if n in scenarios])
        for family in ("short", "long")
    ]
    families = [(f, names) for f, names in families if names]
    if not families:
        return None
    systems = _systems(document, variant)
    figure, axes = plt.subplots(1, len(families), figsize=(6.2 * len(families), 4.6), squeeze=False)
    width = 0.8 / len(systems)
    for ax, (family, names) in zip(axes[0], families, strict=True):
        prompt = scenarios[names[0]]["scenario"]["prompt_tokens"]
        for index, system in enumerate(systems):
            offset = (index - (len(systems) - 1) / 2) * width
            for x, name in enumerate(names):
                reps = scenarios[name]["repetitions"].get(system, [])
                values = [_tokens_per_s(rep) for rep in reps]
                if not values:
                    continue
                middle = statistics.median(values)
                ax.bar(
                    x + offset,
                    middle,
                    width * 0.92,
                    color=COLOURS.get(system),
                    label=LABELS.get(system, system) if x == 0 else None,
                )
                ax.scatter([x + offset] * len(values), values, s=10, color="black", zorder=3, lw=0)
                ax.annotate(
                    f"{middle:.0f}",
                    (x + offset, middle),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    xytext=(0, 2),
                    textcoords="offset points",
                )
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(
            [f"{scenarios[n]['scenario']['concurrency']} concurrent\n({n})" for n in names]
        )
        ax.set_xlabel("concurrent streamed requests")
        ax.set_ylabel("output tokens/s (all requests, first send to last token)")
        ax.set_title(f"{family} prompts (~{prompt} tokens)")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    handles, labels = axes[0][0].get_legend_handles_labels()
    handles.append(axes[0][0].scatter([], [], s=10, color="black", lw=0))
    labels.append("one repetition")
    figure.legend(
        handles,
        labels,
        loc="upper center",
        ncol=len(labels),
        fontsize=8,
        bbox_to_anchor=(0.5, 0.93),
        frameon=False,
    )
    _finish(figure, document, f"Output throughput against concurrency ({variant['label']})")
    figure.tight_layout(rect=(0, 0.05, 1, 0.88))
    return _save(figure, path)


def ttft_chart(document: Document, variant: Mapping[str, Any], path: Path) -> Path | None:
    """(b) TTFT of every request, per system, as box plots with the requests as points."""
    scenarios = variant["scenarios"]
    names = [n for n in TTFT_SCENARIOS if n in scenarios]
    if not names:
        names = [n for n, s in scenarios.items() if s["scenario"]["stream"]][:4]
    if not names:
        return None
    systems = _systems(document, variant)
    width = max(3.6 * len(names), 7.5)
    figure, axes = plt.subplots(1, len(names), figsize=(width, 4.8), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        reps = scenarios[name]["repetitions"]
        data = [
            [
                r["ttft_s"] * 1000
                for rep in reps.get(system, [])
                for r in rep["requests"]
                if r["ttft_s"] is not None
            ]
            for system in systems
        ]
        shown = [(s, d) for s, d in zip(systems, data, strict=True) if d]
        if not shown:
            continue
        boxes = ax.boxplot(
            [d for _, d in shown],
            positions=range(len(shown)),
            widths=0.6,
            patch_artist=True,
            showfliers=False,
            medianprops={"color": "black"},
        )
        for patch, (system, _) in zip(boxes["boxes"], shown, strict=True):
            patch.set_facecolor(COLOURS.get(system, "white"))
            patch.set_alpha(0.55)
        for x, (_, values) in enumerate(shown):
            jitter = [x + 0.18 * (((i * 0.618) % 1) - 0.5) for i in range(len(values))]
            ax.scatter(jitter, values, s=7, color="black", alpha=0.6, lw=0, zorder=3)
        ax.set_xticks(range(len(shown)))
        ax.set_xticklabels([SHORT_LABELS.get(s, s) for s, _ in shown], fontsize=8)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ScalarFormatter())
        low, high = ax.get_ylim()
        # Within one decade there is no major tick to label: label the minor ones instead.
        ax.yaxis.set_minor_formatter(ScalarFormatter() if high / low < 10 else NullFormatter())
        ax.set_ylabel("time to first token (ms, log scale)")
        scenario = scenarios[name]["scenario"]
        count = len(shown[0][1])
        ax.set_title(
            f"{name}\n{scenario['concurrency']} x ~{scenario['prompt_tokens']} tokens, "
            f"{count} request{'s' if count != 1 else ''} per system",
            fontsize=9,
        )
        ax.grid(axis="y", alpha=0.3, which="both")
        ax.set_axisbelow(True)
    _finish(
        figure,
        document,
        f"Time to first token, every request of every repetition\n({variant['label']})",
    )
    figure.tight_layout(rect=(0, 0.05, 1, 0.9))
    return _save(figure, path)


def _median_repetition(reps: Sequence[Mapping[str, Any]]) -> tuple[int, Mapping[str, Any]]:
    """The repetition whose largest/median gap ratio is the median one (the typical one)."""
    ranked = sorted(
        range(len(reps)),
        key=lambda i: _nan_last(reps[i].get("extra", {}).get("max_over_median_gap")),
    )
    index = ranked[(len(ranked) - 1) // 2]
    return index, reps[index]


def _nan_last(value: float | None) -> float:
    return math.inf if value is None or math.isnan(value) else value


def burst_chart(document: Document, variant: Mapping[str, Any], path: Path) -> Path | None:
    """(c) the burst's inter-token gaps against time, per system, the long prompt marked."""
    burst = variant["scenarios"].get("burst")
    if burst is None:
        return None
    systems = [s for s in _systems(document, variant) if burst["repetitions"].get(s)]
    if not systems:
        return None
    figure, axes = plt.subplots(
        len(systems),
        1,
        figsize=(11, 2.4 * len(systems) + 1.0),
        squeeze=False,
        sharey=True,
        sharex=True,
    )
    shades = plt.get_cmap("tab10")
    for ax, system in zip(axes[:, 0], systems, strict=True):
        reps = burst["repetitions"][system]
        index, rep = _median_repetition(reps)
        *streams, long_request = rep["requests"]
        for number, request in enumerate(streams):
            times = request["token_times_s"]
            gaps = [(b - a) * 1000 for a, b in itertools.pairwise(times)]
            ax.plot(
                times[1:],
                gaps,
                lw=0.8,
                marker=".",
                ms=2.5,
                alpha=0.75,
                label=f"the {len(streams)} short streams, a colour each" if number == 0 else None,
                color=shades(number % 10),
            )
        extra = rep.get("extra", {})
        joined = extra.get("long_prompt_joined_s")
        if joined is not None:
            ax.axvline(joined, color="red", ls="--", lw=1.1, label="long prompt sent")
            first = long_request.get("ttft_s")
            if first is not None:
                ax.axvline(
                    long_request["start_s"] + first,
                    color="red",
                    ls=":",
                    lw=1.1,
                    label="its first token",
                )
        ratio = extra.get("max_over_median_gap")
        ratio_text = "—" if ratio is None or math.isnan(ratio) else f"{ratio:.1f}"
        ax.set_title(
            f"{LABELS.get(system, system)}: repetition {index + 1} of {len(reps)} "
            f"(the median one), largest gap / median gap {ratio_text}",
            fontsize=9,
        )
        ax.set_yscale("log")
        ax.set_ylabel("gap before token (ms)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("time since the first request was sent (s)")
    prompt = burst["scenario"]["prompt_tokens"]
    _finish(
        figure,
        document,
        f"Burst: inter-token gaps of running streams when a ~{prompt}-token prompt arrives\n"
        f"({variant['label']})",
    )
    figure.tight_layout(rect=(0, 0.03, 1, 0.95))
    return _save(figure, path)


def write_charts(document: Document, folder: Path) -> list[Path]:
    """Every chart the results allow, one set per model variant (named by it when several)."""
    variants = document["variants"]
    written: list[Path] = []
    for name, data in variants.items():
        prefix = "" if len(variants) == 1 else f"{name}-"
        variant = {**data, "label": data["model"].split(":")[0] + f" [{name}]"}
        variant["label"] = f"{name}, " + data["model"].split(" (")[0].split(":")[0]
        for draw, file in (
            (throughput_chart, "throughput.png"),
            (ttft_chart, "ttft.png"),
            (burst_chart, "burst-gaps.png"),
        ):
            made = draw(document, variant, folder / f"{prefix}{file}")
            if made is not None:
                written.append(made)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    import json

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m benchmarks.charts RESULTS.json OUT_DIR", file=sys.stderr)
        return 2
    document = json.loads(Path(args[0]).read_text())
    for path in write_charts(document, Path(args[1])):
        print(f"chart written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

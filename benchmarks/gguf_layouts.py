"""One sequence on one GGUF file: mlxfn in each ``--weights`` layout against llama.cpp.

Each measurement is a fresh process that loads the file, warms up, then generates greedily
from the same chat prompt: mlxfn through its own engine (``mlxfn.generate``: the thread,
sampler and detokenizer the server uses, without HTTP), llama.cpp through ``llama-cpp-python``
with ``n_threads`` set. Decode tok/s is tokens after the first over the time after the first;
prefill tok/s is prompt tokens over the time to the first token. Rounds alternate the
engines (A B C D, A B C D, ...), so a noisy neighbour on the shared cores hits all of them
alike; the table gives medians and the ratio of each to llama.cpp.

    python -m benchmarks.gguf_layouts [--gguf FILE] [--rounds 3] [--tokens 64] \\
        [--llama-python /path/to/venv/bin/python] [--threads 2] [--chart PATH.png]

``--llama-python`` is an interpreter with ``llama-cpp-python`` installed (it is no dependency
of mlxfn: it builds llama.cpp from source); without it only mlxfn's layouts are measured.
``--chart`` also draws the results as a PNG (matplotlib, the ``bench`` extra): a bar per
engine, decode and prefill tok/s, each round a point.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

QUESTION = "Tell me a long story about a dog who learns to sail."
# ~400 prompt tokens for the prefill rate: a page of text to summarise
_DAY = "On day {} the dog sailed the small boat past the lighthouse and back again."
LONG = "Summarise this. " + " ".join(_DAY.format(i) for i in range(24))

_MLXFN_WORKER = r"""
import json, sys, time
import mlxfn
from mlxfn.effects import run_io
from mlxfn.domain.events import Delta, Finished
path, layout, tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
spec = mlxfn.ModelSpec(source=path, served_name="m", weights=layout)
engine = run_io(mlxfn.start_engine(spec)).unwrap()
model = engine.loaded
no_end = {str(t): -100 for t in model.eos_token_ids}  # decode exactly `tokens` tokens
def once(n, question):
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": question}],
                       "temperature": 0, "max_tokens": n, "logit_bias": no_end}).encode()
    request = mlxfn.parse_chat_request(body).unwrap()
    plan = mlxfn.plan_chat(request, model.tokenizer, engine.limits, model.name).unwrap()
    start = time.perf_counter(); first = None; count = 0
    for event in mlxfn.generate(engine, plan).unwrap():
        if isinstance(event, Delta) and first is None:
            first = time.perf_counter()
        if isinstance(event, Finished):
            count = event.usage.completion_tokens
    return len(plan.prompt), start, first, time.perf_counter(), count
once(8, "Hello!")  # warm-up on another prompt: nothing of the measured ones is cached
prompt, start, first, end, count = once(tokens, sys.argv[4])
long_prompt, long_start, long_first, _, _ = once(1, sys.argv[5])
print(json.dumps({"prompt_tokens": prompt, "ttft_s": first - start, "tokens": count,
                  "decode_tps": (count - 1) / (end - first),
                  "long_prompt_tokens": long_prompt,
                  "prefill_tps": long_prompt / (long_first - long_start)}))
engine.close()
"""

_LLAMA_WORKER = r"""
import json, sys, time
from llama_cpp import Llama
path, threads, tokens = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
llm = Llama(model_path=path, n_threads=threads, n_threads_batch=threads, n_ctx=2048,
            verbose=False)
no_end = {llm.token_eos(): -100.0, 0: -100.0}  # decode exactly `tokens` tokens
def once(n, question):
    llm.reset()  # no prefix of an earlier prompt is reused
    messages = [{"role": "user", "content": question}]
    start = time.perf_counter(); first = None; count = 0
    for chunk in llm.create_chat_completion(messages, temperature=0, max_tokens=n,
                                            stream=True, logit_bias=no_end):
        if chunk["choices"][0]["delta"].get("content") is not None:
            count += 1
            first = first or time.perf_counter()
    return start, first, time.perf_counter(), count
once(8, "Hello!")
start, first, end, count = once(tokens, sys.argv[4])
long_start, long_first, _, _ = once(1, sys.argv[5])
print(json.dumps({"ttft_s": first - start, "tokens": count,
                  "decode_tps": (count - 1) / (end - first),
                  "long_ttft_s": long_first - long_start}))
"""


def _run(command: list[str]) -> dict[str, float]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed:\n{done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


LABELS = {
    "quantized": "mlxfn\n--weights quantized",
    "auto": "mlxfn\n--weights auto",
    "float32": "mlxfn\n--weights float32",
    "llama.cpp": "llama.cpp",
}
COLOURS = {"quantized": "#aec7e8", "auto": "#1f77b4", "float32": "#17508a", "llama.cpp": "#2ca02c"}


def write_chart(
    path: Path,
    results: dict[str, list[dict[str, float]]],
    long_tokens: float,
    *,
    title: str,
    caption: str,
) -> Path:
    """Decode and prefill tok/s per engine: the median as a bar, each round as a point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def prefill(run: dict[str, float]) -> float:
        return run["prefill_tps"] if "prefill_tps" in run else long_tokens / run["long_ttft_s"]

    names = list(results)
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    panels = (
        ("decode tok/s (one sequence, after the first token)", lambda r: r["decode_tps"]),
        (f"prefill tok/s ({long_tokens:.0f}-token prompt)", prefill),
    )
    for ax, (label, measure) in zip(axes, panels, strict=True):
        for x, name in enumerate(names):
            values = [measure(run) for run in results[name]]
            middle = statistics.median(values)
            ax.bar(x, middle, 0.7, color=COLOURS.get(name, "#999999"))
            ax.scatter([x] * len(values), values, s=12, color="black", zorder=3, lw=0)
            ax.annotate(
                f"{middle:.0f}" if middle >= 10 else f"{middle:.1f}",
                (x, middle),
                ha="center",
                va="bottom",
                fontsize=8,
                xytext=(0, 2),
                textcoords="offset points",
            )
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([LABELS.get(n, n) for n in names], fontsize=8)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    axes[0].set_title("decode (bars: median; points: each round)", fontsize=10)
    axes[1].set_title("prefill", fontsize=10)
    figure.suptitle(title, fontsize=11, fontweight="bold")
    figure.text(0.01, 0.01, caption, fontsize=6.5, color="#555555", ha="left")
    figure.tight_layout(rect=(0, 0.03, 1, 0.94))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def main() -> None:
    from mlxfn.engine.gguf.shipped import default_model_file

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", type=Path, default=default_model_file())
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--llama-python", help="an interpreter with llama-cpp-python")
    parser.add_argument("--chart", type=Path, help="also draw the results as this PNG")
    args = parser.parse_args()
    command = " ".join(["python -m benchmarks.gguf_layouts", *map(shlex.quote, sys.argv[1:])])
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    engines = {
        layout: [sys.executable, "-c", _MLXFN_WORKER, str(args.gguf), layout]
        for layout in ("quantized", "auto", "float32")
    }
    if args.llama_python:
        engines["llama.cpp"] = [args.llama_python, "-c", _LLAMA_WORKER, str(args.gguf)]
        engines["llama.cpp"].append(str(args.threads))
    results: dict[str, list[dict[str, float]]] = {name: [] for name in engines}
    for round_ in range(args.rounds):
        for name, worker in engines.items():
            results[name].append(_run([*worker, str(args.tokens), QUESTION, LONG]))
            print(f"round {round_ + 1} {name}: {results[name][-1]}", file=sys.stderr, flush=True)
    reference = results.get("llama.cpp")
    base = statistics.median(r["decode_tps"] for r in reference) if reference else None
    print(f"\n{args.gguf.name}, {args.tokens} tokens greedy, median of {args.rounds} rounds\n")
    # Both engines render the same chat template with the same tokenizer, so mlxfn's count of
    # the long prompt's tokens is llama.cpp's too.
    long_tokens = statistics.median(r["long_prompt_tokens"] for r in results["auto"])
    print(f"long prompt: {long_tokens:.0f} tokens\n")
    print("| engine | decode tok/s (median) | rounds | vs llama.cpp | TTFT ms | prefill tok/s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, runs in results.items():
        tps = [r["decode_tps"] for r in runs]
        ttft = statistics.median(r["ttft_s"] for r in runs) * 1000
        prefill = statistics.median(
            r["prefill_tps"] if "prefill_tps" in r else long_tokens / r["long_ttft_s"] for r in runs
        )
        ratio = f"{statistics.median(tps) / base:.2f}x" if base else "-"
        shown = ", ".join(f"{t:.1f}" for t in tps)
        print(
            f"| {name} | {statistics.median(tps):.1f} | {shown} | {ratio} | {ttft:.0f} "
            f"| {prefill:.0f} |"
        )
    if args.chart is not None:
        threads = f", llama.cpp {args.threads} threads" if reference else ""
        made = write_chart(
            args.chart,
            results,
            long_tokens,
            title=f"One sequence on {args.gguf.name}: mlxfn's weight layouts against llama.cpp",
            caption=f"{date}, commit {_commit()} · {args.tokens} tokens greedy, {args.rounds} "
            f"rounds{threads} · {command}",
        )
        print(f"\nchart written to {made}")


if __name__ == "__main__":
    main()

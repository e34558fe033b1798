"""Orchestration: models → prompts → in-process ceiling → both servers, interleaved → report.

Entry point: ``python -m benchmarks.bench`` (see README.md for the flags and scenarios).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.blas import BlasSetting, resolve_blas
from benchmarks.client import Target, make_session, run_repetition, send_chat
from benchmarks.measure import RepetitionResult, repetition_from_dict
from benchmarks.model import (
    FULL_SHAPE,
    MODELS_DIR,
    QUICK_SHAPE,
    SMALL_SHAPE,
    ModelShape,
    describe_model,
    ensure_models,
)
from benchmarks.report import (
    CEILING,
    VariantResults,
    build_document,
    render_ceiling_basics,
    render_checks,
    render_memory,
    render_table,
)
from benchmarks.servers import (
    DEFAULT_SERVERS,
    GGUF_SERVERS,
    REPO_ROOT,
    SERVER_NAMES,
    Memory,
    ServerProcess,
)
from benchmarks.workload import (
    DEFAULT_SCENARIOS,
    QUICK_PROMPT_SCALE,
    QUICK_SCENARIOS,
    SCENARIO_NAMES,
    Conversation,
    CountTokens,
    Message,
    Scenario,
    build_conversation,
    fit_messages,
    scaled,
    scenario_named,
)

SIZES: dict[str, ModelShape] = {"small": SMALL_SHAPE, "realistic": FULL_SHAPE}
DEFAULT_CHARTS_DIR = REPO_ROOT / "benchmarks" / "charts"
VARIANTS = ("f32", "q4")


@dataclass(frozen=True)
class Options:
    quick: bool
    repetitions: int
    max_tokens: int
    scenarios: tuple[str, ...]
    servers: tuple[str, ...]
    ceiling: bool
    model: Path | None
    size: str
    variants: tuple[str, ...]
    blas: str
    env: dict[str, str]
    server_args: dict[str, tuple[str, ...]]
    json_path: Path | None
    llama_python: str | None
    charts_dir: Path | None
    layouts: bool


def _comma_list(known: Sequence[str]) -> Any:
    def parse(text: str) -> tuple[str, ...]:
        items = tuple(item.strip() for item in text.split(",") if item.strip())
        unknown = [item for item in items if item not in known]
        if unknown or not items:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(unknown) or 'empty list'}; choose from {', '.join(known)}"
            )
        return items

    return parse


def _env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_options(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench",
        description="Benchmark mlxfn against mlx_lm.server and mlx-lm in-process.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny model, 1 repetition, fewer scenarios"
    )
    parser.add_argument("--repetitions", type=_positive, help="repetitions (default 3; quick 1)")
    parser.add_argument(
        "--max-tokens", type=_positive, help="completion tokens per request (default 64; quick 16)"
    )
    parser.add_argument(
        "--scenarios",
        type=_comma_list(SCENARIO_NAMES),
        help=f"comma list from: {', '.join(SCENARIO_NAMES)} (default: all; quick: a subset)",
    )
    parser.add_argument(
        "--servers",
        type=_comma_list(SERVER_NAMES),
        default=DEFAULT_SERVERS,
        help="comma list from: mlxfn,mlx_lm,llama_cpp,mlxfn_gguf (default: mlxfn,mlx_lm); "
        "llama_cpp and mlxfn_gguf serve an F32 GGUF copy of the model",
    )
    parser.add_argument(
        "--llama-python",
        metavar="PATH",
        help="an interpreter with llama-cpp-python[server] installed (needed for llama_cpp)",
    )
    parser.add_argument(
        "--no-ceiling", action="store_true", help="skip the in-process mlx-lm ceiling"
    )
    parser.add_argument(
        "--model", type=Path, help="an existing MLX model folder instead of generated ones"
    )
    parser.add_argument(
        "--size",
        choices=["auto", *sorted(SIZES)],
        default="auto",
        help="generated model: realistic (34M params) or small (5.3M); auto (default) picks "
        "realistic with a fast BLAS and small with MLX's reference BLAS, to fit ~15 min",
    )
    parser.add_argument(
        "--blas",
        default="auto",
        metavar="auto|reference|PATH",
        help="the same BLAS for all systems: auto (default) = a system OpenBLAS if installed, "
        "reference = MLX's own slow one, or a library path",
    )
    parser.add_argument(
        "--mlxfn-args", default="", help="extra mlxfn flags, one shell-quoted string"
    )
    parser.add_argument(
        "--mlx-lm-args", default="", help="extra mlx_lm.server flags, one shell-quoted string"
    )
    parser.add_argument(
        "--variants",
        type=_comma_list(VARIANTS),
        default=("f32",),
        help="generated model variants to benchmark: f32,q4 (default: f32; both are built)",
    )
    parser.add_argument(
        "--env",
        type=_env_pair,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment for both servers and the ceiling (repeatable)",
    )
    parser.add_argument("--json", type=Path, dest="json_path", help="write results here")
    parser.add_argument(
        "--charts",
        type=Path,
        metavar="DIR",
        help=f"write PNG charts here (default: {DEFAULT_CHARTS_DIR.relative_to(REPO_ROOT)} for "
        "a full run, none with --quick)",
    )
    parser.add_argument("--no-charts", action="store_true", help="write no charts")
    parser.add_argument(
        "--no-layouts",
        action="store_true",
        help="skip the weight-layouts run (benchmarks.gguf_layouts on the default model's GGUF, "
        "against llama.cpp with --llama-python) that a full run with charts ends with",
    )
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    if "llama_cpp" in args.servers and not args.llama_python:
        parser.error("--servers llama_cpp needs --llama-python PATH")
    charts_dir = None if args.no_charts else args.charts
    if charts_dir is None and not quick and not args.no_charts:
        charts_dir = DEFAULT_CHARTS_DIR
    return Options(
        quick=quick,
        repetitions=args.repetitions or (1 if quick else 3),
        max_tokens=args.max_tokens or (16 if quick else 64),
        scenarios=args.scenarios or (QUICK_SCENARIOS if quick else DEFAULT_SCENARIOS),
        servers=tuple(args.servers),
        ceiling=not args.no_ceiling,
        model=args.model,
        size=args.size,
        variants=tuple(args.variants),
        blas=args.blas,
        env=dict(args.env),
        server_args={
            "mlxfn": tuple(shlex.split(args.mlxfn_args)),
            "mlx_lm": tuple(shlex.split(args.mlx_lm_args)),
        },
        json_path=args.json_path,
        llama_python=args.llama_python,
        charts_dir=charts_dir,
        layouts=charts_dir is not None and not quick and not args.no_layouts,
    )


# -- models and prompts ------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelUnderTest:
    variant: str
    path: Path
    description: str


def models_under_test(options: Options, blas: BlasSetting) -> list[ModelUnderTest]:
    if options.model is not None:
        path = options.model.resolve()
        return [ModelUnderTest("model", path, describe_model(path))]
    size = options.size
    if size == "auto":
        size = "realistic" if blas.library is not None else "small"
    shape = QUICK_SHAPE if options.quick else SIZES[size]
    built = ensure_models(shape, quantized=True)
    q4 = built.q4
    assert q4 is not None
    paths = {"f32": (built.f32, "float32"), "q4": (q4, "4-bit (group 64, float32 scales)")}
    return [
        ModelUnderTest(v, paths[v][0], f"{built.description}; {paths[v][1]}")
        for v in options.variants
    ]


def gguf_copy(model: ModelUnderTest, work_dir: Path) -> Path | None:
    """The model as an F32 GGUF file, written the way llama.cpp's converter writes one (q/k
    permuted, gpt2-type tokenizer metadata, the chat template), for llama_cpp and mlxfn_gguf.
    A generated model's copy is cached beside it in benchmarks/.models/. None for a quantized
    model: llama.cpp could not read MLX's 4-bit layout, and a re-quantized file would differ."""
    config = json.loads((model.path / "config.json").read_text())
    if "quantization" in config:
        return None
    from tests.engine.gguf_files import write_float_gguf

    cached = model.path.parent == MODELS_DIR
    out = model.path.parent / f"{model.path.name}.gguf" if cached else work_dir / "model.gguf"
    if not out.exists():
        print(f"[bench] writing {out.name} (F32 GGUF) ...", flush=True)
        partial = out.with_name(f".{out.stem}.partial.gguf")
        write_float_gguf(model.path, partial)
        _name_gpt2_pre_tokenizer(partial)
        partial.rename(out)
    return out


def _name_gpt2_pre_tokenizer(path: Path) -> None:
    """The test helper names GPT-2's pre-tokenizer ``gpt2``; llama.cpp knows it only as
    ``gpt-2`` (what its converter writes; ``gpt2`` fails with "unknown pre-tokenizer type").
    mlxfn reads either as GPT-2's byte-level regex."""
    import mlx.core as mx

    arrays, metadata = mx.load(str(path), return_metadata=True)
    assert isinstance(arrays, dict)
    if metadata.get("tokenizer.ggml.pre") == "gpt2":
        metadata["tokenizer.ggml.pre"] = "gpt-2"
        mx.save_gguf(str(path), arrays, metadata)


def token_counter(model: Path) -> CountTokens:
    """Counts a conversation's prompt tokens the way the servers do: template, then encode."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model))

    def count(messages: Sequence[Message]) -> int:
        text = tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, tokenize=False
        )
        return len(tokenizer.encode(text, add_special_tokens=False))

    return count


# -- the in-process ceiling --------------------------------------------------------------------


@dataclass(frozen=True)
class SystemsRun:
    """What a phase measured, by scenario and then by system, plus per-system facts."""

    results: dict[str, dict[str, list[RepetitionResult]]]
    memory: dict[str, Memory | None]
    blas: dict[str, str]
    ceiling_peak_mb: float | None = None


def run_ceiling(
    model: ModelUnderTest,
    *,
    scenarios: Sequence[Scenario],
    conversations: Mapping[str, Sequence[Conversation]],
    env: Mapping[str, str],
    options: Options,
    work_dir: Path,
) -> SystemsRun:
    plan = {
        "model": str(model.path),
        "max_tokens": options.max_tokens,
        "scenarios": [
            {
                "name": s.name,
                "kind": s.kind,
                "repetitions": [list(c.requests) for c in conversations[s.name]],
            }
            for s in scenarios
        ],
    }
    plan_path = work_dir / f"ceiling-plan-{model.variant}.json"
    out_path = work_dir / f"ceiling-out-{model.variant}.json"
    plan_path.write_text(json.dumps(plan))
    print(f"[bench] {model.variant}: in-process ceiling ...", flush=True)
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.ceiling", str(plan_path), str(out_path)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        check=False,
    )
    if completed.returncode != 0:
        print(f"[bench] the ceiling failed (exit {completed.returncode}); skipping it")
        return SystemsRun({}, {}, {CEILING: "failed"})
    out = json.loads(out_path.read_text())
    results = {
        name: {CEILING: [repetition_from_dict(rep) for rep in reps]}
        for name, reps in out["scenarios"].items()
    }
    return SystemsRun(results, {}, {CEILING: str(out["blas"])}, float(out["peak_memory_mb"]))


# -- the servers -------------------------------------------------------------------------------


async def warm_up(target: Target, count: CountTokens) -> None:
    """A stream, a small concurrent wave and a medium prompt, so first-use costs are paid."""
    async with make_session() as session:
        short = fit_messages(
            count, 20, "[warmup]", lambda t: [{"role": "user", "content": t}], seed="w"
        )
        medium = fit_messages(
            count, 256, "[warmup medium]", lambda t: [{"role": "user", "content": t}], seed="m"
        )
        clock = time.perf_counter()
        await send_chat(session, target, short, max_tokens=8, stream=True, clock=clock)
        await asyncio.gather(
            *(
                send_chat(session, target, short, max_tokens=8, stream=True, clock=clock)
                for _ in range(4)
            )
        )
        await send_chat(session, target, medium, max_tokens=8, stream=False, clock=clock)


def _progress(variant: str, system: str, scenario: str, rep: int, result: RepetitionResult) -> str:
    ttfts = sorted(r.ttft_s for r in result.requests if r.ttft_s is not None)
    ttft = f", TTFT p50 {ttfts[len(ttfts) // 2] * 1000:.0f} ms" if ttfts else ""
    errors = f", {len(result.errors)} ERRORS: {result.errors[0]}" if result.errors else ""
    return (
        f"[bench] {variant} {scenario} #{rep + 1} {system}: "
        f"{result.tokens_per_s:.1f} tok/s in {result.wall_s:.2f}s{ttft}{errors}"
    )


async def run_servers(
    model: ModelUnderTest,
    *,
    scenarios: Sequence[Scenario],
    conversations: Mapping[str, Sequence[Conversation]],
    env: Mapping[str, str],
    options: Options,
    count: CountTokens,
    log_dir: Path,
    gguf: Path | None,
) -> SystemsRun:
    """Start every server, then run each repetition on each server in turn (rotating the order
    per repetition), so slow drift on a shared machine hits all servers alike."""
    names = [n for n in options.servers if n not in GGUF_SERVERS or gguf is not None]
    for skipped in sorted(set(options.servers) - set(names)):
        print(f"[bench] {model.variant}: no GGUF copy of a quantized model; skipping {skipped}")
    servers = [
        ServerProcess(
            name,
            gguf if name in GGUF_SERVERS and gguf is not None else model.path,
            max_tokens=options.max_tokens,
            env=env,
            log_dir=log_dir,
            extra_args=options.server_args.get(name, ()),
            llama_python=options.llama_python,
        )
        for name in names
    ]
    results: dict[str, dict[str, list[RepetitionResult]]] = {
        s.name: {server.name: [] for server in servers} for s in scenarios
    }
    try:
        async with make_session() as session:
            targets = []
            for server in servers:
                targets.append(await server.wait_ready(session))
                print(f"[bench] {server.name} ready on {server.base_url} (pid {server.pid})")
            for target in targets:
                await warm_up(target, count)
            for scenario in scenarios:
                for rep in range(options.repetitions):
                    conversation = conversations[scenario.name][rep]
                    order = targets[rep % len(targets) :] + targets[: rep % len(targets)]
                    for target in order:
                        result = await run_repetition(
                            session, target, scenario, conversation, options.max_tokens
                        )
                        results[scenario.name][target.name].append(result)
                        print(_progress(model.variant, target.name, scenario.name, rep, result))
        memory = {server.name: server.memory() for server in servers}
        blas = {server.name: server.blas() for server in servers}
    finally:
        for server in servers:
            server.stop()
    return SystemsRun(results, memory, blas)


# -- main --------------------------------------------------------------------------------------


def git_commit() -> str:
    """The checkout's short commit, with ``+dirty`` when tracked benchmark files differ."""

    def git(*argv: str) -> str:
        done = subprocess.run(
            ["git", *argv], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (
        "+dirty" if git("status", "--porcelain", "--untracked-files=no", "--", "benchmarks") else ""
    )


def _conversations(
    model: ModelUnderTest, scenarios: Sequence[Scenario], options: Options, count: CountTokens
) -> dict[str, list[Conversation]]:
    return {
        s.name: [
            build_conversation(s, count, variant=model.variant, repetition=r)
            for r in range(options.repetitions)
        ]
        for s in scenarios
    }


def benchmark_model(
    model: ModelUnderTest, options: Options, env: Mapping[str, str], work_dir: Path
) -> VariantResults:
    scenarios = [scenario_named(name) for name in options.scenarios]
    if options.quick:
        scenarios = [scaled(s, QUICK_PROMPT_SCALE) for s in scenarios]
    count = token_counter(model.path)
    conversations = _conversations(model, scenarios, options, count)
    gguf = gguf_copy(model, work_dir) if GGUF_SERVERS & set(options.servers) else None
    ceiling = SystemsRun({}, {}, {})
    if options.ceiling:
        ceiling = run_ceiling(
            model,
            scenarios=scenarios,
            conversations=conversations,
            env=env,
            options=options,
            work_dir=work_dir,
        )
    served = asyncio.run(
        run_servers(
            model,
            scenarios=scenarios,
            conversations=conversations,
            env=env,
            options=options,
            count=count,
            log_dir=work_dir,
            gguf=gguf,
        )
    )
    results = {
        s.name: {
            **served.results.get(s.name, {}),
            CEILING: ceiling.results.get(s.name, {}).get(CEILING, []),
        }
        for s in scenarios
    }
    return VariantResults(
        variant=model.variant,
        model_path=str(model.path),
        description=model.description,
        scenarios=tuple(scenarios),
        results=results,
        memory=served.memory,
        ceiling_peak_mb=ceiling.ceiling_peak_mb,
        blas={**served.blas, **ceiling.blas},
    )


def run_layouts(options: Options, chart: Path) -> None:
    """The default model's weight layouts against llama.cpp, one sequence each, in the same
    rounds and token count, so that one command draws every chart BENCHMARKS.md shows."""
    command = [
        sys.executable,
        *("-m", "benchmarks.gguf_layouts", "--rounds", str(options.repetitions)),
        *("--tokens", str(options.max_tokens), "--chart", str(chart)),
        *(("--llama-python", options.llama_python) if options.llama_python else ()),
    ]
    print(f"\n[bench] weight layouts: {' '.join(map(shlex.quote, command[1:]))}", flush=True)
    done = subprocess.run(command, cwd=REPO_ROOT, check=False)
    if done.returncode != 0:
        print(f"[bench] the weight-layouts run failed (exit {done.returncode})")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    options = parse_options(args)
    started = time.monotonic()
    command = " ".join(["python -m benchmarks.bench", *map(shlex.quote, args)])
    date, commit = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), git_commit()
    blas = resolve_blas(options.blas)
    env = {**blas.env, **options.env}  # --env wins
    models = models_under_test(options, blas)
    with tempfile.TemporaryDirectory(prefix="mlxfn-bench-") as tmp:
        variants = [benchmark_model(model, options, env, Path(tmp)) for model in models]
    elapsed = time.monotonic() - started
    systems = [*options.servers, *([CEILING] if options.ceiling else [])]
    table = render_table(variants, systems)
    print()
    print(f"command: {command}")
    print(
        f"settings: {options.repetitions} repetition(s), medians reported; max_tokens "
        f"{options.max_tokens}; temperature 0; env {options.env or '{}'}"
    )
    print(f"BLAS: {blas.description}")
    for variant in variants:
        print(f"model [{variant.variant}]: {variant.description}")
    print()
    print(table)
    print()
    print("tok/s: output tokens over wall time, all requests of a repetition (first send to")
    print("  last token). TTFT50/95: time to first content token, ms. fig: multiturn = warm")
    print("  follow-up TTFT / cold TTFT; burst = the 8 streams' largest inter-token gap /")
    print("  median gap; json-* = median request latency. ceil = mlx-lm in-process, no HTTP.")
    for variant in variants:
        tag = f"[{variant.variant}]"
        if options.ceiling:
            print(f"{tag} ceiling: {render_ceiling_basics(variant)}")
        print(f"{tag} memory after the run: {render_memory(variant)}")
        for system, said in variant.blas.items():
            print(f"{tag} BLAS {system}: {said}")
        for line in render_checks(variant, systems):
            print(f"{tag} {line}")
    print(f"elapsed: {elapsed:.0f}s")
    config = {
        "command": command,
        "repetitions": options.repetitions,
        "max_tokens": options.max_tokens,
        "scenarios": list(options.scenarios),
        "servers": list(options.servers),
        "server_args": {k: list(v) for k, v in options.server_args.items()},
        "ceiling": options.ceiling,
        "blas": blas.description,
        "env": env,
        "quick": options.quick,
        "llama_python": options.llama_python,
        "date": date,
        "commit": commit,
    }
    document = build_document(variants, config, table, elapsed)
    if options.json_path is not None:
        options.json_path.parent.mkdir(parents=True, exist_ok=True)
        options.json_path.write_text(json.dumps(document, indent=1))
        print(f"results written to {options.json_path}")
    if options.charts_dir is not None:
        try:
            from benchmarks.charts import write_charts
        except ImportError as exc:  # matplotlib is optional: pip install -e '.[bench]'
            print(f"[bench] no charts ({exc}); install the bench extra: pip install -e '.[bench]'")
        else:
            for path in write_charts(document, options.charts_dir):
                print(f"chart written to {path}")
    if options.layouts and options.charts_dir is not None:
        run_layouts(options, options.charts_dir / "weight-layouts.png")
    failed = any(
        rep.errors
        for variant in variants
        for by_system in variant.results.values()
        for reps in by_system.values()
        for rep in reps
    )
    return 1 if failed else 0

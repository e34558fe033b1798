"""Evaluate mlxfn-demo greedily on held-out synthetic tasks: ``python -m tests.demo.evaluate``.

Each case is a conversation whose last message is the expected reply. The model is loaded with
mlxfn's loader and decoded greedily with mlx-lm; tool calls are parsed with mlx-lm's
``json_tools`` parser, the one it infers from the demo's chat template.
"""

from __future__ import annotations

# isort: off
import mlxfn.engine  # noqa: F401  (before mlx: it preloads a fast BLAS on Linux)

# isort: on
import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from returns.result import Failure, Success

from mlxfn.effects import run_io
from mlxfn.engine.loader import LoadedModel, ModelSpec, load_model
from tests.demo import DEMO_MODEL_DIR
from tests.demo.data import Sample, addition_answer, eval_cases, held_out_pairs

EVAL_SEED: Final = 1234
TOOL_CALL_START: Final = "<tool_call>"
TOOL_CALL_END: Final = "</tool_call>"

Report = dict[str, tuple[int, int]]


def parse_tool_calls(text: str) -> list[dict[str, Any]] | None:
    """The tool calls in a reply, parsed as mlx-lm's ``json_tools`` parser does; None when a
    call block is not valid JSON.

    >>> parse_tool_calls('<tool_call>{"name": "add", "arguments": {"a": 1}}</tool_call>')
    [{'name': 'add', 'arguments': {'a': 1}}]
    >>> parse_tool_calls("The capital of France is Paris.")
    []
    """
    from mlx_lm.tool_parsers.json_tools import parse_tool_call

    calls = []
    rest = text
    while TOOL_CALL_START in rest:
        _, _, after = rest.partition(TOOL_CALL_START)
        body, _, rest = after.partition(TOOL_CALL_END)
        try:
            call = parse_tool_call(body)  # type: ignore[no-untyped-call]
        except json.JSONDecodeError:
            return None
        if not isinstance(call, dict):
            return None
        calls.append(call)
    return calls


def greedy_reply(
    loaded: LoadedModel,
    messages: Sequence[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    max_tokens: int = 64,
) -> str:
    """The model's greedy reply to a conversation (the chat template renders ``tools``)."""
    from mlx_lm import generate

    prompt = loaded.tokenizer.apply_chat_template(
        list(messages), tools=tools or None, add_generation_prompt=True
    )
    text: str = generate(loaded.model, loaded.tokenizer, prompt=prompt, max_tokens=max_tokens)
    return text


def is_correct(task: str, reply: str, expected: dict[str, Any]) -> bool:
    """Whether ``reply`` does what the ``expected`` message does: the same text, or a tool call
    with the same name and arguments."""
    if expected.get("tool_calls"):
        calls = parse_tool_calls(reply)
        wanted = [
            {"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
            for c in expected["tool_calls"]
        ]
        return calls == wanted
    return bool(reply.strip() == expected["content"])


def load_demo(model_dir: Path = DEMO_MODEL_DIR) -> LoadedModel:
    """Load a model folder with mlxfn's loader, or exit naming why it cannot be loaded."""
    match run_io(load_model(ModelSpec(source=str(model_dir)))):
        case Success(LoadedModel() as loaded):
            return loaded
        case Failure(failed):
            raise SystemExit(f"cannot load {model_dir}: {failed.reason}")
        case _:
            raise AssertionError("unreachable")


def evaluate(model_dir: Path, seed: int = EVAL_SEED, per_task: int = 100) -> Report:
    """Correct and total counts per task on the held-out cases, decoding greedily."""
    loaded = load_demo(model_dir)
    report: Report = {}
    for task, sample in eval_cases(seed, per_task):
        right = is_correct(task, _reply_to(loaded, sample), sample["messages"][-1])
        correct, total = report.get(task, (0, 0))
        report[task] = (correct + right, total + 1)
    return report


def evaluate_all_pairs(model_dir: Path) -> Report:
    """Exact-match accuracy of "What is a + b?" over every held-out pair of 2-digit numbers."""
    loaded = load_demo(model_dir)
    correct = 0
    pairs = held_out_pairs()
    for a, b in pairs:
        question = [{"role": "user", "content": f"What is {a} + {b}?"}]
        correct += greedy_reply(loaded, question).strip() == addition_answer(a, b)
    return {"addition_all_held_out_pairs": (correct, len(pairs))}


def _reply_to(loaded: LoadedModel, sample: Sample) -> str:
    return greedy_reply(loaded, sample["messages"][:-1], sample["tools"])


def print_report(report: Report) -> None:
    """One line per task: correct/total and accuracy."""
    for task, (correct, total) in report.items():
        print(f"{task:28s} {correct:4d}/{total:<4d} {correct / total:7.1%}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEMO_MODEL_DIR)
    parser.add_argument("--seed", type=int, default=EVAL_SEED)
    parser.add_argument("--per-task", type=int, default=100)
    parser.add_argument(
        "--all-pairs", action="store_true", help="also ask every held-out 2-digit pair"
    )
    args = parser.parse_args()
    started = time.time()
    report = evaluate(args.model, args.seed, args.per_task)
    if args.all_pairs:
        report |= evaluate_all_pairs(args.model)
    print_report(report)
    print(f"({time.time() - started:.0f}s)")


if __name__ == "__main__":
    main()

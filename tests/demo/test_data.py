"""The demo's synthetic data, chat template and tokenizer: pure, without a model."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.demo import data, template
from tests.demo.data import (
    TOOLS,
    addition_answer,
    eval_cases,
    is_held_out,
    sum_answer,
    tool_call_message,
    training_samples,
)
from tests.demo.template import CHAT_TEMPLATE, render_chat
from tests.demo.train import assistant_spans, build_tokenizer
from tests.test_architecture import imported_modules, is_forbidden

_ADDITION = re.compile(r"(\d+) \+ (\d+) = (\d+)\.")


def test_generation_is_deterministic_for_a_seed() -> None:
    assert training_samples(3, 200) == training_samples(3, 200)
    assert training_samples(3, 200) != training_samples(4, 200)


def test_held_out_pairs_never_appear_in_training_data() -> None:
    seen = 0
    for sample in training_samples(0, 3000):
        for message in sample["messages"]:
            if message["role"] == "assistant" and isinstance(message["content"], str):
                for a, b, total in _ADDITION.findall(message["content"]):
                    assert not is_held_out(int(a), int(b))
                    assert int(a) + int(b) == int(total)
                    seen += 1
    assert seen > 500


def test_evaluation_addition_uses_only_held_out_two_digit_pairs() -> None:
    additions = [s for task, s in eval_cases(1, 50) if task == "addition"]
    assert len(additions) == 50
    for sample in additions:
        [(a, b, _)] = _ADDITION.findall(sample["messages"][-1]["content"])
        assert is_held_out(int(a), int(b))
        assert 10 <= int(a) <= 99
        assert 10 <= int(b) <= 99


def test_the_answer_shows_the_work_and_ends_with_the_sum() -> None:
    assert addition_answer(17, 25) == (
        "17 + 25: 7 + 5 = 12, carry 1; 1 + 2 + 1 = 4; so 17 + 25 = 42."
    )
    for a, b in [(0, 0), (9, 9), (95, 17), (99, 99), (50, 50)]:
        assert addition_answer(a, b).endswith(f"so {a} + {b} = {a + b}.")
    assert sum_answer(17, 25) == "17 + 25 = 42."


WEATHER = [TOOLS["get_weather"]]


def test_template_renders_tools_into_the_system_turn() -> None:
    text = render_chat(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        WEATHER,
        add_generation_prompt=True,
    )
    assert text.startswith("<|im_start|>system\nBe brief.\n\n# Tools\n<tools>\n")
    line = text.split("<tools>\n")[1].split("\n")[0]
    assert json.loads(line)["name"] == "get_weather"
    assert text.count("<|im_start|>system") == 1
    assert text.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")


def test_template_without_tools_has_no_system_turn() -> None:
    text = render_chat([{"role": "user", "content": [{"type": "text", "text": "Hi"}]}])
    assert text == "<|im_start|>user\nHi<|im_end|>\n"


@pytest.mark.parametrize("arguments", ['{"city": "Paris"}', {"city": "Paris"}])
def test_template_renders_tool_calls_and_results(arguments: object) -> None:
    call = tool_call_message("get_weather", {"city": "Paris"})
    call["tool_calls"][0]["function"]["arguments"] = arguments
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        call,
        {"role": "tool", "tool_call_id": "call_0", "content": "sunny"},
    ]
    text = render_chat(messages, WEATHER)
    assert (
        "<|im_start|>assistant\n<tool_call>\n"
        '{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\nsunny\n</tool_response><|im_end|>\n"
    ) in text


def test_template_names_what_mlx_lm_infers_the_json_tools_parser_from() -> None:
    assert "<tool_call>" in CHAT_TEMPLATE
    assert "tool_call.name" in CHAT_TEMPLATE


def test_assistant_spans_cover_replies_and_their_end_token() -> None:
    text = render_chat([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}])
    [(begin, end)] = assistant_spans(text)
    assert text[begin:end] == "Yo<|im_end|>"


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    texts = [render_chat(s["messages"], s["tools"]) for s in training_samples(0, 500)]
    return build_tokenizer(texts, 400)


def test_tokenizer_splits_digits_and_round_trips(tokenizer: Any) -> None:
    assert tokenizer.tokenize("1234") == ["1", "2", "3", "4"]
    for sample in training_samples(1, 50):
        text = render_chat(sample["messages"], sample["tools"])
        assert tokenizer.decode(tokenizer.encode(text, add_special_tokens=False)) == text


def test_tokenizer_has_single_tokens_for_chat_and_tool_markers(tokenizer: Any) -> None:
    for marker in ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<tool_call>", "</tool_call>"):
        assert len(tokenizer.encode(marker, add_special_tokens=False)) == 1


@pytest.mark.parametrize("module", [data, template])
def test_data_and_template_are_pure(module: ModuleType) -> None:
    path = Path(str(module.__file__))
    names = imported_modules(path.read_text(), module.__name__)
    assert not [name for name in names if is_forbidden(name)]

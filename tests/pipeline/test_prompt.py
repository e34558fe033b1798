"""Conversation → template messages → token ids, with a fake tokenizer as the argument."""

from __future__ import annotations

from typing import Any

import attrs
import jinja2
import numpy
import pytest
from returns.result import Failure, Success

from mlxfn.domain.errors import InvalidRequest
from mlxfn.domain.messages import (
    AssistantMessage,
    Conversation,
    DeveloperMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from mlxfn.pipeline.prompt import Prompt, build_prompt, build_text_prompt, render_template_message


@attrs.define
class FakeTokenizer:
    """Records what it is asked; 'tokenizes' to one id per message plus one per character."""

    fail_with: Exception | None = None
    calls: list[tuple[Any, dict[str, Any]]] = attrs.Factory(list)

    def apply_chat_template(self, conversation: list[dict[str, Any]], **kwargs: Any) -> Any:
        self.calls.append((conversation, kwargs))
        if self.fail_with is not None:
            raise self.fail_with
        return [len(m["content"] or "") for m in conversation]

    def encode(self, text: str, **kwargs: Any) -> list[int]:
        self.calls.append((text, kwargs))
        if self.fail_with is not None:
            raise self.fail_with
        return [ord(c) for c in text]


CALL = ToolCall("call_1", "get_weather", '{"city": "Oslo"}')


@pytest.mark.parametrize(
    ("message", "rendered"),
    [
        (SystemMessage("s"), {"role": "system", "content": "s"}),
        (SystemMessage("s", "boss"), {"role": "system", "content": "s", "name": "boss"}),
        (DeveloperMessage("d"), {"role": "developer", "content": "d"}),
        (UserMessage("u", "ann"), {"role": "user", "content": "u", "name": "ann"}),
        (AssistantMessage("a"), {"role": "assistant", "content": "a"}),
        (
            AssistantMessage(None, (CALL,)),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": {"city": "Oslo"}},
                    }
                ],
            },
        ),
        (
            ToolMessage("12C", "call_1"),
            {"role": "tool", "content": "12C", "tool_call_id": "call_1"},
        ),
    ],
    ids=lambda x: type(x).__name__ if not isinstance(x, dict) else "",
)
def test_render_template_message(message: Message, rendered: dict[str, Any]) -> None:
    assert render_template_message(message) == rendered


def test_build_prompt_renders_every_message_and_asks_for_a_generation_prompt() -> None:
    tokenizer = FakeTokenizer()
    conversation = Conversation((SystemMessage("sys"), UserMessage("hello")))
    assert build_prompt(conversation, tokenizer) == Success(Prompt((3, 5)))
    ((messages, kwargs),) = tokenizer.calls
    assert messages == [{"role": "system", "content": "sys"}, {"role": "user", "content": "hello"}]
    assert kwargs == {"add_generation_prompt": True, "tokenize": True}


def test_token_ids_become_plain_ints() -> None:
    class ArrayTokenizer(FakeTokenizer):
        def apply_chat_template(self, conversation: list[dict[str, Any]], **kwargs: Any) -> Any:
            return numpy.array([1, 2, 3], dtype=numpy.int32)

    prompt = build_prompt(Conversation((UserMessage("x"),)), ArrayTokenizer()).unwrap()
    assert prompt.token_ids == (1, 2, 3)
    assert all(type(i) is int for i in prompt.token_ids)


@pytest.mark.parametrize(
    "exc",
    [
        jinja2.TemplateError("Conversation roles must alternate user/assistant"),
        jinja2.exceptions.UndefinedError("'messages' is undefined"),
        ValueError("bad"),
        KeyError("content"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_template_rejection_is_invalid_request_on_messages(exc: Exception) -> None:
    result = build_prompt(Conversation((UserMessage("x"),)), FakeTokenizer(fail_with=exc))
    match result:
        case Failure(InvalidRequest(message=message, param="messages")):
            assert message.startswith("the chat template rejected the messages")
        case other:
            pytest.fail(f"expected InvalidRequest on messages, got {other!r}")


def test_unexpected_errors_still_raise() -> None:
    with pytest.raises(RuntimeError):
        build_prompt(Conversation((UserMessage("x"),)), FakeTokenizer(fail_with=RuntimeError()))


def test_build_text_prompt_encodes_without_special_tokens() -> None:
    tokenizer = FakeTokenizer()
    assert build_text_prompt("ab", tokenizer) == Success(Prompt((97, 98)))
    assert tokenizer.calls == [("ab", {"add_special_tokens": False})]


def test_build_text_prompt_failure_names_text() -> None:
    result = build_text_prompt("ab", FakeTokenizer(fail_with=ValueError("no")))
    assert result == Failure(InvalidRequest("the text could not be tokenized: no", "text"))


def test_prompt_token_count() -> None:
    assert Prompt((1, 2, 3)).token_count == 3
    assert Prompt(()).token_count == 0

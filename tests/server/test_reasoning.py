"""Reasoning end to end: a tiny reasoning model (mlx-lm detects its ``<think>`` markers; its
template opens the thinking block) behind a real server, through the official SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from anthropic.types import Message

from mlxfn.tiny_model import build_tiny_model
from tests.conftest import StartServer
from tests.schemas import validate

MESSAGES = [{"role": "user", "content": "what is two plus two?"}]


@pytest.fixture(scope="module")
def thinking_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "thinking", thinking=True)


def _client(start_server: StartServer, model: Path, *flags: str) -> openai.OpenAI:
    server = start_server("--model", str(model), "--served-model-name", "thinker", *flags)
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


@pytest.fixture(scope="module")
def client(start_server: StartServer, thinking_model: Path) -> Iterator[openai.OpenAI]:
    with _client(start_server, thinking_model) as c:
        yield c


def _ask(client: openai.OpenAI, **fields: Any) -> Any:
    return client.chat.completions.create(
        model="thinker", messages=MESSAGES, temperature=0, max_tokens=12, **fields
    )


def test_thinking_goes_to_reasoning_content(client: openai.OpenAI) -> None:
    reply = _ask(client)
    body = reply.model_dump(mode="json", exclude_unset=True)
    validate(body, "CreateChatCompletionResponse")
    message = body["choices"][0]["message"]
    # the random model never closes the block the template opened: all of it is thinking
    assert message["reasoning_content"]
    assert message["content"] == ""
    assert "<think>" not in message["reasoning_content"]


def test_streamed_reasoning_adds_up_to_the_json(client: openai.OpenAI) -> None:
    whole = _ask(client).model_dump(mode="json")["choices"][0]["message"]
    reasoning, content = "", ""
    for chunk in _ask(client, stream=True):
        validate(
            chunk.model_dump(mode="json", exclude_unset=True), "CreateChatCompletionStreamResponse"
        )
        delta = chunk.choices[0].model_dump()["delta"] if chunk.choices else {}
        reasoning += delta.get("reasoning_content") or ""
        content += delta.get("content") or ""
    assert (reasoning, content) == (whole["reasoning_content"], whole["content"])


def test_the_reasoning_field_is_configurable(
    start_server: StartServer, thinking_model: Path
) -> None:
    with _client(start_server, thinking_model, "--reasoning-field", "reasoning") as renamed:
        message = _ask(renamed).model_dump(mode="json")["choices"][0]["message"]
    assert message.get("reasoning")
    assert "reasoning_content" not in message


# -- the same thinking on the Responses and Messages surfaces ------------------------------------


@pytest.fixture(scope="module")
def anthropic_client(client: openai.OpenAI) -> Iterator[anthropic.Anthropic]:
    base = str(client.base_url).removesuffix("/").removesuffix("/v1")
    with anthropic.Anthropic(base_url=base, api_key="unused", max_retries=0) as c:
        yield c


def test_responses_give_the_thinking_as_a_reasoning_item(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="thinker", input=MESSAGES[0]["content"], max_output_tokens=12, temperature=0
    )
    (item, *rest) = response.output
    assert item.type == "reasoning"
    assert item.content is not None
    (part,) = item.content
    assert part.type == "reasoning_text"
    assert part.text
    assert "<think>" not in part.text
    # the random model never closes the block: the cut item is all the output
    assert [i.type for i in rest] in ([], ["message"])
    streamed = client.responses.create(
        model="thinker",
        input=MESSAGES[0]["content"],
        max_output_tokens=12,
        temperature=0,
        stream=True,
    )
    deltas = [e.delta for e in streamed if e.type == "response.reasoning_text.delta"]
    assert "".join(deltas) == part.text


# This SDK's create() takes no temperature argument any more; the API still does.
GREEDY = {"temperature": 0}


def test_messages_give_the_thinking_as_a_thinking_block(
    anthropic_client: anthropic.Anthropic,
) -> None:
    message = anthropic_client.messages.create(
        model="thinker", max_tokens=12, messages=MESSAGES, extra_body=GREEDY
    )
    Message.model_validate(message.model_dump(), strict=True)
    (block, *rest) = message.content
    assert block.type == "thinking"
    assert block.thinking
    assert "<think>" not in block.thinking
    assert block.signature == ""
    assert message.stop_reason == "max_tokens"
    assert all(b.type == "text" for b in rest)
    with anthropic_client.messages.stream(
        model="thinker", max_tokens=12, messages=MESSAGES, extra_body=GREEDY
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    deltas = [
        e.delta.thinking
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "thinking_delta"
    ]
    assert "".join(deltas) == block.thinking
    assert final.content[0].type == "thinking"

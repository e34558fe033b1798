"""Reasoning end to end: a tiny reasoning model (mlx-lm detects its ``<think>`` markers; its
template opens the thinking block) behind a real server, through the official SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

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

"""Anthropic's prefill: a request whose last message is the assistant's is answered by
continuing that text, not by a new turn after it (clients start an answer with ``{`` to get
JSON this way)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import anthropic
import pytest
from transformers import AutoTokenizer

from tests.conftest import ServerProcess, StartServer

SERVED = "tiny"
PREFILL = '{"answer":'
ASKED = [{"role": "user", "content": "what is two plus two?"}]
GREEDY = {"temperature": 0}  # this SDK's create() takes no temperature argument any more


@pytest.fixture(scope="module")
def server(start_server: StartServer, tiny_model_dir: Path) -> ServerProcess:
    return start_server("--model", str(tiny_model_dir), "--served-model-name", SERVED)


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=server.url, api_key="x", max_retries=0) as c:
        yield c


def _ids(rendered: Any) -> list[int]:
    """Token ids from apply_chat_template, which returns a list or (newer) an encoding."""
    return list(rendered["input_ids"] if isinstance(rendered, Mapping) else rendered)


def test_a_prefill_is_continued_not_closed(
    client: anthropic.Anthropic, tiny_model_dir: Path
) -> None:
    messages = [*ASKED, {"role": "assistant", "content": PREFILL}]
    counted = client.messages.count_tokens(model=SERVED, messages=messages).input_tokens
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    continued = _ids(tokenizer.apply_chat_template(messages, continue_final_message=True))
    closed = _ids(tokenizer.apply_chat_template(messages, add_generation_prompt=True))
    assert counted == len(continued) < len(closed)
    assert tokenizer.decode(continued).endswith(PREFILL)  # the turn is left open


def test_the_answer_is_the_continuation_and_counts_its_prompt(
    client: anthropic.Anthropic,
) -> None:
    messages = [*ASKED, {"role": "assistant", "content": PREFILL}]
    message = client.messages.create(
        model=SERVED, max_tokens=6, messages=messages, extra_body=GREEDY
    )
    counted = client.messages.count_tokens(model=SERVED, messages=messages).input_tokens
    assert message.usage.input_tokens + (message.usage.cache_read_input_tokens or 0) == counted
    assert message.content[0].type == "text"
    assert not message.content[0].text.startswith(PREFILL)  # only what comes after it


def test_a_last_assistant_turn_with_a_call_is_a_finished_turn(
    client: anthropic.Anthropic,
) -> None:
    call = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
    messages = [
        *ASKED,
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1"}]},
    ]
    tools = [{"name": "f", "description": "f", "input_schema": {"type": "object"}}]
    message = client.messages.create(
        model=SERVED, max_tokens=4, messages=messages, tools=tools, extra_body=GREEDY
    )
    assert message.stop_reason in ("max_tokens", "end_turn", "tool_use")

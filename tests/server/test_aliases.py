"""Model aliases: clients that send their own model ids (agent CLIs) reach the served model."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest
from openai import OpenAI

from tests.conftest import StartServer


def test_an_alias_answers_and_replies_name_the_served_model(
    start_server: StartServer, tiny_model_dir: Path
) -> None:
    server = start_server("--model", str(tiny_model_dir), "--model-alias", "gpt-4o")
    client = OpenAI(base_url=f"{server.url}/v1", api_key="unused")
    reply = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=2
    )
    assert reply.model == "tiny"
    assert client.models.retrieve("gpt-4o").id == "tiny"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="gpt-5", messages=[{"role": "user", "content": "hi"}], max_tokens=2
        )


def test_a_star_alias_answers_to_any_name(start_server: StartServer, tiny_model_dir: Path) -> None:
    server = start_server("--model", str(tiny_model_dir), "--model-alias", "*")
    client = OpenAI(base_url=f"{server.url}/v1", api_key="unused")
    for name in ("claude-sonnet-4-5", "gpt-5", "anything"):
        reply = client.completions.create(model=name, prompt="hi", max_tokens=2)
        assert reply.model == "tiny"

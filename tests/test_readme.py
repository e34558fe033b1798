"""The README is executable documentation: its example runs, its tables match the code."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import orjson

from mlxfn.cli import build_parser
from mlxfn.wire.bodies import ChatBody, CompletionBody
from tests.conftest import StartServer
from tests.schemas import openapi_schemas

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, re.S)


def _table_first_cells(heading: str) -> set[str]:
    section = README.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    cells = re.findall(r"^\| ([^|]+) \|", section, re.M)
    return {name for cell in cells for name in re.findall(r"`([^`]+)`", cell)}


def test_first_screen_has_exactly_two_setup_commands() -> None:
    first_block = README.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line for line in first_block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    assert commands[0].endswith("python -m mlxfn")  # serves the default model
    assert commands[1].endswith("python -m pytest")


def test_notebook_example_runs_as_written(tmp_path: Path) -> None:
    notebook = next(block for block in _python_blocks() if "import mlxfn" in block)
    script = tmp_path / "example.py"
    script.write_text(notebook)
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    printed = result.stdout.splitlines()
    expected = [line.split("# ", 1)[1] for line in notebook.splitlines() if "# <" in line]
    assert len(printed) == len(expected) == 3
    assert printed[0] == expected[0]
    assert printed[1].startswith(expected[1].removesuffix("...)>"))
    assert printed[2] == expected[2]


def test_configuration_table_lists_every_flag() -> None:
    flags = {
        option
        for action in build_parser()._actions
        for option in action.option_strings
        if option.startswith("--") and option not in ("--help", "--version")
    }
    assert flags == _table_first_cells("Configuration")


def _openai_properties(name: str) -> set[str]:
    schema = openapi_schemas()[name]
    found: set[str] = set()
    for part in schema.get("allOf", [schema]):
        if "$ref" in part:
            found |= _openai_properties(part["$ref"].rsplit("/", 1)[1])
        else:
            found |= set(part.get("properties", {}))
    return found


def test_field_policy_covers_every_openai_chat_field() -> None:
    openai_fields = _openai_properties("CreateChatCompletionRequest")
    documented = {cell.split(".")[0] for cell in _table_first_cells("Field policy")}
    assert openai_fields <= documented, sorted(openai_fields - documented)
    # and the wire body knows every one of them, so none can be ignored by accident
    assert openai_fields <= {field.name for field in ChatBody.__attrs_attrs__}


def test_completions_field_policy_covers_every_openai_completions_field() -> None:
    openai_fields = _openai_properties("CreateCompletionRequest")
    assert "prompt" in openai_fields  # the walk found the schema's own properties
    documented = {cell.split(".")[0] for cell in _table_first_cells("Completions field policy")}
    assert openai_fields <= documented, sorted(openai_fields - documented)
    assert openai_fields <= {field.name for field in CompletionBody.__attrs_attrs__}
    # the extensions the table lists are the ones the wire body has beyond OpenAI's
    extras = {field.name for field in CompletionBody.__attrs_attrs__} - openai_fields
    assert extras == documented - openai_fields - {"stream_options"}


def test_the_curl_example_gets_an_answer_from_the_default_model(
    start_server: StartServer,
) -> None:
    server = start_server()  # no --model: the default model, as the first command runs
    curl = next(block for block in re.findall(r"```sh\n(.*?)```", README, re.S) if "curl " in block)
    command = curl.replace("\\\n", " ").replace("http://127.0.0.1:8000", server.url).strip()
    result = subprocess.run(
        ["sh", "-c", command + " --silent --show-error"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    reply = orjson.loads(result.stdout)
    assert reply["model"] == "smollm2-135m-instruct"
    assert "cat" in reply["choices"][0]["message"]["content"]

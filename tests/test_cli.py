"""``python -m mlxfn``: flags → Config, a clear one-line failure, and a clean start and stop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from mlxfn.cli import Config, main, parse_config
from mlxfn.engine.loader import ModelSpec
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
            "--log-level",
            "debug",
        ]
    )
    assert config == Config(
        model=ModelSpec(
            source="mlx-community/Qwen3-0.6B-4bit", served_name="qwen", context_length=2048
        ),
        engine=EngineConfig(max_pending=3, default_max_tokens=64),
        server=ServerConfig(cors_origins=("http://a.test", "http://b.test"), max_body_bytes=1024),
        host="0.0.0.0",
        port=9001,
        log_level="debug",
    )


def test_cors_star_is_kept() -> None:
    assert parse_config(["--model", "m", "--cors-origins", "*"]).server.cors_origins == ("*",)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--model", "m", "--port", "eighty"],
        ["--model", "m", "--max-tokens-default", "0"],
        ["--model", "m", "--context-length", "-5"],
        ["--model", "m", "--max-pending", "0"],
        ["--model", "m", "--log-level", "loud"],
    ],
)
def test_bad_flags_exit_2_with_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_config(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err
    assert "Traceback" not in err


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

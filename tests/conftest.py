"""Fixtures with real parts: a small real MLX model on disk, a real engine, a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlxfn.cli.flags import API_KEY_ENV
from mlxfn.effects import run_io
from mlxfn.engine.loader import ModelSpec
from mlxfn.engine.thread import Engine, EngineConfig, start_engine
from mlxfn.tiny_model import build_tiny_model

SERVER_START_TIMEOUT_S = 60.0


@pytest.fixture(scope="session", autouse=True)
def own_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Converted GGUF models (and a server's patched pip OpenBLAS) go to the test run's own
    cache folder, never the user's ~/.cache/mlxfn."""
    folder = tmp_path_factory.mktemp("mlxfn-cache")
    os.environ["MLXFN_CACHE"] = str(folder)
    return folder


@pytest.fixture(scope="session", autouse=True)
def no_api_key_from_the_environment() -> Iterator[None]:
    """A user's own ``MLXFN_API_KEY`` would turn on auth in every server and config the tests
    make; tests of keys pass them explicitly."""
    saved = os.environ.pop(API_KEY_ENV, None)
    yield
    if saved is not None:
        os.environ[API_KEY_ENV] = saved


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight Llama with a trained BPE tokenizer and a ChatML template (512 context)."""
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def native_tools_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with a Qwen2.5-style template that has a tool-call format of its own
    (mlx-lm reads it with ``json_tools``; ``<tool_call>`` and ``</tool_call>`` are one token
    each) and a 4096 context, room for its tools section."""
    return build_tiny_model(tmp_path_factory.mktemp("models") / "native-tools", native_tools=True)


@pytest.fixture(scope="session")
def eos_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model whose greedy first token is always an end-of-sequence token."""
    return build_tiny_model(tmp_path_factory.mktemp("models") / "always-eos", always_eos=True)


@pytest.fixture(scope="session")
def engine(tiny_model_dir: Path) -> Iterator[Engine]:
    """The tiny model loaded through the real loader, on its own engine thread."""
    started = run_io(start_engine(ModelSpec(source=str(tiny_model_dir)), EngineConfig()))
    running = started.unwrap()
    yield running
    running.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """``python -m mlxfn`` in a subprocess on a free loopback port."""

    def __init__(self, args: list[str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlxfn", "--port", str(self.port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        # Read its output as it comes: a server logs a line per request, and a full pipe
        # would block it mid-request.
        self._output: list[str] = []
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()
        self._wait_healthy()

    def _read_output(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._output.append(line)

    def output(self) -> str:
        return "".join(self._output)

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._reader.join(timeout=5)
                output = self.output()
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{output}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not become healthy in time")

    def stop(self) -> str:
        """Stop the server (SIGTERM) and return everything it printed."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)
        return self.output()


StartServer = Callable[..., ServerProcess]


@pytest.fixture(scope="session")
def start_server() -> Iterator[StartServer]:
    """Start extra servers with their own flags; all are stopped at the end of the session."""
    started: list[ServerProcess] = []

    def start(*args: str) -> ServerProcess:
        server = ServerProcess(list(args))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def server(start_server: StartServer, tiny_model_dir: Path) -> ServerProcess:
    """The shared server on the tiny model, with CORS allowed for one origin."""
    return start_server("--model", str(tiny_model_dir), "--cors-origins", "http://example.test")


@pytest.fixture(scope="session")
def base_url(server: ServerProcess) -> str:
    return server.url

"""The servers under test, as subprocesses on loopback: start, wait until ready, measure, stop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import aiohttp

from benchmarks.blas import loaded_blas
from benchmarks.client import Target

# llama_cpp: llama-cpp-python's OpenAI server (``python -m llama_cpp.server``) on a GGUF copy of
# the model, run by another interpreter (--llama-python). mlxfn_gguf: mlxfn serving that same
# GGUF file, a check that the file is faithful to the MLX folder.
SERVER_NAMES = ("mlxfn", "mlx_lm", "llama_cpp", "mlxfn_gguf")
DEFAULT_SERVERS = ("mlxfn", "mlx_lm")
GGUF_SERVERS = frozenset({"llama_cpp", "mlxfn_gguf"})
LLAMA_CPP_THREADS = 2
# llama-cpp-python's server applies repeat_penalty 1.1 unless told otherwise, even at
# temperature 0; the other servers apply none, so it is sent 1.0 to decode plain greedy.
SERVER_BODY_EXTRA: dict[str, dict[str, float]] = {"llama_cpp": {"repeat_penalty": 1.0}}
READY_TIMEOUT_S = 180.0
REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_argv(
    name: str,
    model: Path,
    port: int,
    max_tokens: int,
    extra: Sequence[str] = (),
    *,
    llama_python: str | None = None,
) -> list[str]:
    """The command line for a server; all get greedy defaults and the same token cap (requests
    always send max_tokens too). For llama_cpp and mlxfn_gguf, ``model`` is the GGUF file."""
    match name:
        case "mlxfn" | "mlxfn_gguf":
            return [
                sys.executable,
                *("-m", "mlxfn", "--model", str(model)),
                *("--host", "127.0.0.1", "--port", str(port)),
                *("--max-tokens-default", str(max_tokens)),
                *extra,
            ]
        case "mlx_lm":
            # ``python -m mlx_lm server`` is mlx_lm.server without its deprecation notice.
            return [
                sys.executable,
                *("-m", "mlx_lm", "server", "--model", str(model)),
                *("--host", "127.0.0.1", "--port", str(port)),
                *("--max-tokens", str(max_tokens), "--temp", "0.0"),
                *extra,
            ]
        case "llama_cpp":
            if llama_python is None:
                raise ValueError(
                    "llama_cpp needs --llama-python (an interpreter with llama-cpp-python)"
                )
            # interrupt_requests (default true) would end a running stream early whenever
            # another request waits; off, requests queue and each one runs to max_tokens.
            return [
                llama_python,
                *("-m", "llama_cpp.server", "--model", str(model)),
                *("--host", "127.0.0.1", "--port", str(port)),
                *("--n_threads", str(LLAMA_CPP_THREADS)),
                *("--n_threads_batch", str(LLAMA_CPP_THREADS)),
                *("--n_ctx", "4096", "--interrupt_requests", "false"),
                *extra,
            ]
        case _:
            raise ValueError(f"unknown server {name!r}; known: {', '.join(SERVER_NAMES)}")


@dataclass(frozen=True)
class Memory:
    rss_mb: float  # VmRSS: resident now
    peak_rss_mb: float  # VmHWM: the most it was ever resident


def read_memory(pid: int) -> Memory | None:
    """Resident memory from /proc/PID/status (Linux); None when unavailable."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    fields = {
        key: int(rest.split()[0]) / 1024
        for key, _, rest in (line.partition(":") for line in lines)
        if key in {"VmRSS", "VmHWM"}
    }
    if "VmRSS" not in fields:
        return None
    return Memory(rss_mb=fields["VmRSS"], peak_rss_mb=fields.get("VmHWM", fields["VmRSS"]))


class ServerProcess:
    """One server subprocess; its output goes to a log file, shown when it fails."""

    def __init__(
        self,
        name: str,
        model: Path,
        *,
        max_tokens: int,
        env: Mapping[str, str],
        log_dir: Path,
        extra_args: Sequence[str] = (),
        llama_python: str | None = None,
    ) -> None:
        self.name = name
        self.port = free_port()
        self.argv = server_argv(
            name, model, self.port, max_tokens, extra_args, llama_python=llama_python
        )
        self.log_path = log_dir / f"{name}-{self.port}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.argv,
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.base_url = f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 25) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    async def wait_ready(self, session: aiohttp.ClientSession) -> Target:
        """Poll /health until it answers 200 (GET /v1/models for a server without /health, such
        as llama-cpp-python's, which answers 404 there), then find the model id to send."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode} before it was ready:\n"
                    f"{self.log_tail()}"
                )
            try:
                async with session.get(f"{self.base_url}/health") as response:
                    status = response.status
                if status == 404:
                    async with session.get(f"{self.base_url}/v1/models") as response:
                        status = response.status
                if status == 200:
                    break
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {READY_TIMEOUT_S:.0f}s")
            await asyncio.sleep(0.25)
        return Target(
            self.name,
            self.base_url,
            await self._model_id(session),
            SERVER_BODY_EXTRA.get(self.name, {}),
        )

    async def _model_id(self, session: aiohttp.ClientSession) -> str:
        if self.name == "mlx_lm":
            return "default_model"  # mlx_lm.server's name for the model given by --model
        async with session.get(f"{self.base_url}/v1/models") as response:
            listing = await response.json()
        return str(listing["data"][0]["id"])

    def blas(self) -> str:
        """Which BLAS the process mapped, plus what the server itself said about BLAS."""
        said = [
            line.strip()
            for line in self.log_path.read_text(errors="replace").splitlines()[:40]
            if "BLAS" in line
        ]
        return "; ".join([f"mapped: {loaded_blas(self.pid)}", *said])

    def memory(self) -> Memory | None:
        return read_memory(self.pid)

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout_s)
        self._log.close()

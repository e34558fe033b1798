"""Extra servers for the flags the shared ``server`` does not set, and an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from mlxfn.server.openapi import build_openapi
from mlxfn.server.openapi.facts import OpenApiFacts
from tests.conftest import ServerProcess, StartServer

LIMITED_CONTEXT = 64
LIMITED_BODY_BYTES = 1024
LIMITED_DEFAULT_MAX_TOKENS = 7


@pytest.fixture(scope="session")
def limited_server(start_server: StartServer, tiny_model_dir: Path) -> ServerProcess:
    """A small context, a small body limit and a small default completion cap."""
    return start_server(
        "--model",
        str(tiny_model_dir),
        "--context-length",
        str(LIMITED_CONTEXT),
        "--max-body-bytes",
        str(LIMITED_BODY_BYTES),
        "--max-tokens-default",
        str(LIMITED_DEFAULT_MAX_TOKENS),
    )


@pytest.fixture(scope="session")
def single_slot_server(start_server: StartServer, tiny_model_dir: Path) -> ServerProcess:
    """One request at a time, and room for generations far longer than any test waits for."""
    return start_server(
        "--model", str(tiny_model_dir), "--max-pending", "1", "--context-length", "100000"
    )


@pytest.fixture(scope="session")
def eos_server(start_server: StartServer, eos_model_dir: Path) -> ServerProcess:
    return start_server("--model", str(eos_model_dir), "--served-model-name", "tiny")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield session


@pytest.fixture(scope="session")
def client(base_url: str) -> openai.OpenAI:
    """The official SDK against the shared server; no retries, so errors show as they are."""
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """mlxfn's ``/openapi.json`` for the shared engine's model."""
    return build_openapi(OpenApiFacts(models=("tiny",)))

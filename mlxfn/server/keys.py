"""Typed keys for what the aiohttp application holds."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import attrs
from aiohttp import web

from mlxfn.engine.registry import ModelRegistry
from mlxfn.server.in_flight import InFlight
from mlxfn.server.mailbox import Mailbox
from mlxfn.server.metrics import Metrics, Trace
from mlxfn.wire.responses import DEFAULT_REASONING_FIELD

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_RESPONSE_STORE_SIZE = 1000


@attrs.frozen(kw_only=True)
class ServerConfig:
    cors_origins: tuple[str, ...] = ()
    # The address the server listens on: a request may name it in its Host, as it may a
    # loopback name or one of allowed_hosts ("*": any), unless api_keys are set.
    bound_host: str = "127.0.0.1"
    allowed_hosts: frozenset[str] = frozenset()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # Keys a client may send as "Authorization: Bearer KEY"; none means no authentication.
    api_keys: frozenset[str] = frozenset()
    # The message field for a reasoning model's thinking: clients disagree on its name.
    reasoning_field: str = DEFAULT_REASONING_FIELD
    # The chat page at "/" (``--no-ui`` turns it off).
    ui: bool = True
    # How many Responses API responses are kept for GET and previous_response_id (0: none).
    response_store_size: int = DEFAULT_RESPONSE_STORE_SIZE


# The served models, each with its engine once loaded (routing.py picks one per request).
MODELS: Final = web.AppKey("models", ModelRegistry)
CONFIG: Final = web.AppKey("config", ServerConfig)
# Tokenizing and templating run off the event loop, one at a time: Hugging Face tokenizers
# keep mutable state, and none of this is MLX work, so it does not belong on the engine thread.
TOKENIZER_POOL: Final = web.AppKey("tokenizer_pool", ThreadPoolExecutor)
REQUEST_ID: Final = web.RequestKey("request_id", str)
# Set once a shutdown has begun: new /v1 requests get 503 and /health says "draining".
DRAINING: Final = web.AppKey("draining", asyncio.Event)
METRICS: Final = web.AppKey("metrics", Metrics)
TRACE: Final = web.RequestKey("trace", Trace)
# Set when a stream's reader went away before its end: logged and counted as 499.
CLIENT_LEFT: Final = web.RequestKey("client_left", bool)
# Requests running engine tasks rather than generations (embeddings), for the drain to wait on.
IN_FLIGHT: Final = web.AppKey("in_flight", InFlight)
# Engine events reach the event loop through one mailbox (see mailbox.py).
MAILBOX: Final = web.AppKey("mailbox", Mailbox)

"""``python -m mlxfn``: command-line flags → config → a started engine → the HTTP server."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

import attrs
from aiohttp import web
from returns.io import IOFailure, IOSuccess
from returns.result import Failure, Success

from mlxfn import __version__
from mlxfn.blas import (
    ENV_VAR,
    BlasLoaded,
    describe_blas,
    describe_check,
    preload_fast_blas,
    verify_blas,
)
from mlxfn.engine.loader import ModelSpec
from mlxfn.engine.thread import (
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_PENDING,
    DEFAULT_MAX_TOKENS,
    DEFAULT_PREFILL_STEP,
    DEFAULT_PREFILL_STEP_BUSY,
    DEFAULT_PROMPT_CACHE_BYTES,
    Engine,
    EngineConfig,
    start_engine,
)
from mlxfn.server.app import make_app
from mlxfn.server.keys import DEFAULT_MAX_BODY_BYTES, ServerConfig

log = logging.getLogger("mlxfn")


@attrs.frozen(kw_only=True)
class Config:
    model: ModelSpec
    engine: EngineConfig
    server: ServerConfig
    host: str
    port: int
    log_level: str


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be zero or more, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mlxfn",
        description="Serve an MLX model with an OpenAI-compatible API.",
    )
    parser.add_argument(
        "--model",
        required=True,
        help="a local MLX model folder, or a Hugging Face hub id (needs network access)",
    )
    parser.add_argument("--served-model-name", help="the id clients use (default: from --model)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--max-tokens-default",
        type=_positive,
        default=DEFAULT_MAX_TOKENS,
        help="completion cap for requests that set no max_tokens (default: %(default)s)",
    )
    parser.add_argument(
        "--context-length",
        type=_positive,
        help="override the model's context length (default: from the model's config)",
    )
    parser.add_argument(
        "--max-pending",
        type=_positive,
        default=DEFAULT_MAX_PENDING,
        help="requests queued or running before new ones get 429 (default: %(default)s)",
    )
    parser.add_argument(
        "--max-batch",
        type=_positive,
        default=DEFAULT_MAX_BATCH,
        help="sequences decoded together in one batch (default: %(default)s)",
    )
    parser.add_argument(
        "--prefill-step",
        type=_positive,
        default=DEFAULT_PREFILL_STEP,
        help="prompt tokens prefilled per step while no stream is decoding (default: %(default)s)",
    )
    parser.add_argument(
        "--prefill-step-busy",
        type=_positive,
        default=DEFAULT_PREFILL_STEP_BUSY,
        help="prompt tokens prefilled between two decode steps while streams run: smaller "
        "keeps their tokens flowing, larger prefills faster (default: %(default)s)",
    )
    parser.add_argument(
        "--prompt-cache-bytes",
        type=_non_negative,
        default=DEFAULT_PROMPT_CACHE_BYTES,
        help="memory for reusing KV state of shared prompt prefixes; 0 turns it off "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=_positive,
        default=DEFAULT_MAX_BODY_BYTES,
        help="largest request body accepted (default: %(default)s)",
    )
    parser.add_argument(
        "--cors-origins",
        default="",
        help="comma-separated origins allowed by CORS, or '*' (default: none)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="(default: %(default)s)",
    )
    parser.add_argument("--version", action="version", version=f"mlxfn {__version__}")
    return parser


def parse_config(argv: Sequence[str]) -> Config:
    args = build_parser().parse_args(argv)
    origins = tuple(o.strip() for o in args.cors_origins.split(",") if o.strip())
    return Config(
        model=ModelSpec(
            source=args.model,
            served_name=args.served_model_name,
            context_length=args.context_length,
        ),
        engine=EngineConfig(
            max_pending=args.max_pending,
            default_max_tokens=args.max_tokens_default,
            max_batch=args.max_batch,
            prefill_step=args.prefill_step,
            prefill_step_busy=args.prefill_step_busy,
            prompt_cache_bytes=args.prompt_cache_bytes,
        ),
        server=ServerConfig(cors_origins=origins, max_body_bytes=args.max_body_bytes),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
    )


async def serve(app: web.Application, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM. Handlers are cancelled when their client disconnects."""
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        for address in runner.addresses:
            host_, port_ = address[0], address[1]
            print(f"mlxfn listening on http://{host_}:{port_}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def run(config: Config) -> int:
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    blas = preload_fast_blas()  # `import mlxfn` loaded it; this says what happened
    print(f"mlxfn: {describe_blas(blas)}", flush=True)
    check = verify_blas()
    if not check.passed:  # a wrong matmul is a wrong model: refuse to serve
        hint = f"; restart with {ENV_VAR}=0" if isinstance(blas, BlasLoaded) else ""
        print(f"mlxfn: {describe_check(check)}{hint}", file=sys.stderr)
        return 2
    print(f"mlxfn: {describe_check(check)}", flush=True)
    print(f"mlxfn {__version__}: loading {config.model.source} ...", flush=True)
    match start_engine(config.model, config.engine):
        case IOSuccess(Success(engine)):
            pass
        case IOFailure(Failure(failed)):
            reason = " ".join(failed.reason.split())  # one line, whatever the loader said
            print(f"mlxfn: cannot load model '{failed.source}': {reason}", file=sys.stderr)
            return 2
        case _:
            raise AssertionError("unreachable")
    return _serve_engine(engine, config)


def _serve_engine(engine: Engine, config: Config) -> int:
    loaded = engine.loaded
    print(
        f"mlxfn serving model '{loaded.name}' (context {loaded.context_length} tokens)",
        flush=True,
    )
    try:
        asyncio.run(serve(make_app(engine, config.server), config.host, config.port))
    except OSError as exc:
        print(f"mlxfn: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_config(sys.argv[1:] if argv is None else argv))

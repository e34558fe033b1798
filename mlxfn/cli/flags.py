"""The command line's words: the commands, their flags and each flag's help.

``config.py`` turns what these parse into ``Config`` and ``ChatConfig``; ``flag_values.py``
checks each value. A bad value is one ``mlxfn:`` line that says where help is.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import NoReturn

from mlxfn._version import __version__
from mlxfn.cli.flag_values import (
    byte_size,
    field_name,
    host_names,
    key_file,
    non_negative,
    port,
    positive,
    seconds,
    temperature,
)
from mlxfn.cli.model_flags import add_model_flags
from mlxfn.engine.config import (
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_PENDING,
    DEFAULT_MAX_TOKENS,
    DEFAULT_PREFILL_STEP,
    DEFAULT_PREFILL_STEP_BUSY,
    DEFAULT_PROMPT_CACHE_BYTES,
)
from mlxfn.server.drain import DEFAULT_DRAIN_TIMEOUT_S
from mlxfn.server.keys import DEFAULT_MAX_BODY_BYTES, DEFAULT_RESPONSE_STORE_SIZE
from mlxfn.wire.responses import DEFAULT_REASONING_FIELD

PROG = "python -m mlxfn"
COMMANDS = ("serve", "chat", "info", "models", "bench")
BENCH_MODULE = "benchmarks.bench"
API_KEY_ENV = "MLXFN_API_KEY"

_COMMANDS_HELP = """\
commands:
  serve    serve a model over HTTP (the default: `python -m mlxfn --model DIR` serves)
  chat     chat with a model in this terminal; replies stream as they are generated
  info     what a model folder or GGUF file holds: architecture, parameters, context,
           template (alias: models)
  bench    benchmark mlxfn against mlx_lm.server (needs a source checkout)

With no --model, SmolLM2-135M-Instruct (installed with mlxfn) is served as
'smollm2-135m-instruct'.
`python -m mlxfn COMMAND --help` shows a command's own flags."""

_SERVE_EXAMPLES = """\
examples:
  python -m mlxfn                               serve SmolLM2-135M-Instruct on http://127.0.0.1:8000
  python -m mlxfn --model ./tiny --port 8080    serve a local MLX model folder
  python -m mlxfn --model ./model.Q4_0.gguf     serve a GGUF file (llama, qwen2, qwen3)
  python -m mlxfn --model mlx-community/Qwen3-0.6B-4bit
                                                serve a Hugging Face hub id (downloads once)
  python -m mlxfn --model small=./tiny --model big=./qwen.gguf --adapter big-sql=./sql-lora
                                                serve two models and an adapter on the second
  python -m mlxfn chat --model ./tiny           chat with a model in this terminal
  python -m mlxfn info ./tiny                   what a model folder holds
  python -m mlxfn.tiny_model ./tiny             make a small random model to try things with"""


class _Parser(argparse.ArgumentParser):
    """argparse, with its error as one ``mlxfn:`` line that says where help is."""

    def error(self, message: str) -> NoReturn:
        usage = self.format_usage().strip().splitlines()[0]
        self.exit(2, f"{usage}\nmlxfn: {message} ({_hint_for(message, self.prog)})\n")


def _hint_for(message: str, prog: str) -> str:
    extra = message.removeprefix("unrecognized arguments: ").split()
    if message.startswith("unrecognized arguments: ") and set(extra) & set(COMMANDS):
        return f"the command comes first: {PROG} COMMAND [flags]"
    return f"{prog} --help lists the flags"


def _new_parser(prog: str, usage: str, description: str, epilog: str | None) -> _Parser:
    return _Parser(
        prog=prog,
        usage=usage,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The ``serve`` flags; at the top level (``prog`` is ``python -m mlxfn``) with the list
    of commands too, since ``serve`` is what a bare ``python -m mlxfn`` runs."""
    top = prog == PROG
    parser = _new_parser(
        prog,
        f"{PROG} [serve] [--model DIR|HUB_ID] [options]\n       {PROG} {{chat,info,bench}} ..."
        if top
        else f"{prog} [--model DIR|HUB_ID] [options]",
        "Serve an MLX model with an OpenAI-compatible API (/v1/chat/completions, /v1/models)."
        + (f"\n\n{_COMMANDS_HELP}" if top else ""),
        _SERVE_EXAMPLES,
    )
    model = parser.add_argument_group("model")
    add_model_flags(model, several=True)
    model.add_argument(
        "--model-alias",
        action="append",
        default=[],
        metavar="NAME",
        help="another model id requests may use for the (first) served model (repeatable); "
        "'*' answers to any id, for clients that insist on their own model names",
    )
    model.add_argument(
        "--served-model-name",
        metavar="NAME",
        help="the id clients use for the first model (default: the folder name, file name "
        "or hub id; 'smollm2-135m-instruct' for the default model)",
    )
    http = parser.add_argument_group("HTTP server")
    http.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    http.add_argument("--port", type=port, default=8000, help="port to bind (default: %(default)s)")
    http.add_argument(
        "--max-body-bytes",
        type=positive,
        default=DEFAULT_MAX_BODY_BYTES,
        metavar="N",
        help="largest request body accepted (default: %(default)s)",
    )
    http.add_argument(
        "--response-store-size",
        type=positive,
        default=DEFAULT_RESPONSE_STORE_SIZE,
        metavar="N",
        help="Responses API responses kept in memory for GET and previous_response_id; the "
        "least recently used go first, and none survive a restart (default: %(default)s)",
    )
    http.add_argument(
        "--no-ui",
        action="store_true",
        help="serve no chat page at / (default: a chat page for this server's models)",
    )
    http.add_argument(
        "--cors-origins",
        default="",
        metavar="ORIGINS",
        help="comma-separated origins allowed by CORS, or '*' (default: none); requests "
        "from other web pages are refused with 403",
    )
    http.add_argument(
        "--allowed-hosts",
        type=host_names,
        default=frozenset(),
        metavar="NAMES",
        help="comma-separated names clients may address the server by (its Host header), "
        "beyond the --host address and localhost, 127.0.0.1, [::1]; '*' allows any; "
        "without an API key others get 403 (default: none)",
    )
    http.add_argument(
        "--reasoning-field",
        type=field_name,
        default=DEFAULT_REASONING_FIELD,
        metavar="NAME",
        help="the message and delta field a reasoning model's thinking goes in, e.g. "
        "'reasoning' (default: %(default)s)",
    )
    http.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="(default: %(default)s)",
    )
    security = parser.add_argument_group("security")
    security.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help=f"a key clients must send as 'Authorization: Bearer KEY' on /v1 routes; repeat "
        f"for several (also: --api-key-file, or ${API_KEY_ENV}, comma-separated)",
    )
    security.add_argument(
        "--api-key-file",
        type=key_file,
        metavar="PATH",
        help="a file of keys, one per line ('#' starts a comment)",
    )
    security.add_argument(
        "--insecure",
        action="store_true",
        help="allow serving on a non-loopback address without an API key",
    )
    limits = parser.add_argument_group("limits (each answers a 4xx or 503 in OpenAI's shape)")
    limits.add_argument(
        "--max-messages",
        type=positive,
        metavar="N",
        help="messages one request may carry (default: no limit)",
    )
    limits.add_argument(
        "--max-prompt-tokens",
        type=positive,
        metavar="N",
        help="prompt tokens one request may carry (default: the context length)",
    )
    limits.add_argument(
        "--max-completion-tokens",
        type=positive,
        metavar="N",
        help="the most max_tokens a request may ask for (default: the room in the context)",
    )
    limits.add_argument(
        "--max-output-tokens",
        type=positive,
        metavar="N",
        help="every reply's output is capped at N tokens: a larger max_tokens is clamped, not "
        "refused, and the reply ends with finish_reason length (default: no cap)",
    )
    limits.add_argument(
        "--max-pending-tokens",
        type=positive,
        metavar="N",
        help="prompt tokens queued or running before new requests get 429 (default: no limit)",
    )
    limits.add_argument(
        "--memory-budget",
        type=byte_size,
        metavar="SIZE",
        help="KV cache that running requests may need at their longest, e.g. 8G; a request "
        "that could never fit is a 400, others wait (default: 80%% of free memory after "
        "loading, less the prompt cache)",
    )
    limits.add_argument(
        "--queue-timeout",
        type=seconds,
        metavar="SECONDS",
        help="longest wait for a batch slot before a 503 (default: no limit)",
    )
    limits.add_argument(
        "--request-timeout",
        type=seconds,
        metavar="SECONDS",
        help="longest time for a whole request; a stream past it ends with an error event "
        "(default: no limit)",
    )
    limits.add_argument(
        "--drain-timeout",
        type=seconds,
        default=DEFAULT_DRAIN_TIMEOUT_S,
        metavar="SECONDS",
        help="on SIGTERM or Ctrl-C, how long requests in flight may take to finish before "
        "they are ended with an error (default: %(default)s)",
    )
    engine = parser.add_argument_group("engine")
    engine.add_argument(
        "--max-tokens-default",
        type=positive,
        default=DEFAULT_MAX_TOKENS,
        metavar="N",
        help="completion cap for requests that set no max_tokens (default: %(default)s)",
    )
    engine.add_argument(
        "--max-pending",
        type=positive,
        default=DEFAULT_MAX_PENDING,
        metavar="N",
        help="requests queued or running before new ones get 429 (default: %(default)s)",
    )
    engine.add_argument(
        "--max-batch",
        type=positive,
        default=DEFAULT_MAX_BATCH,
        metavar="N",
        help="sequences decoded together in one batch (default: %(default)s)",
    )
    engine.add_argument(
        "--prefill-step",
        type=positive,
        default=DEFAULT_PREFILL_STEP,
        metavar="N",
        help="prompt tokens prefilled per step while no stream is decoding (default: %(default)s)",
    )
    engine.add_argument(
        "--prefill-step-busy",
        type=positive,
        default=DEFAULT_PREFILL_STEP_BUSY,
        metavar="N",
        help="prompt tokens prefilled between two decode steps while streams run: smaller "
        "keeps their tokens flowing, larger prefills faster (default: %(default)s)",
    )
    engine.add_argument(
        "--prompt-cache-bytes",
        type=non_negative,
        default=DEFAULT_PROMPT_CACHE_BYTES,
        metavar="N",
        help="memory for reusing KV state of shared prompt prefixes; 0 turns it off "
        "(default: %(default)s)",
    )
    parser.add_argument("--version", action="version", version=f"mlxfn {__version__}")
    return parser


def build_chat_parser() -> argparse.ArgumentParser:
    parser = _new_parser(
        f"{PROG} chat",
        f"{PROG} chat [--model DIR|HUB_ID] [--system TEXT] [options]",
        "Chat with a model in this terminal. Replies stream as they are generated;\n"
        "the conversation is kept until /reset.\n\n"
        "in the chat:\n"
        "  /reset     start a new conversation\n"
        "  /help      list these commands\n"
        "  /quit      leave (Ctrl-D does too)\n"
        "  Ctrl-C     stop the reply being written",
        "examples:\n"
        "  python -m mlxfn chat                              chat with the default model\n"
        "  python -m mlxfn chat --model ./tiny --temperature 0\n"
        "  python -m mlxfn chat --system 'Answer in one sentence.'",
    )
    add_model_flags(parser.add_argument_group("model"))
    replies = parser.add_argument_group("replies")
    replies.add_argument("--system", metavar="TEXT", help="a system message opening the chat")
    replies.add_argument(
        "--max-tokens",
        type=positive,
        metavar="N",
        help=f"longest reply in tokens (default: {DEFAULT_MAX_TOKENS}, or what the context allows)",
    )
    replies.add_argument(
        "--temperature",
        type=temperature,
        metavar="T",
        help="sampling temperature from 0 (greedy) to 2 (default: 1)",
    )
    return parser


def build_info_parser(prog: str = f"{PROG} info") -> argparse.ArgumentParser:
    parser = _new_parser(
        prog,
        f"{prog} [DIR|FILE.gguf|HUB_ID] [--json]",
        "What a model folder holds: architecture, parameter count, dtype or quantization,\n"
        "context length (as mlxfn will use it), vocabulary, chat template, tool-call\n"
        "parser, and files. Reads config.json, the safetensors headers and the tokenizer,\n"
        "never the weights. A GGUF file is described through the folder it converts to\n"
        "(converted once, then cached).",
        "examples:\n"
        "  python -m mlxfn info                  the default model\n"
        "  python -m mlxfn info ./tiny --json    one JSON object, for scripts\n"
        "  python -m mlxfn info mlx-community/Qwen3-0.6B-4bit\n"
        "                                        a hub id already downloaded",
    )
    parser.add_argument(
        "model",
        nargs="?",
        metavar="DIR|FILE.gguf|HUB_ID",
        help="a model folder, a GGUF file, or a hub id in the local Hugging Face cache "
        "(default: the default model)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def split_command(argv: Sequence[str]) -> tuple[str, list[str]]:
    """The command and its arguments; no command (or a flag first) means ``serve``.

    >>> split_command(["chat", "--model", "./tiny"])
    ('chat', ['--model', './tiny'])
    >>> split_command(["--model", "./tiny"])
    ('serve', ['--model', './tiny'])
    """
    if argv and argv[0] in COMMANDS:
        return argv[0], list(argv[1:])
    return "serve", list(argv)

"""``python -m mlxfn chat``: a conversation in the terminal, each reply streaming as it is made.

A turn goes through the server's own steps (parse → plan → engine), so the chat behaves as the
API does. The pure part (commands, the request body, one-line failure messages) sits on top;
the loop that reads lines and prints deltas is the thin shell below it.
"""

from __future__ import annotations

import contextlib
import queue
import sys
from collections.abc import Callable
from typing import Any, TextIO

import attrs
from returns.pipeline import flow
from returns.pointfree import bind
from returns.result import Failure, Result

from mlxfn.domain.errors import ApiError, ContextLengthExceeded, EngineFailed
from mlxfn.domain.events import Delta, Event, Failed, Finished
from mlxfn.domain.request import ChatRequest
from mlxfn.effects import run_io
from mlxfn.engine.job import Job
from mlxfn.engine.thread import Engine
from mlxfn.pipeline.chat import plan_chat
from mlxfn.pipeline.plan import GenerationPlan
from mlxfn.wire.codec import encode_json
from mlxfn.wire.requests import parse_chat_request
from mlxfn.wire.responses import render_error

PROMPT = ">>> "
HELP = "/reset starts over, /help lists commands, /quit or Ctrl-D leaves; Ctrl-C stops a reply"

Message = dict[str, str]


@attrs.frozen(kw_only=True)
class ChatSettings:
    system: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None


@attrs.frozen
class Say:
    text: str


@attrs.frozen
class Reset:
    pass


@attrs.frozen
class ShowHelp:
    pass


@attrs.frozen
class Quit:
    pass


@attrs.frozen
class Blank:
    pass


@attrs.frozen
class UnknownCommand:
    name: str


Command = Say | Reset | ShowHelp | Quit | Blank | UnknownCommand

_COMMANDS: dict[str, Command] = {
    "/reset": Reset(),
    "/clear": Reset(),
    "/help": ShowHelp(),
    "/?": ShowHelp(),
    "/quit": Quit(),
    "/exit": Quit(),
    "/bye": Quit(),
}


def parse_command(line: str) -> Command:
    """What a typed line asks for.

    >>> parse_command("/reset"), parse_command("  hi there "), parse_command("/nope x")
    (Reset(), Say(text='hi there'), UnknownCommand(name='/nope'))
    """
    text = line.strip()
    if not text:
        return Blank()
    if text.startswith("/"):
        name = text.split()[0].lower()
        return _COMMANDS.get(name, UnknownCommand(name))
    return Say(text)


def build_chat_body(
    model: str, settings: ChatSettings, history: tuple[Message, ...], text: str
) -> dict[str, Any]:
    """The OpenAI request for the next turn: system message, the turns so far, the new line.

    >>> build_chat_body("tiny", ChatSettings(temperature=0.0), (), "Hi")
    {'model': 'tiny', 'messages': [{'role': 'user', 'content': 'Hi'}], 'temperature': 0.0}
    """
    system = [{"role": "system", "content": settings.system}] if settings.system else []
    body: dict[str, Any] = {
        "model": model,
        "messages": [*system, *history, {"role": "user", "content": text}],
    }
    if settings.max_tokens is not None:
        body["max_tokens"] = settings.max_tokens
    if settings.temperature is not None:
        body["temperature"] = settings.temperature
    return body


def describe_failure(err: ApiError) -> str:
    """One line for a turn that could not run, with what to do about it."""
    match err:
        case ContextLengthExceeded(prompt_tokens=prompt, max_tokens=reply, limit=limit):
            return (
                f"the conversation ({prompt} tokens) and a reply of up to {reply} tokens do not "
                f"fit the model's context of {limit} tokens; /reset starts over"
            )
        case EngineFailed(detail=detail):
            return f"generation failed: {' '.join(detail.split())}"
        case _:
            message = str(render_error(err)["error"]["message"])
            return " ".join(message.split())


# -- the shell: one turn, and the loop --------------------------------------------------------


def _plan_turn(engine: Engine, body: dict[str, Any]) -> Result[GenerationPlan, ApiError]:
    loaded = engine.loaded

    def plan_of(request: ChatRequest) -> Result[GenerationPlan, ApiError]:
        return plan_chat(request, loaded.tokenizer, engine.limits, loaded.name)

    return flow(encode_json(body), parse_chat_request, bind(plan_of))


def stream_reply(engine: Engine, body: dict[str, Any], out: TextIO) -> str | None:
    """Run one turn, writing each delta as it comes; the reply, or ``None`` when it failed or
    was stopped with Ctrl-C (which cancels it on the engine, not the program)."""
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()

    def submit(plan: GenerationPlan) -> Result[Job, ApiError]:
        return run_io(engine.submit(plan, events.put))

    submitted = _plan_turn(engine, body).bind(submit)
    if isinstance(submitted, Failure):
        _complain(out, describe_failure(submitted.failure()))
        return None
    job = submitted.unwrap()
    parts: list[str] = []
    try:
        while True:
            match events.get():
                case Delta(text=text):
                    parts.append(text)
                    out.write(text)
                    out.flush()
                case Finished(reason=reason):
                    out.write("\n")
                    if reason == "length":
                        _note(out, "(the reply reached its token limit)")
                    return "".join(parts)
                case Failed(error=error):
                    out.write("\n" if parts else "")
                    _complain(out, describe_failure(error))
                    return None
    except KeyboardInterrupt:
        job.cancel()
        out.write("\n")
        _note(out, "(stopped; this turn is left out of the conversation)")
        return None


def _note(out: TextIO, line: str) -> None:
    out.write(f"{line}\n")
    out.flush()


def _complain(out: TextIO, line: str) -> None:
    _note(out, f"mlxfn: {line}")


def _enable_line_editing() -> None:
    # Arrow keys and history for input() on a terminal; absent on some platforms.
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401


def chat_in_terminal(
    engine: Engine,
    settings: ChatSettings,
    read_line: Callable[[str], str] = input,
    out: TextIO | None = None,
) -> int:
    """Chat until /quit or end of input; the exit status (0)."""
    stdout = sys.stdout if out is None else out
    if read_line is input and sys.stdin.isatty():
        _enable_line_editing()
    loaded = engine.loaded
    stdout.write(
        f"mlxfn chat with '{loaded.name}' (context {loaded.context_length} tokens)\n{HELP}\n"
    )
    stdout.flush()
    history: tuple[Message, ...] = ()
    while True:
        try:
            line = read_line(PROMPT)
        except EOFError:
            stdout.write("\n")
            return 0
        except KeyboardInterrupt:
            stdout.write("\n")
            _note(stdout, "(/quit or Ctrl-D leaves)")
            continue
        match parse_command(line):
            case Say(text=text):
                body = build_chat_body(loaded.name, settings, history, text)
                reply = stream_reply(engine, body, stdout)
                if reply is not None:
                    history = (
                        *history,
                        {"role": "user", "content": text},
                        {"role": "assistant", "content": reply},
                    )
            case Reset():
                history = ()
                _note(stdout, "(a new conversation)")
            case ShowHelp():
                _note(stdout, HELP)
            case Quit():
                return 0
            case Blank():
                pass
            case UnknownCommand(name=name):
                _complain(stdout, f"unknown command {name}; {HELP}")

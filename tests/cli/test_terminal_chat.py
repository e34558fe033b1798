"""``python -m mlxfn chat``: commands, the turn loop, streaming and Ctrl-C, and a real terminal."""

from __future__ import annotations

import io
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlxfn.cli import terminal_chat
from mlxfn.cli.terminal_chat import (
    Blank,
    ChatSettings,
    Quit,
    Reset,
    Say,
    ShowHelp,
    UnknownCommand,
    build_chat_body,
    chat_in_terminal,
    describe_failure,
    parse_command,
    stream_reply,
)
from mlxfn.domain.errors import ContextLengthExceeded, EngineFailed, ModelNotFound
from mlxfn.engine.thread import Engine

# -- pure parts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("hello", Say("hello")),
        ("  two words \n", Say("two words")),
        ("", Blank()),
        ("   ", Blank()),
        ("/reset", Reset()),
        ("/RESET", Reset()),
        ("/clear", Reset()),
        ("/help", ShowHelp()),
        ("/quit", Quit()),
        ("/exit", Quit()),
        ("/bye", Quit()),
        ("/models list", UnknownCommand("/models")),
    ],
)
def test_parse_command(line: str, command: object) -> None:
    assert parse_command(line) == command


def test_the_body_carries_system_history_and_settings() -> None:
    history = ({"role": "user", "content": "a"}, {"role": "assistant", "content": "b"})
    body = build_chat_body(
        "tiny", ChatSettings(system="Be brief.", max_tokens=7, temperature=0.5), history, "c"
    )
    assert body == {
        "model": "tiny",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"},
        ],
        "max_tokens": 7,
        "temperature": 0.5,
    }
    assert build_chat_body("tiny", ChatSettings(), (), "c") == {
        "model": "tiny",
        "messages": [{"role": "user", "content": "c"}],
    }


def test_failures_are_one_line_with_a_way_on() -> None:
    assert describe_failure(ContextLengthExceeded(500, 64, 512)) == (
        "the conversation (500 tokens) and a reply of up to 64 tokens do not fit the "
        "model's context of 512 tokens; /reset starts over"
    )
    assert describe_failure(EngineFailed("boom\nat line 3")) == "generation failed: boom at line 3"
    assert "\n" not in describe_failure(ModelNotFound("x"))


# -- the loop, with the turn replaced -----------------------------------------------------------


def scripted(lines: list[str]) -> Callable[[str], str]:
    feed = iter(lines)

    def read_line(prompt: str) -> str:
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    return read_line


def test_the_loop_keeps_history_until_reset(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies: list[dict[str, Any]] = []
    replies = iter(["first reply", None, "third reply", "fourth reply"])

    def fake_reply(engine: Engine, body: dict[str, Any], out: io.StringIO) -> str | None:
        bodies.append(body)
        return next(replies)

    monkeypatch.setattr(terminal_chat, "stream_reply", fake_reply)
    out = io.StringIO()
    lines = ["one", "two (fails)", "three", "/reset", "four", "/what", "/help", "/quit", "never"]
    assert chat_in_terminal(engine, ChatSettings(), scripted(lines), out) == 0

    def said(body: dict[str, Any]) -> list[str]:
        return [m["content"] for m in body["messages"]]

    assert [said(b) for b in bodies] == [
        ["one"],
        ["one", "first reply", "two (fails)"],
        ["one", "first reply", "three"],  # a failed turn is left out
        ["four"],  # after /reset
    ]
    text = out.getvalue()
    assert text.startswith("mlxfn chat with 'tiny' (context 512 tokens)\n")
    assert "(a new conversation)" in text
    assert "mlxfn: unknown command /what; /reset starts over" in text


def test_ctrl_c_at_the_prompt_does_not_leave(engine: Engine) -> None:
    calls = iter([KeyboardInterrupt(), "/quit"])

    def read_line(prompt: str) -> str:
        item = next(calls)
        if isinstance(item, BaseException):
            raise item
        return item

    out = io.StringIO()
    assert chat_in_terminal(engine, ChatSettings(), read_line, out) == 0
    assert "(/quit or Ctrl-D leaves)" in out.getvalue()


# -- one turn on the real engine ----------------------------------------------------------------


def test_a_reply_streams_delta_by_delta(engine: Engine) -> None:
    writes: list[str] = []

    class Recorder(io.StringIO):
        def write(self, text: str) -> int:
            writes.append(text)
            return super().write(text)

    body = build_chat_body("tiny", ChatSettings(max_tokens=8, temperature=0.0), (), "Hello")
    reply = stream_reply(engine, body, Recorder())
    assert reply is not None
    assert len(writes) > 2  # several deltas, a newline, the limit note
    assert "".join(writes).startswith(reply)
    assert "(the reply reached its token limit)" in writes[-1]


def test_a_failed_turn_is_one_line(engine: Engine) -> None:
    out = io.StringIO()
    body = build_chat_body("tiny", ChatSettings(max_tokens=512), (), "Hello")
    assert stream_reply(engine, body, out) is None
    [line] = out.getvalue().splitlines()
    assert line.startswith("mlxfn: the conversation (")
    assert line.endswith("context of 512 tokens; /reset starts over")


def test_ctrl_c_stops_the_reply_not_the_chat(engine: Engine) -> None:
    class InterruptedOnce(io.StringIO):
        interrupted = False

        def write(self, text: str) -> int:
            if text.strip() and not self.interrupted:
                self.interrupted = True
                raise KeyboardInterrupt
            return super().write(text)

    out = InterruptedOnce()
    body = build_chat_body("tiny", ChatSettings(max_tokens=64, temperature=0.0), (), "Hello")
    assert stream_reply(engine, body, out) is None
    assert "(stopped; this turn is left out of the conversation)" in out.getvalue()
    deadline = time.monotonic() + 10
    while engine.pending and time.monotonic() < deadline:  # the slot is given back
        time.sleep(0.05)
    assert engine.pending == 0
    assert stream_reply(engine, body, io.StringIO()) is not None  # and the engine goes on


# -- in a real terminal -------------------------------------------------------------------------

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")
PTY_TIMEOUT_S = 60.0

# Runs the chat with the pseudo-terminal as its controlling terminal, so Ctrl-C is a signal.
_WITH_TERMINAL = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.executable, [sys.executable, '-m', 'mlxfn', *sys.argv[1:]])"
)


class Terminal:
    """A child process on a pseudo-terminal, and what it has written so far."""

    def __init__(self, args: list[str]) -> None:
        self.master, slave = os.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WITH_TERMINAL, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "TERM": "dumb", "PYTHONFAULTHANDLER": "1"},
        )
        os.close(slave)
        self.seen = ""

    def expect(self, pattern: str, timeout: float = PTY_TIMEOUT_S) -> str:
        """Everything written up to and including ``pattern`` (a regex), consumed."""
        found = self._wait_for(pattern, timeout)
        if found is None:
            raise AssertionError(f"no {pattern!r} in {self.seen!r}; {self._stacks()}")
        return found

    def interrupt(self, pattern: str) -> str:
        """Press Ctrl-C until ``pattern`` shows. A SIGINT that lands just before readline
        waits for a key is only noticed at the next key, so one press can go unanswered."""
        deadline = time.monotonic() + PTY_TIMEOUT_S
        while time.monotonic() < deadline:
            self.send("\x03")
            found = self._wait_for(pattern, 1.0)
            if found is not None:
                return found
        raise AssertionError(f"Ctrl-C never gave {pattern!r}: {self.seen!r}; {self._stacks()}")

    def _wait_for(self, pattern: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while (match := re.search(pattern, self.seen)) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not self._read(left):
                raise AssertionError(f"the chat ended before {pattern!r}: {self.seen!r}")
        before, self.seen = self.seen[: match.end()], self.seen[match.end() :]
        return before

    def _read(self, timeout: float) -> bool:
        """Add what the child wrote within ``timeout``; False once the terminal is closed."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # the child closed the terminal
            return False
        self.seen += _ESCAPES.sub("", chunk.decode(errors="replace"))
        return bool(chunk)

    def _stacks(self) -> str:
        # A stuck child prints every thread's Python stack on SIGABRT (PYTHONFAULTHANDLER).
        self.seen = ""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGABRT)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self._read(0.5):
                pass
        return f"the child's stacks: {self.seen!r}"

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> int:
        try:
            return self.process.wait(timeout=PTY_TIMEOUT_S)
        finally:
            os.close(self.master)


@pytest.fixture
def terminal(tiny_model_dir: Path) -> Iterator[Terminal]:
    term = Terminal(
        ["chat", "--model", str(tiny_model_dir), "--max-tokens", "8", "--temperature", "0"]
    )
    yield term
    if term.process.poll() is None:
        term.process.kill()
        term.close()


def test_chat_in_a_terminal(terminal: Terminal) -> None:
    banner = terminal.expect(">>> ")
    assert "mlxfn chat with 'tiny' (context 512 tokens)" in banner
    assert "/reset starts over" in banner
    assert "Traceback" not in banner

    terminal.send("Hello there\n")
    turn = terminal.expect(r"\(the reply reached its token limit\)\n")
    reply = turn.split("Hello there\n", 1)[1].removesuffix("(the reply reached its token limit)\n")
    assert reply.strip(), turn  # the reply was written out before the note
    terminal.expect(">>> ")

    terminal.send("/reset\n")
    assert "(a new conversation)" in terminal.expect(">>> ")

    terminal.interrupt(r"\(/quit or Ctrl-D leaves\)\n")  # Ctrl-C at the prompt: a hint, no exit
    terminal.expect(">>> ")

    terminal.send("\x04")  # Ctrl-D on an empty line: end of input
    assert terminal.close() == 0

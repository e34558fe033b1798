"""What each flag's value may be: argparse ``type=`` functions that turn a word into a number,
a size, a set of host names or a file's keys, or say in one line why they cannot."""

from __future__ import annotations

import argparse
import math
from pathlib import Path


def integer(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def field_name(text: str) -> str:
    if not text.isidentifier() or text in {"role", "content", "refusal", "tool_calls"}:
        raise argparse.ArgumentTypeError(f"{text!r} is not a free field name")
    return text


def positive(text: str) -> int:
    value = integer(text, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def non_negative(text: str) -> int:
    value = integer(text, "zero or more")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be zero or more, got {value}")
    return value


def finite(text: str) -> float:
    """The number ``text`` writes, or NaN, which fails every range check below."""
    try:
        value = float(text)
    except ValueError:
        return math.nan
    return value if math.isfinite(value) else math.nan


def seconds(text: str) -> float:
    value = finite(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {text!r}")
    return value


_BYTE_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def byte_size(text: str) -> int:
    """A size in bytes, with an optional binary unit: ``8G``, ``512M``, ``1048576``."""
    number, unit = text.strip().lower().removesuffix("ib").removesuffix("b"), ""
    if number and number[-1] in _BYTE_UNITS:
        number, unit = number[:-1], number[-1]
    value = finite(number) * _BYTE_UNITS[unit]
    if not value >= 1:
        raise argparse.ArgumentTypeError(f"must be a size such as 8G or 512M, got {text!r}")
    return int(value)


def key_file(text: str) -> tuple[str, ...]:
    """The keys in a file, one per line; blank lines and ``#`` comments are skipped."""
    try:
        lines = Path(text).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise argparse.ArgumentTypeError(f"cannot read {text}: {reason}") from None
    keys = tuple(
        line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")
    )
    if not keys:
        raise argparse.ArgumentTypeError(f"{text} holds no key")
    return keys


def host_names(text: str) -> frozenset[str]:
    """Comma-separated host names or addresses, or ``*``: not URLs, which is the easy slip."""
    names = frozenset(name.strip() for name in text.split(",") if name.strip())
    for name in names:
        if "/" in name or any(c.isspace() for c in name):
            raise argparse.ArgumentTypeError(
                f"takes host names such as llm.lan or 192.168.1.5, not {name!r}"
            )
    return names


def port(text: str) -> int:
    value = integer(text, "a port number from 0 to 65535")
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got {value}")
    return value


def temperature(text: str) -> float:
    value = finite(text)
    if not 0.0 <= value <= 2.0:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 2, got {text!r}")
    return value


# -- parsers ----------------------------------------------------------------------------------

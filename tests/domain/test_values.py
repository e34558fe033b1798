"""Refined scalars: each accepts its boundaries, rejects just outside, and parses to a Result."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from returns.result import Failure, Success

from mlxfn.domain.errors import InvalidRequest
from mlxfn.domain.values import (
    INT64_MAX,
    MaxTokens,
    MinP,
    ModelName,
    Seed,
    Stop,
    Temperature,
    TopK,
    TopP,
)

# (class, parse, the param its errors name, values just inside, values just outside)
Refined = tuple[type[Any], Callable[[Any], Any], str, list[Any], list[Any]]

CASES: list[Refined] = [
    (
        Temperature,
        Temperature.parse,
        "temperature",
        [0.0, 1e-9, 1.0, 2.0],
        [-0.01, 2.01, -1e-9, 2.0000001, math.nan, math.inf, -math.inf],
    ),
    (TopP, TopP.parse, "top_p", [1e-9, 0.5, 1.0], [0.0, -0.1, 1.01, math.nan, math.inf]),
    (TopK, TopK.parse, "top_k", [1, 40, INT64_MAX], [0, -1, INT64_MAX + 1]),
    (MinP, MinP.parse, "min_p", [0.0, 0.05, 1.0], [-0.01, 1.01, math.nan, -math.inf]),
    (MaxTokens, MaxTokens.parse, "max_tokens", [1, 4096, INT64_MAX], [0, -1, INT64_MAX + 1]),
    (
        Seed,
        Seed.parse,
        "seed",
        [-(2**63), 0, INT64_MAX - 1],
        [-(2**63) - 1, INT64_MAX + 1],
    ),
    (
        Stop,
        Stop.parse,
        "stop",
        [("a",), ("\n",), (" ",), ("a", "b", "c", "d"), ("END", "END")],
        [(), ("a", "b", "c", "d", "e"), ("",), ("a", "")],
    ),
    (ModelName, ModelName.parse, "model", ["m", " m ", "org/model-4bit"], ["", " ", "\t\n"]),
]

VALID = [
    pytest.param(cls, parse, raw, id=f"{cls.__name__}-{raw!r}")
    for cls, parse, _, ok, _ in CASES
    for raw in ok
]
INVALID = [
    pytest.param(cls, parse, param, raw, id=f"{cls.__name__}-{raw!r}")
    for cls, parse, param, _, bad in CASES
    for raw in bad
]


@pytest.mark.parametrize(("cls", "parse", "raw"), VALID)
def test_accepts_boundary(cls: type[Any], parse: Callable[[Any], Any], raw: Any) -> None:
    assert parse(raw) == Success(cls(raw))


@pytest.mark.parametrize(("cls", "parse", "param", "raw"), INVALID)
def test_rejects_just_outside(
    cls: type[Any], parse: Callable[[Any], Any], param: str, raw: Any
) -> None:
    with pytest.raises(ValueError, match="must"):
        cls(raw)
    match parse(raw):
        case Failure(InvalidRequest(message=message, param=named, code=None)):
            assert named == param
            assert message.startswith(param)
        case other:
            pytest.fail(f"expected Failure(InvalidRequest), got {other!r}")


@pytest.mark.parametrize("raw", [0.0, -0.0])
def test_temperature_zero_stays_zero_and_is_greedy(raw: float) -> None:
    temperature = Temperature.parse(raw).unwrap()
    assert temperature.value == 0.0
    assert temperature.is_greedy


@pytest.mark.parametrize("raw", [1e-9, 1.0, 2.0])
def test_positive_temperature_is_not_greedy(raw: float) -> None:
    assert not Temperature(raw).is_greedy


def test_seed_accepts_int64_max() -> None:
    assert Seed.parse(INT64_MAX) == Success(Seed(INT64_MAX))


def test_max_tokens_error_can_name_max_completion_tokens() -> None:
    assert MaxTokens.parse(0, "max_completion_tokens") == Failure(
        InvalidRequest(
            "max_completion_tokens must be an integer >= 1, got 0", param="max_completion_tokens"
        )
    )


def test_stop_keeps_order_and_duplicates() -> None:
    assert Stop.parse(("b", "a", "b")).unwrap().sequences == ("b", "a", "b")


def test_error_message_names_the_value() -> None:
    assert Temperature.parse(2.5) == Failure(
        InvalidRequest("temperature must be a number in [0, 2], got 2.5", param="temperature")
    )
    assert TopP.parse(0.0) == Failure(
        InvalidRequest("top_p must be a number in (0, 1], got 0.0", param="top_p")
    )


def test_values_are_frozen() -> None:
    temperature = Temperature(1.0)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        temperature.value = 5.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="must"):
        attrs.evolve(temperature, value=5.0)

"""Refined scalar values: valid however they are built; each parses raw input into a Result."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest

_V = TypeVar("_V")
_T = TypeVar("_T")

INT64_MAX = 2**63 - 1


def refine(build: Callable[[_V], _T], raw: _V, param: str) -> Result[_T, ApiError]:
    """Build a refined value, turning its validator's ValueError into an InvalidRequest."""
    try:
        return Success(build(raw))
    except ValueError as exc:  # the one place a validator's exception becomes a value
        return Failure(InvalidRequest(f"{param} {exc}", param=param))


def _plain(number: float) -> float | int:
    return int(number) if float(number).is_integer() else number


@attrs.frozen
class _FiniteIn:
    """A finite number in [low, high] ((low, high] when ``low_open``); ``schema`` states the
    same bound as JSON Schema, for ``/openapi.json``."""

    low: float
    high: float
    low_open: bool = False

    def __call__(self, _: object, attribute: attrs.Attribute[Any], value: float) -> None:
        above = value > self.low if self.low_open else value >= self.low
        if not (math.isfinite(value) and above and value <= self.high):
            bracket = "(" if self.low_open else "["
            raise ValueError(
                f"must be a number in {bracket}{self.low:g}, {self.high:g}], got {value!r}"
            )

    @property
    def schema(self) -> dict[str, object]:
        low = "exclusiveMinimum" if self.low_open else "minimum"
        return {low: _plain(self.low), "maximum": _plain(self.high)}


@attrs.frozen
class _IntIn:
    """An integer in [low, high] (high None: up to the largest int64); ``schema`` as above."""

    low: int
    high: int | None = None

    def __call__(self, _: object, attribute: attrs.Attribute[Any], value: int) -> None:
        if not self.low <= value <= (INT64_MAX if self.high is None else self.high):
            bound = f">= {self.low}" if self.high is None else f"in [{self.low}, {self.high}]"
            raise ValueError(f"must be an integer {bound}, got {value!r}")

    @property
    def schema(self) -> dict[str, object]:
        return {"minimum": self.low, "maximum": INT64_MAX if self.high is None else self.high}


def bounds(cls: type[Any]) -> dict[str, object]:
    """The JSON Schema of what a refined value's validator checks beyond its type, so that
    ``/openapi.json`` states each bound where the parser enforces it.

    >>> bounds(Temperature)
    {'minimum': 0, 'maximum': 2}
    """
    (field,) = attrs.fields(cls)
    schema: dict[str, object] | None = getattr(field.validator, "schema", None)
    return dict(schema or {})


@attrs.frozen
class Temperature:
    """Sampling temperature in [0, 2]; 0 means greedy decoding.

    >>> Temperature(0.0).is_greedy
    True
    """

    value: float = attrs.field(validator=_FiniteIn(0.0, 2.0))

    @property
    def is_greedy(self) -> bool:
        return self.value == 0.0

    @classmethod
    def parse(cls, raw: float) -> Result[Temperature, ApiError]:
        return refine(cls, raw, "temperature")


@attrs.frozen
class TopP:
    """Nucleus sampling mass in (0, 1]; 1 keeps every token."""

    value: float = attrs.field(validator=_FiniteIn(0.0, 1.0, low_open=True))

    @classmethod
    def parse(cls, raw: float) -> Result[TopP, ApiError]:
        return refine(cls, raw, "top_p")


@attrs.frozen
class TopK:
    """Keep only the k most likely tokens (an extension OpenAI does not define)."""

    value: int = attrs.field(validator=_IntIn(1))

    @classmethod
    def parse(cls, raw: int) -> Result[TopK, ApiError]:
        return refine(cls, raw, "top_k")


@attrs.frozen
class MinP:
    """Drop tokens below min_p times the top token's probability (an extension)."""

    value: float = attrs.field(validator=_FiniteIn(0.0, 1.0))

    @classmethod
    def parse(cls, raw: float) -> Result[MinP, ApiError]:
        return refine(cls, raw, "min_p")


@attrs.frozen
class MaxTokens:
    value: int = attrs.field(validator=_IntIn(1))

    @classmethod
    def parse(cls, raw: int, param: str = "max_tokens") -> Result[MaxTokens, ApiError]:
        return refine(cls, raw, param)


# OpenAI's own bound on n; a server may allow fewer (Limits.max_choices).
MAX_CHOICES = 128


@attrs.frozen
class ChoiceCount:
    """How many choices to generate for one prompt (``n``), 1 to 128 as OpenAI allows."""

    value: int = attrs.field(validator=_IntIn(1, MAX_CHOICES))

    @classmethod
    def parse(cls, raw: int) -> Result[ChoiceCount, ApiError]:
        return refine(cls, raw, "n")


@attrs.frozen
class Seed:
    value: int = attrs.field(validator=_IntIn(-(2**63), INT64_MAX))

    @classmethod
    def parse(cls, raw: int) -> Result[Seed, ApiError]:
        return refine(cls, raw, "seed")


MAX_STOP_SEQUENCES = 4


@attrs.frozen
class _StopSequences:
    def __call__(self, _: object, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
        if not 1 <= len(value) <= MAX_STOP_SEQUENCES:
            raise ValueError(f"must hold 1 to {MAX_STOP_SEQUENCES} strings, got {len(value)}")
        if any(s == "" for s in value):
            raise ValueError("must not contain empty strings")

    @property
    def schema(self) -> dict[str, object]:
        items = {"type": "string", "minLength": 1}
        return {"items": items, "minItems": 1, "maxItems": MAX_STOP_SEQUENCES}


@attrs.frozen
class Stop:
    """One to four non-empty stop strings; generation ends before the first one appears."""

    sequences: tuple[str, ...] = attrs.field(validator=_StopSequences())

    @classmethod
    def parse(cls, raw: tuple[str, ...]) -> Result[Stop, ApiError]:
        return refine(cls, raw, "stop")


@attrs.frozen
class _NonBlank:
    def __call__(self, _: object, attribute: attrs.Attribute[Any], value: str) -> None:
        if not value.strip():
            raise ValueError("must be a non-empty string")

    @property
    def schema(self) -> dict[str, object]:
        return {"minLength": 1, "pattern": r"\S"}


@attrs.frozen
class ModelName:
    value: str = attrs.field(validator=_NonBlank())

    @classmethod
    def parse(cls, raw: str) -> Result[ModelName, ApiError]:
        return refine(cls, raw, "model")


@attrs.frozen
class Penalty:
    """OpenAI's presence or frequency penalty, in [-2, 2]; positive values discourage repeats."""

    value: float = attrs.field(validator=_FiniteIn(-2.0, 2.0))

    @classmethod
    def parse(cls, raw: float, param: str) -> Result[Penalty, ApiError]:
        return refine(cls, raw, param)


@attrs.frozen
class _PositiveFinite:
    def __call__(self, _: object, attribute: attrs.Attribute[Any], value: float) -> None:
        if not (math.isfinite(value) and value > 0.0):
            raise ValueError(f"must be a finite number > 0, got {value!r}")

    @property
    def schema(self) -> dict[str, object]:
        return {"exclusiveMinimum": 0}


@attrs.frozen
class RepetitionPenalty:
    """mlx-lm's multiplicative repetition penalty (an extension); 1 changes nothing."""

    value: float = attrs.field(validator=_PositiveFinite())

    @classmethod
    def parse(cls, raw: float) -> Result[RepetitionPenalty, ApiError]:
        return refine(cls, raw, "repetition_penalty")


LOGIT_BIAS_LIMIT = 100.0
TOKEN_ID_DIGITS = len(str(INT64_MAX))  # the longest key a token id can have


def _bias_entries(
    _: object, attribute: attrs.Attribute[Any], value: tuple[tuple[int, float], ...]
) -> None:
    ids = [token for token, _ in value]
    if len(set(ids)) != len(ids):
        raise ValueError("must not name a token id twice")
    if ids != sorted(ids):  # one order, so that equal biases are equal values
        raise ValueError("entries must be sorted by token id")
    for token, bias in value:
        if token < 0:
            raise ValueError(f"keys must be token ids >= 0, got {token}")
        if not (math.isfinite(bias) and -LOGIT_BIAS_LIMIT <= bias <= LOGIT_BIAS_LIMIT):
            limit = f"[{-LOGIT_BIAS_LIMIT:g}, {LOGIT_BIAS_LIMIT:g}]"
            raise ValueError(f"values must be numbers in {limit}, got {bias!r} for {token}")


@attrs.frozen
class LogitBias:
    """Additive biases on token logits, by token id (whether an id is inside the vocabulary is
    checked when the request is planned, where the vocabulary is known).

    >>> LogitBias.parse({"7": 5, "3": -100}).unwrap().entries
    ((3, -100.0), (7, 5.0))
    >>> LogitBias.parse({"x": 1}).failure().param
    'logit_bias'
    """

    entries: tuple[tuple[int, float], ...] = attrs.field(validator=_bias_entries)

    @classmethod
    def parse(cls, raw: dict[str, float]) -> Result[LogitBias, ApiError]:
        entries: list[tuple[int, float]] = []
        for key, bias in raw.items():
            # OpenAI's keys are token ids as JSON strings; "+3" or " 3" are not ids
            if not (key.isascii() and key.isdigit()) or len(key) > TOKEN_ID_DIGITS:
                return Failure(
                    InvalidRequest(
                        f"logit_bias keys must be token ids (integer strings), got {key!r}",
                        param="logit_bias",
                    )
                )
            entries.append((int(key), float(bias)))
        return refine(cls, tuple(sorted(entries)), "logit_bias")


TOP_LOGPROBS_LIMIT = 20


@attrs.frozen
class TopLogprobs:
    """How many of the most likely tokens to report at each position, with logprobs on."""

    value: int = attrs.field(validator=_IntIn(0, TOP_LOGPROBS_LIMIT))

    @classmethod
    def parse(cls, raw: int) -> Result[TopLogprobs, ApiError]:
        return refine(cls, raw, "top_logprobs")

"""Bytes ↔ JSON: strict orjson, and the object check."""

from __future__ import annotations

import pytest
from returns.result import Failure, Success

from mlxfn.domain.errors import InvalidRequest
from mlxfn.wire.codec import decode_json, encode_json, require_object


def test_decode_valid_json() -> None:
    assert decode_json(b'{"a": [1, 2.5, "x", null, true]}') == Success(
        {"a": [1, 2.5, "x", None, True]}
    )


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"NaN", b"Infinity", b"1e400", b'{"a": 1e400}', b"\xff", b'"\\ud800"', b"{} {}"],
)
def test_decode_rejects_what_strict_json_rejects(raw: bytes) -> None:
    match decode_json(raw):
        case Failure(InvalidRequest(message=message, param=None)):
            assert message.startswith("body is not valid JSON: ")
        case other:
            pytest.fail(f"expected a JSON error, got {other!r}")


@pytest.mark.parametrize("value", [[], "s", 1, 1.5, None, True])
def test_require_object_rejects_non_objects(value: object) -> None:
    assert require_object(value) == Failure(InvalidRequest("body must be a JSON object"))


def test_require_object_passes_objects_through() -> None:
    assert require_object({"a": 1}) == Success({"a": 1})


def test_encode_json_round_trips() -> None:
    value = {"s": "é\n", "n": [1, -0.5], "z": None}
    assert decode_json(encode_json(value)) == Success(value)

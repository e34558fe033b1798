"""``POST /v1/embeddings`` on the wire: OpenAI's CreateEmbeddingRequest → an EmbeddingsRequest,
and Embeddings → CreateEmbeddingResponse (vectors as floats, or base64 of little-endian
float32, as OpenAI's SDKs ask for by default)."""

from __future__ import annotations

import base64
import struct
from typing import Any

import attrs
from returns.result import Failure, Result, Success

from mlxfn.domain.embeddings import (
    Embeddings,
    EmbeddingsRequest,
    EncodingFormat,
    as_input_error,
)
from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.request import PromptInput
from mlxfn.domain.values import ModelName
from mlxfn.wire.bodies import PromptItemBody
from mlxfn.wire.completion_requests import refine_prompt
from mlxfn.wire.request_parsing import parse_body

JSON = dict[str, Any]
_FORMATS: tuple[EncodingFormat, ...] = ("float", "base64")
MAX_INPUTS = 2048  # OpenAI's bound on one request's inputs


@attrs.frozen
class EmbeddingsBody:
    """CreateEmbeddingRequest: every field OpenAI defines."""

    model: str
    input: str | tuple[PromptItemBody, ...]
    encoding_format: str | None = None
    dimensions: int | None = None
    user: str | None = None


def parse_embeddings_request(body: bytes) -> Result[EmbeddingsRequest, ApiError]:
    """
    >>> parse_embeddings_request(b'{"model": "m", "input": ["a", "b"]}').unwrap().inputs
    ('a', 'b')
    >>> parse_embeddings_request(b'{"model": "m", "input": []}').failure().param
    'input'
    """
    return parse_body(body, EmbeddingsBody, refine_embeddings_body)


def refine_embeddings_body(body: EmbeddingsBody) -> Result[EmbeddingsRequest, ApiError]:
    fmt = body.encoding_format or "float"
    if fmt not in _FORMATS:
        why = f"encoding_format must be 'float' or 'base64', got {fmt!r}"
        return Failure(InvalidRequest(why, param="encoding_format"))
    encoding: EncodingFormat = "base64" if fmt == "base64" else "float"
    if body.dimensions is not None and body.dimensions < 1:
        why = f"dimensions must be a positive integer, got {body.dimensions}"
        return Failure(InvalidRequest(why, param="dimensions"))
    # The same four shapes as a completion's prompt; its errors name "prompt", here "input".
    inputs = refine_prompt(body.input).alt(as_input_error).bind(_at_most_max_inputs)
    return Result.do(
        EmbeddingsRequest(
            model=model, inputs=given, encoding_format=encoding, dimensions=body.dimensions
        )
        for model in ModelName.parse(body.model)
        for given in inputs
    )


def _at_most_max_inputs(
    inputs: tuple[PromptInput, ...],
) -> Result[tuple[PromptInput, ...], ApiError]:
    if len(inputs) > MAX_INPUTS:
        why = f"input holds {len(inputs)} inputs; at most {MAX_INPUTS} per request"
        return Failure(InvalidRequest(why, param="input"))
    return Success(inputs)


def render_embeddings(embeddings: Embeddings, request: EmbeddingsRequest, model: str) -> JSON:
    """
    >>> found = Embeddings(vectors=((1.0, 0.0),), prompt_tokens=3)
    >>> asked = EmbeddingsRequest(model=ModelName("m"), inputs=("hi",), encoding_format="base64")
    >>> render_embeddings(found, asked, "m")["data"][0]["embedding"]
    'AACAPwAAAAA='
    """
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": _encode(vector, request)}
            for index, vector in enumerate(embeddings.vectors)
        ],
        "model": model,
        "usage": {
            "prompt_tokens": embeddings.prompt_tokens,
            "total_tokens": embeddings.prompt_tokens,
        },
    }


def _encode(vector: tuple[float, ...], request: EmbeddingsRequest) -> list[float] | str:
    if request.encoding_format == "float":
        return list(vector)
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def check_dimensions(request: EmbeddingsRequest, width: int) -> Result[None, ApiError]:
    """Vectors are the model's own width: a request for another is refused, not truncated
    (cutting a vector short keeps its meaning only for models trained for it)."""
    if request.dimensions is None or request.dimensions == width:
        return Success(None)
    why = f"this model's embeddings have {width} dimensions; dimensions={request.dimensions}"
    return Failure(InvalidRequest(why + " cannot be given", param="dimensions"))

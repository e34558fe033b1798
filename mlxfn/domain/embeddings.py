"""Embeddings: what a request asks for, and the vectors it gets back."""

from __future__ import annotations

from typing import Literal

import attrs

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.request import PromptInput
from mlxfn.domain.values import ModelName

EncodingFormat = Literal["float", "base64"]


@attrs.frozen(kw_only=True)
class EmbeddingsRequest:
    """One vector per input (text, or token ids as given); ``dimensions`` must be the model's."""

    model: ModelName
    inputs: tuple[PromptInput, ...]
    encoding_format: EncodingFormat = "float"
    dimensions: int | None = None


@attrs.frozen
class Embeddings:
    """The vectors in input order (each unit length), and the tokens they were pooled from."""

    vectors: tuple[tuple[float, ...], ...]
    prompt_tokens: int


def as_input_error(err: ApiError) -> ApiError:
    """An error about a prompt (the shapes and tokens embeddings share with completions), as
    one about ``input``, the field that holds them here.

    >>> as_input_error(InvalidRequest("prompt must not be an empty array", param="prompt"))
    InvalidRequest(message='input must not be an empty array', param='input', code=None)
    """
    match err:
        case InvalidRequest(message=message):
            return InvalidRequest(message.replace("prompt", "input", 1), param="input")
        case _:
            return err

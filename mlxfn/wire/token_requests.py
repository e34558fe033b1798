"""``/v1/tokenize``, ``/tokenize`` and ``/detokenize`` bodies → their domain requests.

``/tokenize`` and ``/detokenize`` are vLLM's shapes (``prompt``, ``add_special_tokens``,
``tokens``), which its clients and llama.cpp's users script against; ``/v1/tokenize`` keeps
this server's older ``text`` name for the same thing.
"""

from __future__ import annotations

from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.request import DetokenizeRequest, TokenizeRequest
from mlxfn.domain.values import ModelName
from mlxfn.wire.bodies import DetokenizeBody, TokenizeBody
from mlxfn.wire.chat_messages import refine_messages
from mlxfn.wire.request_parsing import optional_field, parse_body


def parse_tokenize_request(body: bytes) -> Result[TokenizeRequest, ApiError]:
    """
    >>> parsed = parse_tokenize_request(b'{"prompt": "hi", "add_special_tokens": true}')
    >>> parsed.unwrap().text, parsed.unwrap().add_special_tokens
    ('hi', True)
    """
    return parse_body(body, TokenizeBody, refine_tokenize_body)


def parse_detokenize_request(body: bytes) -> Result[DetokenizeRequest, ApiError]:
    """
    >>> parse_detokenize_request(b'{"tokens": [1, 2]}').unwrap()
    DetokenizeRequest(model=None, tokens=(1, 2))
    >>> parse_detokenize_request(b'{"tokens": [1, -2]}').failure().param
    'tokens[1]'
    """
    return parse_body(body, DetokenizeBody, refine_detokenize_body)


def refine_tokenize_body(body: TokenizeBody) -> Result[TokenizeRequest, ApiError]:
    model = optional_field(body.model, ModelName.parse)
    if body.text is not None and body.prompt is not None:
        return Failure(InvalidRequest("send 'text' or 'prompt', not both", param="prompt"))
    text = body.text if body.text is not None else body.prompt
    strs = bool(body.return_token_strs)
    if body.messages is not None and text is None:
        if body.add_special_tokens:
            # The template writes the model's special tokens itself; more would double them.
            why = "add_special_tokens must be false with messages: the chat template adds them"
            return Failure(InvalidRequest(why, param="add_special_tokens"))
        opened = body.add_generation_prompt is not False
        return Result.do(
            TokenizeRequest(model=m, text=c, add_generation_prompt=opened, token_strs=strs)
            for m in model
            for c in refine_messages(body.messages)
        )
    if text is not None and body.messages is None:
        # vLLM's default for a prompt: its special tokens, as a completion's prompt gets them.
        special = body.add_special_tokens
        if special is None:
            special = body.prompt is not None
        return model.map(
            lambda m: TokenizeRequest(
                model=m, text=text, add_special_tokens=special, token_strs=strs
            )
        )
    return Failure(InvalidRequest("send exactly one of 'text' or 'messages'", param="text"))


def refine_detokenize_body(body: DetokenizeBody) -> Result[DetokenizeRequest, ApiError]:
    negative = next((i for i, token in enumerate(body.tokens) if token < 0), None)
    if negative is not None:
        why = f"token ids are >= 0, got {body.tokens[negative]}"
        return Failure(InvalidRequest(why, param=f"tokens[{negative}]"))
    tokens = body.tokens
    return optional_field(body.model, ModelName.parse).bind(
        lambda m: Success(DetokenizeRequest(model=m, tokens=tokens))
    )

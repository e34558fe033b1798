"""Text completions → OpenAI JSON: the legacy ``text_completion`` object, whole or as stream
chunks (the same shape, unlike chat), and its legacy logprobs."""

from __future__ import annotations

import codecs

import attrs

from mlxfn.domain.events import FinishReason, ResponseMeta, TextChoice, TokenLogprob, Usage
from mlxfn.wire.responses import JSON, render_usage


@attrs.frozen
class TextOffset:
    """Where the next token starts in a choice's text, in characters, and the bytes of a
    character that the tokens so far have only begun (a token can hold part of one)."""

    chars: int
    pending: bytes = b""

    def after(self, scored: TokenLogprob) -> TextOffset:
        """The offset once this token's bytes are added.

        >>> TextOffset(0).after(TokenLogprob("\\ufffd", -1.0, (0xC3,)))
        TextOffset(chars=0, pending=b'\\xc3')
        >>> TextOffset(0, b"\\xc3").after(TokenLogprob("\\ufffd", -1.0, (0xA9, 0x21))).chars
        2
        """
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        decoder.setstate((self.pending, 0))
        text = decoder.decode(bytes(scored.bytes))
        pending, _ = decoder.getstate()
        return TextOffset(self.chars + len(text), pending)


def render_token_alternatives(scored: TokenLogprob) -> dict[str, float]:
    """One position's ``top_logprobs``: the alternatives by token text, most likely first, and
    the chosen token (OpenAI always includes it, so up to ``logprobs + 1`` entries). Tokens
    with the same text (parts of characters) keep the likelier one's logprob.

    >>> a, b = TokenLogprob("a", -0.1, (97,)), TokenLogprob("b", -2.0, (98,))
    >>> render_token_alternatives(attrs.evolve(b, top=(a,)))
    {'a': -0.1, 'b': -2.0}
    """
    alternatives: dict[str, float] = {}
    for top in scored.top:
        alternatives.setdefault(top.token, top.logprob)
    alternatives.setdefault(scored.token, scored.logprob)
    return alternatives


def render_legacy_logprobs(
    logprobs: tuple[TokenLogprob, ...] | None, start: TextOffset
) -> tuple[JSON | None, TextOffset]:
    """A choice's legacy ``logprobs`` (null when not asked for): the tokens, their logprobs,
    each position's alternatives, and where each token starts in the choice's text (which
    begins at ``start``); and the offset after the last token, for the next stream chunk.

    >>> hi = TokenLogprob("hi", -0.5, (104, 105))
    >>> render_legacy_logprobs((hi, hi), TextOffset(3))  # doctest: +NORMALIZE_WHITESPACE
    ({'tokens': ['hi', 'hi'], 'token_logprobs': [-0.5, -0.5],
      'top_logprobs': [{'hi': -0.5}, {'hi': -0.5}], 'text_offset': [3, 5]},
     TextOffset(chars=7, pending=b''))
    """
    if logprobs is None:
        return None, start
    offsets: list[int] = []
    offset = start
    for scored in logprobs:
        offsets.append(offset.chars)
        offset = offset.after(scored)
    rendered = {
        "tokens": [scored.token for scored in logprobs],
        "token_logprobs": [scored.logprob for scored in logprobs],
        "top_logprobs": [render_token_alternatives(scored) for scored in logprobs],
        "text_offset": offsets,
    }
    return rendered, offset


def _text_choice(
    index: int, text: str, logprobs: JSON | None, finish_reason: FinishReason | None
) -> JSON:
    return {"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish_reason}


def render_text_completion(
    meta: ResponseMeta, choices: tuple[TextChoice, ...], usage: Usage
) -> JSON:
    """The whole ``text_completion``: each choice's text after its echo, its logprobs with
    offsets into that text."""
    rendered = []
    for choice in choices:
        logprobs, _ = render_legacy_logprobs(choice.logprobs, TextOffset(len(choice.echo)))
        text = choice.echo + choice.text
        rendered.append(_text_choice(choice.index, text, logprobs, choice.finish_reason))
    return {**_head(meta), "choices": rendered, "usage": render_usage(usage)}


def _head(meta: ResponseMeta) -> JSON:
    return {
        "id": meta.id,
        "object": "text_completion",
        "created": meta.created,
        "model": meta.model,
    }


def render_text_chunk(
    meta: ResponseMeta,
    index: int,
    text: str,
    logprobs: JSON | None = None,
    finish_reason: FinishReason | None = None,
) -> JSON:
    """One stream chunk: a choice's next text (and the logprobs of its tokens), or with
    ``finish_reason`` that choice's last chunk."""
    return {**_head(meta), "choices": [_text_choice(index, text, logprobs, finish_reason)]}


def render_text_usage_chunk(meta: ResponseMeta, usage: Usage) -> JSON:
    """The last chunk with ``stream_options.include_usage``: no choices, the whole usage."""
    return {**_head(meta), "choices": [], "usage": render_usage(usage)}

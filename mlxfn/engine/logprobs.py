"""Log-probabilities of generated tokens, as OpenAI reports them, from mlx-lm's per-step vector.

mlx-lm hands each step's log-softmax over the vocabulary, after the logits processors (penalties,
logit_bias, a grammar's mask) and before the sampler's temperature and top-p/top-k/min-p: that
is the distribution reported. Only requests that ask pay for it, with a few MLX ops per token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import mlx.core as mx

from mlxfn.domain.events import TokenLogprob

# What OpenAI reports for a token the distribution gives no chance (-inf is not JSON).
FLOOR = -9999.0


class TokenTexts:
    """Each token id's own text and UTF-8 bytes (a token can hold part of a character), taken
    from llguidance's byte-exact view of the vocabulary, and kept once asked for."""

    def __init__(self, tokenizer: Any) -> None:
        self._bytes_of = _token_bytes(tokenizer)
        self._known: dict[int, tuple[str, tuple[int, ...]]] = {}

    def of(self, token: int) -> tuple[str, tuple[int, ...]]:
        known = self._known.get(token)
        if known is None:
            raw = self._bytes_of(token)
            known = (raw.decode("utf-8", errors="replace"), tuple(raw))
            self._known[token] = known
        return known

    def logprob(self, token: int, value: float, top: tuple[TokenLogprob, ...] = ()) -> TokenLogprob:
        text, raw = self.of(token)
        return TokenLogprob(text, reportable(value), raw, top)


def reportable(value: float) -> float:
    """A logprob as JSON can carry it: at most 0 (rounding can overshoot), and ``FLOOR`` for
    no chance at all or for NaN, which overflowing logits (a huge penalty, say) make.

    >>> reportable(float("-inf")), reportable(float("nan")), reportable(1e-7), reportable(-0.5)
    (-9999.0, -9999.0, 0.0, -0.5)
    """
    if FLOOR <= value <= 0.0:
        return value
    return 0.0 if value > 0.0 else FLOOR  # NaN compares false both times: FLOOR


def _token_bytes(tokenizer: Any) -> Callable[[int], bytes]:
    hf = getattr(tokenizer, "_tokenizer", tokenizer)  # mlx-lm's wrapper holds the HF tokenizer
    try:
        import llguidance.hf

        vocabulary = llguidance.hf.from_tokenizer(hf)
    except (ImportError, ValueError, TypeError, AttributeError, AssertionError):
        # not a fast tokenizer llguidance can read: a token's decoded text is the best left
        return lambda token: str(hf.decode([token])).encode()
    return lambda token: bytes(vocabulary.decode_bytes([token]))


def score_token(texts: TokenTexts, logprobs: mx.array, token: int, top: int) -> TokenLogprob:
    """The chosen token's logprob and the ``top`` most likely tokens at this position.

    ``logprobs`` is one sequence's row over the vocabulary, already evaluated by mlx-lm.
    """
    chosen = cast(float, logprobs[token].item())
    if top <= 0:
        return texts.logprob(token, chosen)
    k = min(top, logprobs.shape[-1])
    ids = mx.argpartition(-logprobs, kth=k - 1)[:k]
    values = logprobs[ids]
    mx.eval(ids, values)
    ranked = sorted(
        zip(cast(list[float], values.tolist()), cast(list[int], ids.tolist()), strict=True),
        key=_most_likely_first,
    )
    return texts.logprob(token, chosen, tuple(texts.logprob(i, v) for v, i in ranked))


def _most_likely_first(entry: tuple[float, int]) -> tuple[float, int]:
    value, token = entry
    return (-value, token)

"""Constrained decoding: an llguidance grammar enforced on one sequence, token by token.

The contract (``GenerationPlan.grammar``): any llguidance grammar string, as made by
``LLMatcher.grammar_from_json_schema`` or ``grammar_from_lark``. From the first generated
token on, the sequence only ever samples tokens the grammar allows; once the grammar is
complete only an end-of-sequence token is allowed, so the sequence ends with finish reason
"stop". A sequence cut short by ``max_tokens`` or a stop string ends as usual ("length",
"stop"), with text that is a prefix of a match. The stop strings and the grammar are
independent: a caller that wants whole matches sends no stop strings.

The mask is a per-sequence logits processor (mlx-lm's ``(tokens, logits) -> logits`` hook),
so constrained and free sequences share one batch and the free ones are untouched.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import llguidance
import llguidance.hf
import mlx.core as mx
import numpy as np
from llguidance.numpy import allocate_token_bitmask, fill_next_token_bitmask

from mlxfn.engine.sampling import LogitsProcessor

log = logging.getLogger(__name__)


class GrammarError(ValueError):
    """A grammar that compiled without a tokenizer fails with this model's vocabulary."""


class Constraints:
    """Makes grammar processors for one loaded model.

    llguidance's tokenizer (the vocabulary as byte strings, plus precomputed slices) takes
    up to a second to build for a large vocabulary, so it is built once, on first use: on
    the engine thread, and never for a server that gets no constrained request.
    """

    def __init__(self, tokenizer: Any, eos_token_ids: frozenset[int]) -> None:
        self._hf_tokenizer = tokenizer
        self._eos = sorted(eos_token_ids)
        self._ll: llguidance.LLTokenizer | None = None

    @property
    def tokenizer(self) -> llguidance.LLTokenizer:
        if self._ll is None:
            # mlx-lm's TokenizerWrapper holds the Hugging Face fast tokenizer it wraps.
            hf = getattr(self._hf_tokenizer, "_tokenizer", self._hf_tokenizer)
            self._ll = llguidance.hf.from_tokenizer(hf, eos_token=self._eos)
        return self._ll

    def processors(self, grammar: str | None) -> list[LogitsProcessor]:
        """No processor for free text; one ``GrammarProcessor`` for a grammar."""
        if grammar is None:
            return []
        return [GrammarProcessor(self.tokenizer, grammar)]


class GrammarProcessor:
    """An ``LLMatcher`` for one sequence, as a logits processor.

    mlx-lm's ``GenerationBatch`` calls it once per decode step: first right after prefill,
    with the prompt as context (nothing generated yet), then once per step with the token
    sampled at the step before last appended. So every call but the first consumes the last
    token of the context first. The context is not otherwise read: with the prefix cache it
    may hold only part of the prompt.
    """

    def __init__(self, tokenizer: llguidance.LLTokenizer, grammar: str) -> None:
        self.matcher = llguidance.LLMatcher(tokenizer, grammar, log_level=0)
        if self.matcher.is_error():
            raise GrammarError(self.matcher.get_error())
        self.eos = tokenizer.eos_token
        self.bitmask = allocate_token_bitmask(1, tokenizer.vocab_size)
        self.started = False
        self.width = 0
        self.only_eos: mx.array | None = None

    def __call__(self, tokens: mx.array, logits: mx.array) -> mx.array:
        matcher = self.matcher
        if self.started:
            matcher.consume_token(cast(int, tokens[-1].item()))
        else:
            self.started = True
            self.width = logits.shape[-1]
        if matcher.is_stopped() or matcher.is_error():
            # After the end-of-sequence token the step's sample is thrown away; after an
            # error (a grammar past llguidance's limits) ending is all that is left to do.
            if matcher.is_error():
                log.warning("grammar failed mid-generation: %s", matcher.get_error())
            return mx.where(self._only_eos(), logits, -mx.inf)
        fill_next_token_bitmask(matcher, self.bitmask)
        return mx.where(mx.array(self._allowed()), logits, -mx.inf)

    def _allowed(self) -> np.ndarray[Any, np.dtype[np.bool_]]:
        # One bit per token, least significant first; the logits may be wider than the
        # vocabulary (padded embeddings), and padding tokens are never allowed.
        bits = np.unpackbits(self.bitmask.view(np.uint8), bitorder="little")
        if bits.size >= self.width:
            return bits[: self.width].astype(np.bool_)
        return np.concatenate([bits, np.zeros(self.width - bits.size, np.uint8)]).astype(np.bool_)

    def _only_eos(self) -> mx.array:
        if self.only_eos is None:
            self.only_eos = mx.arange(self.width) == self.eos
        return self.only_eos

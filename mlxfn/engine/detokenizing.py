"""mlx-lm's streaming detokenizers, for text that continues a prompt.

They drop the space a reply's first token starts with, which suits a chat answer; a text
completion continues its prompt, so that space is part of the text ("Once upon a" → " time").
"""

from __future__ import annotations

from typing import Any

from mlx_lm.tokenizer_utils import BPEStreamingDetokenizer, SPMStreamingDetokenizer


def keep_leading_space(detokenizer: Any) -> Any:
    """The detokenizer, set to keep the first token's leading space. The naive one decodes
    with the tokenizer's own ``decode``, which has no such trim of its own to turn off."""
    if isinstance(detokenizer, SPMStreamingDetokenizer):
        detokenizer.trim_space = False
    elif isinstance(detokenizer, BPEStreamingDetokenizer):
        # its trim is a method with no switch; this instance's own copy keeps the text as is
        detokenizer._maybe_trim_space = _as_is  # type: ignore[method-assign]
    return detokenizer


def _as_is(text: str) -> str:
    return text

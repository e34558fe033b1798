"""An embeddings request → the token ids of each input, checked against the model: texts are
tokenized with the tokenizer's special tokens (as a sentence encoder reads them), token ids are
taken as given once inside the vocabulary, and every input must fit the context."""

from __future__ import annotations

from returns.iterables import Fold
from returns.result import Failure, Result, Success

from mlxfn.domain.embeddings import EmbeddingsRequest, as_input_error
from mlxfn.domain.errors import ApiError, ContextLengthExceeded, InvalidRequest
from mlxfn.domain.request import PromptInput
from mlxfn.pipeline.plan import Limits
from mlxfn.pipeline.prompt import ChatTokenizer, Prompt, build_text_prompt


def plan_embeddings(
    request: EmbeddingsRequest, tokenizer: ChatTokenizer, limits: Limits
) -> Result[tuple[tuple[int, ...], ...], ApiError]:
    """
    >>> from mlxfn.domain.values import ModelName
    >>> request = EmbeddingsRequest(model=ModelName("m"), inputs=((1, 2), (3,)))
    >>> roomy = Limits(context_length=8, default_max_tokens=1, vocab_size=8)
    >>> plan_embeddings(request, None, roomy)
    <Success: ((1, 2), (3,))>
    >>> tight = Limits(context_length=1, default_max_tokens=1, vocab_size=8)
    >>> plan_embeddings(request, None, tight).failure().param
    'input'
    """

    def tokens_of(given: PromptInput) -> Result[tuple[int, ...], ApiError]:
        tokens = (
            build_text_prompt(given, tokenizer, add_special_tokens=True)
            if isinstance(given, str)
            else _known_ids(given, limits.vocab_size)
        )
        return tokens.alt(as_input_error).bind(lambda prompt: _fits(prompt, limits.context_length))

    return Fold.collect([tokens_of(given) for given in request.inputs], Success(()))


def _known_ids(ids: tuple[int, ...], vocab_size: int | None) -> Result[Prompt, ApiError]:
    outside = [token for token in ids if vocab_size is not None and token >= vocab_size]
    if outside and vocab_size is not None:
        why = f"input names token id {outside[0]}, outside this model's vocabulary"
        return Failure(InvalidRequest(f"{why} (ids 0 to {vocab_size - 1})", param="input"))
    return Success(Prompt(ids))


def _fits(prompt: Prompt, context_length: int) -> Result[tuple[int, ...], ApiError]:
    if not prompt.token_ids:
        return Failure(InvalidRequest("input tokenizes to no tokens", param="input"))
    if prompt.token_count > context_length:
        return Failure(ContextLengthExceeded(prompt.token_count, 0, context_length, "input"))
    return Success(prompt.token_ids)

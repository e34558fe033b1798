"""Chat logprobs on a SentencePiece-style tokenizer: a reply's first token is ``▁word``, whose
space the detokenizer drops from the answer, and the reported tokens must drop it too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from mlxfn.tiny_model import build_tiny_model
from tests.conftest import StartServer

MODEL = "tiny-spm"
PROMPTS = ("hello world", "tell me a story about a cat", "what is two plus two?")


@pytest.fixture(scope="module")
def spm_client(
    start_server: StartServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[openai.OpenAI]:
    folder = build_tiny_model(tmp_path_factory.mktemp("models") / MODEL, sentencepiece=True)
    server = start_server("--model", str(folder), "--served-model-name", MODEL)
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0) as c:
        yield c


def _ask(client: openai.OpenAI, prompt: str, **fields: Any) -> Any:
    settings: dict[str, Any] = {"max_tokens": 16, "temperature": 1}
    return client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": prompt}],
        logprobs=True,
        top_logprobs=2,
        **(settings | fields),
    )


def test_the_tiny_model_is_sentencepiece_style(tmp_path: Path) -> None:
    from mlx_lm.tokenizer_utils import SPMStreamingDetokenizer
    from mlx_lm.utils import load_tokenizer

    folder = build_tiny_model(tmp_path / "m", sentencepiece=True)
    tokenizer = load_tokenizer(folder)  # type: ignore[no-untyped-call]
    assert isinstance(tokenizer.detokenizer, SPMStreamingDetokenizer)
    pieces = tokenizer.convert_ids_to_tokens(tokenizer.encode("the cat", add_special_tokens=False))
    assert all(piece.startswith("▁") for piece in pieces)


# greedy first: its replies start with a spaced token (see the next test)
SETTINGS = [{"temperature": 0}, {"seed": 0}, {"seed": 1}, {"seed": 2}]


@pytest.mark.parametrize("prompt", PROMPTS)
@pytest.mark.parametrize("settings", SETTINGS, ids=["greedy", "seed0", "seed1", "seed2"])
def test_logprob_tokens_add_up_to_the_content(
    spm_client: openai.OpenAI, prompt: str, settings: dict[str, Any]
) -> None:
    choice = _ask(spm_client, prompt, **settings).choices[0]
    tokens = choice.logprobs.content
    assert tokens
    assert "".join(t.token for t in tokens) == choice.message.content
    for token in tokens:
        assert bytes(token.bytes or []).decode("utf-8", "replace") == token.token


def test_the_first_token_is_reported_without_the_dropped_space(spm_client: openai.OpenAI) -> None:
    """Greedy, so the chosen token is the top one, listed as the vocabulary spells it: where
    that is ``▁word``, the chosen token reads ``word``, as the content does."""
    firsts = [_ask(spm_client, prompt, temperature=0).choices[0] for prompt in PROMPTS]
    spaced = [c for c in firsts if c.logprobs.content[0].top_logprobs[0].token.startswith(" ")]
    assert spaced
    for choice in spaced:
        first = choice.logprobs.content[0]
        assert first.top_logprobs[0].token == " " + first.token
        assert (choice.message.content or "").startswith(first.token)


@pytest.mark.parametrize("settings", SETTINGS[:2], ids=["greedy", "seed0"])
def test_streamed_logprob_tokens_add_up_to_the_content(
    spm_client: openai.OpenAI, settings: dict[str, Any]
) -> None:
    content, tokens = "", ""
    for chunk in _ask(spm_client, PROMPTS[0], stream=True, **settings):
        if not chunk.choices:
            continue
        content += chunk.choices[0].delta.content or ""
        logprobs = chunk.choices[0].logprobs
        tokens += "".join(t.token for t in (logprobs.content or [])) if logprobs else ""
    assert content
    assert tokens == content


def test_a_text_completion_keeps_the_leading_space(spm_client: openai.OpenAI) -> None:
    reply = spm_client.completions.create(
        model=MODEL, prompt="the cat", max_tokens=8, temperature=1, seed=3, logprobs=1
    )
    choice = reply.choices[0]
    assert choice.logprobs is not None
    assert "".join(choice.logprobs.tokens or []) == choice.text

"""Build a small real MLX model folder: random Llama weights and a trained BPE tokenizer.

Used by the test fixtures, and by anyone who wants a model to try the server with when no
model hub is reachable: ``python -m mlxfn.tiny_model ./tiny`` (``--native-tools`` for one whose
template has a tool-call format of its own).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string %}{{- message['content'] }}"
    "{%- elif message['content'] is not none %}"
    "{%- for part in message['content'] %}{{- part['text'] }}{%- endfor %}"
    "{%- endif %}"
    "{%- if message.get('tool_calls') %}"
    "{%- for call in message['tool_calls'] %}"
    "{{- '<tool_call>\\n{\"name\": \"' + call['function']['name'] + '\", \"arguments\": '"
    " + call['function']['arguments'] + '}\\n</tool_call>' }}"
    "{%- endfor %}"
    "{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
# A reasoning model's markers (mlx-lm detects these by name) and a template that opens the
# thinking block in the prompt, as Qwen3-style templates do.
THINKING_TOKENS = ("<think>", "</think>")
THINKING_TEMPLATE = CHATML_TEMPLATE.replace(
    "'<|im_start|>assistant\\n'", "'<|im_start|>assistant\\n<think>\\n'"
)

# A model with a native tool-call format, as Qwen2.5 (Hermes-style) templates write it: the tools
# in the system turn, each call as ``<tool_call>`` JSON (the template names ``tool_call.name``,
# which is how mlx-lm infers its ``json_tools`` parser), results as ``<tool_response>`` blocks
# in a user turn. Its markers are added tokens, each one token, as in Qwen2.5's vocabulary.
TOOL_CALL_TOKENS = ("<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>")
NATIVE_TOOLS_TEMPLATE = (
    "{%- macro text(content) -%}"
    "{%- if content is string -%}{{ content }}"
    "{%- elif content is iterable and content is not mapping -%}"
    "{%- for part in content -%}{%- if part.type == 'text' -%}{{ part.text }}{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{%- endmacro -%}"
    "{%- if tools %}"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0].role == 'system' %}"
    "{{- text(messages[0].content) + '\\n\\n' }}"
    "{%- endif %}"
    "{{- '# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n"
    "You are provided with function signatures within <tools></tools> XML tags:\\n<tools>' }}"
    "{%- for tool in tools %}{{- '\\n' + (tool | tojson) }}{%- endfor %}"
    "{{- '\\n</tools>\\n\\nFor each function call, return a json object with function name and "
    "arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n"
    '{"name": <function-name>, "arguments": <args-json-object>}'
    "\\n</tool_call><|im_end|>\\n' }}"
    "{%- elif messages and messages[0].role == 'system' %}"
    "{{- '<|im_start|>system\\n' + text(messages[0].content) + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'system' %}"
    "{%- if not loop.first %}"
    "{{- '<|im_start|>system\\n' + text(message.content) + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- elif message.role == 'assistant' and message.tool_calls %}"
    "{{- '<|im_start|>assistant' }}"
    "{%- if message.content %}{{- '\\n' + text(message.content) }}{%- endif %}"
    "{%- for call in message.tool_calls %}"
    "{%- set tool_call = call.function if call.function is defined else call %}"
    '{{- \'\\n<tool_call>\\n{"name": "\' + tool_call.name + \'", "arguments": \' }}'
    "{%- if tool_call.arguments is string %}{{- tool_call.arguments }}"
    "{%- else %}{{- tool_call.arguments | tojson }}{%- endif %}"
    "{{- '}\\n</tool_call>' }}"
    "{%- endfor %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- elif message.role == 'tool' %}"
    "{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}"
    "{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + text(message.content) + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}"
    "{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- else %}"
    "{{- '<|im_start|>' + message.role + '\\n' + text(message.content) + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

_CORPUS_WORDS = (
    "the quick brown fox jumps over the lazy dog while a small model learns to answer "
    "questions about numbers, colours, cities and the weather. hello world! what is two "
    "plus two? it is four. tell me a story about a cat who lived in paris in the spring. "
    "system user assistant tool function arguments name json result error stop done "
    "0 1 2 3 4 5 6 7 8 9 10 42 100 — naïve café über 東京 🙂"
)


def _corpus(lines: int = 400) -> list[str]:
    words = _CORPUS_WORDS.split()
    return [
        " ".join(words[(i * 7) % len(words) :] + words[: (i * 7) % len(words)])
        for i in range(lines)
    ]


def build_tokenizer(
    path: Path,
    vocab_size: int = 512,
    corpus: Iterable[str] | None = None,
    *,
    thinking: bool = False,
    sentencepiece: bool = False,
    native_tools: bool = False,
) -> tuple[int, int]:
    """Train a byte-level BPE tokenizer with a ChatML template (on a small built-in corpus
    unless one is given) and save it; return (vocabulary size, end-of-turn token id).
    ``thinking``: add ``<think>``/``</think>`` and open a thinking block for every answer.
    ``sentencepiece``: a Llama-style SentencePiece BPE instead, whose tokens carry ``▁`` for
    a space (the decoder mlx-lm gives its SentencePiece streaming detokenizer).
    ``native_tools``: a chat template with a native tool-call format (``NATIVE_TOOLS_TEMPLATE``)
    and its markers as single tokens (not special, as Qwen2.5 has them: they decode as text);
    its template has no thinking block, so it is not combined with ``thinking``."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = [*SPECIAL_TOKENS, *(THINKING_TOKENS if thinking else ())]
    if sentencepiece:
        tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
        tok.decoder = decoders.Sequence(
            [
                decoders.Replace("▁", " "),
                decoders.ByteFallback(),
                decoders.Fuse(),
                decoders.Strip(" ", 1, 0),
            ]
        )
        specials.append("<unk>")
        alphabet: list[str] = []
    else:
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=alphabet,
        show_progress=False,
    )
    tok.train_from_iterator(_corpus() if corpus is None else corpus, trainer=trainer)
    if native_tools:
        tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TOOL_CALL_TOKENS])
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<unk>" if sentencepiece else None,
    )
    fast.chat_template = (
        NATIVE_TOOLS_TEMPLATE
        if native_tools
        else THINKING_TEMPLATE
        if thinking
        else CHATML_TEMPLATE
    )
    fast.save_pretrained(str(path))
    eos_id = tok.token_to_id("<|im_end|>")
    assert eos_id is not None  # a special token the trainer was given
    return len(fast), eos_id


def build_tiny_model(
    path: Path,
    *,
    seed: int = 0,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int | None = None,
    context_length: int | None = None,
    always_eos: bool = False,
    thinking: bool = False,
    sentencepiece: bool = False,
    native_tools: bool = False,
) -> Path:
    """Write a random-weight Llama model folder that ``mlx_lm.load`` can load.

    ``always_eos`` zeroes the final norm, so every logit is 0 and greedy decoding picks token 0
    (``<|endoftext|>``), which the config lists as an end-of-sequence token: a model that
    always stops at once, for testing how EOS ends a generation. ``thinking``: a reasoning
    model's tokenizer and template (see ``build_tokenizer``). ``kv_heads`` below ``heads``
    makes grouped-query attention. ``sentencepiece``: a SentencePiece-style tokenizer.
    ``native_tools``: a Qwen2.5-style template with its own tool-call format, which mlx-lm
    reads with its ``json_tools`` parser (see ``build_tokenizer``). ``context_length`` is 512
    unless given, or 4096 with ``native_tools``: its tools section alone is some 400 tokens.
    """
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.models import llama

    context = (4096 if native_tools else 512) if context_length is None else context_length
    path.mkdir(parents=True, exist_ok=True)
    vocab_size, eos_id = build_tokenizer(
        path, thinking=thinking, sentencepiece=sentencepiece, native_tools=native_tools
    )
    config = {
        "model_type": "llama",
        "hidden_size": hidden_size,
        "num_hidden_layers": layers,
        "intermediate_size": hidden_size * 2,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads or heads,
        "rms_norm_eps": 1e-5,
        "vocab_size": vocab_size,
        "max_position_embeddings": context,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "eos_token_id": [0, eos_id] if always_eos else eos_id,
    }
    mx.random.seed(seed)
    model = llama.Model(llama.ModelArgs.from_dict(config))  # type: ignore[no-untyped-call]
    weights = dict(tree_flatten(model.parameters()))
    if always_eos:
        weights["model.norm.weight"] = mx.zeros_like(weights["model.norm.weight"])
    mx.save_safetensors(str(path / "model.safetensors"), weights, metadata={"format": "mlx"})
    (path / "config.json").write_text(json.dumps(config, indent=2))
    return path


def build_tiny_adapter(model_path: Path, path: Path, *, seed: int = 1, rank: int = 4) -> Path:
    """Write an mlx-lm LoRA adapter folder for the model at ``model_path``, with random
    weights in both factors (a freshly made adapter's second factor is zero, which would change
    nothing), so that the adapted model answers differently from its base."""
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm import load
    from mlx_lm.tuner.utils import linear_to_lora_layers

    model = load(str(model_path))[0]
    layers = len(model.layers)
    lora = {
        "rank": rank,
        "scale": 10.0,
        "dropout": 0.0,
        "keys": ["self_attn.q_proj", "mlp.up_proj"],
    }
    linear_to_lora_layers(model, layers, lora)
    mx.random.seed(seed)
    flat = cast(list[tuple[str, Any]], tree_flatten(model.parameters()))
    adapters = {
        name: mx.random.normal(value.shape) * 0.2
        for name, value in flat
        if name.rsplit(".", 1)[-1] in {"lora_a", "lora_b"}
    }
    path.mkdir(parents=True, exist_ok=True)
    mx.save_safetensors(str(path / "adapters.safetensors"), adapters)
    config = {"fine_tune_type": "lora", "num_layers": layers, "lora_parameters": lora}
    (path / "adapter_config.json").write_text(json.dumps(config, indent=2))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="folder to write the model into")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--native-tools",
        action="store_true",
        help="a Qwen2.5-style chat template with a native tool-call format (<tool_call>)",
    )
    args = parser.parse_args()
    out = build_tiny_model(args.path, seed=args.seed, native_tools=args.native_tools)
    print(f"wrote a tiny model to {out}; serve it with: python -m mlxfn --model {out}")


if __name__ == "__main__":
    main()

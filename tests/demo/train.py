"""Train mlxfn-demo from scratch with MLX on synthetic chats, and write an mlx-lm model folder.

``python -m tests.demo.train --out DIR --seed 0`` trains a byte-level BPE tokenizer (digits split
one per token) on the generated corpus, then a small Llama with tied embeddings, with loss on the
assistant tokens only, AdamW with warmup and cosine decay; then it runs the evaluation.
"""

from __future__ import annotations

# isort: off
import mlxfn.engine  # noqa: F401  (before mlx: it preloads a fast BLAS on Linux)

# isort: on
import argparse
import json
import math
import random
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final, cast

import mlx.core as mx
import mlx.optimizers as optim
from mlx import nn
from mlx.utils import tree_flatten
from mlx_lm.models import llama

from tests.demo import DEMO_MODEL_DIR
from tests.demo.data import training_samples
from tests.demo.template import CHAT_TEMPLATE, SPECIAL_TOKENS, TOOL_CALL_TOKENS, render_chat

_ASSISTANT_OPEN: Final = "<|im_start|>assistant\n"
_TURN_END: Final = "<|im_end|>"


def build_tokenizer(corpus: Sequence[str], vocab_size: int) -> Any:
    """A byte-level BPE trained on ``corpus`` with every digit its own token, ChatML special
    tokens, ``<tool_call>``/``</tool_call>`` as single tokens, and the demo chat template."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # A space is its own token and so is each digit: a word is the same token whether it follows
    # a space, a quote or nothing, so copying "Tokyo" from a question into JSON is one token.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(" ", behavior="isolated"),
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(TOOL_CALL_TOKENS),
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # the added tokens are whole tokens: keep their text out of the merges
    cleaned = [_strip_added(text) for text in corpus]
    tok.train_from_iterator(cleaned, trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TOOL_CALL_TOKENS])
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok,
        bos_token=None,
        eos_token=_TURN_END,
        pad_token="<|endoftext|>",
        unk_token=None,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _strip_added(text: str) -> str:
    for token in (*SPECIAL_TOKENS, *TOOL_CALL_TOKENS):
        text = text.replace(token, "\n")
    return text


def assistant_spans(text: str) -> list[tuple[int, int]]:
    """Character spans the model learns to write: each assistant reply and its ``<|im_end|>``.

    >>> assistant_spans("<|im_start|>user\\nhi<|im_end|>\\n<|im_start|>assistant\\nyo<|im_end|>\\n")
    [(52, 64)]
    """
    spans = []
    start = text.find(_ASSISTANT_OPEN)
    while start >= 0:
        begin = start + len(_ASSISTANT_OPEN)
        end = text.find(_TURN_END, begin) + len(_TURN_END)
        spans.append((begin, end))
        start = text.find(_ASSISTANT_OPEN, end)
    return spans


def encode_samples(tokenizer: Any, texts: Sequence[str]) -> list[tuple[list[int], list[bool]]]:
    """Token ids and, per token, whether it is a training target (inside an assistant span)."""
    encodings = tokenizer.backend_tokenizer.encode_batch(list(texts), add_special_tokens=False)
    out = []
    for text, enc in zip(texts, encodings, strict=True):
        spans = assistant_spans(text)
        targets = [any(b <= s < e for b, e in spans) for s, _ in enc.offsets]
        out.append((list(enc.ids), targets))
    return out


def make_batches(
    encoded: Sequence[tuple[list[int], list[bool]]], tokens_per_batch: int, seed: int
) -> list[tuple[mx.array, mx.array, mx.array]]:
    """Batches of similar length, padded to a multiple of 16: (inputs, targets, loss mask)."""
    rng = random.Random(seed)
    order = sorted(range(len(encoded)), key=lambda i: (len(encoded[i][0]), rng.random()))
    batches = []
    i = 0
    while i < len(order):
        longest = len(encoded[order[i]][0])
        size = 1
        while i + size < len(order):
            longest = max(longest, len(encoded[order[i + size]][0]))
            if (size + 1) * (math.ceil(longest / 16) * 16) > tokens_per_batch:
                break
            size += 1
        rows = [encoded[j] for j in order[i : i + size]]
        width = math.ceil(max(len(ids) for ids, _ in rows) / 16) * 16 + 1
        ids = [r[0] + [0] * (width - len(r[0])) for r in rows]
        mask = [r[1][1:] + [False] * (width - len(r[1])) for r in rows]
        batch = mx.array(ids, dtype=mx.int32)
        batches.append((batch[:, :-1], batch[:, 1:], mx.array(mask)))
        i += size
    rng.shuffle(batches)
    return batches


def model_config(vocab_size: int, eos_id: int, *, hidden: int, layers: int) -> dict[str, Any]:
    """The config.json of a small Llama with tied embeddings."""
    return {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "intermediate_size": hidden * 3,
        "num_attention_heads": max(1, hidden // 32),
        "num_key_value_heads": max(1, hidden // 32),
        "rms_norm_eps": 1e-5,
        "vocab_size": vocab_size,
        "max_position_embeddings": 1024,
        "rope_theta": 10000.0,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "bos_token_id": None,
        "eos_token_id": eos_id,
    }


def _loss(model: Any, inputs: mx.array, targets: mx.array, mask: mx.array) -> mx.array:
    logits = model(inputs)
    losses = nn.losses.cross_entropy(logits, targets) * mask
    return losses.sum() / mask.sum()


def _flat(tree: Any) -> list[tuple[str, Any]]:
    flat: Any = tree_flatten(tree)
    return list(flat)


def _cycle(batches: list[Any], seed: int) -> Iterator[Any]:
    rng = random.Random(seed)
    while True:
        yield from batches
        rng.shuffle(batches)


def prepare_data(args: argparse.Namespace) -> tuple[Any, list[Any]]:
    """Generate and render the conversations; train (or, with ``--init``, load) the tokenizer;
    return it and the batches."""
    started = time.time()
    samples = training_samples(args.seed, args.samples)
    texts = [render_chat(s["messages"], s["tools"]) for s in samples]
    if args.init is None:
        tokenizer = build_tokenizer(texts[: args.tokenizer_samples], args.vocab)
    else:  # continue training a model folder: same tokenizer, same architecture
        from transformers import PreTrainedTokenizerFast

        tokenizer = PreTrainedTokenizerFast.from_pretrained(str(args.init))
    encoded = encode_samples(tokenizer, texts)
    n_targets = sum(sum(t) for _, t in encoded)
    n_tokens = sum(len(i) for i, _ in encoded)
    print(
        f"data: {len(samples)} conversations, {n_tokens} tokens, {n_targets} target tokens, "
        f"vocab {len(tokenizer)}, {time.time() - started:.1f}s",
        flush=True,
    )
    return tokenizer, make_batches(encoded, args.batch_tokens, args.seed)


def train(args: argparse.Namespace) -> Path:
    """Generate data, train the tokenizer and the model, and write the model folder."""
    out: Path = args.out
    started = time.time()
    tokenizer, batches = prepare_data(args)

    eos_id = tokenizer.convert_tokens_to_ids(_TURN_END)
    config = model_config(len(tokenizer), eos_id, hidden=args.hidden, layers=args.layers)
    if args.init is not None:
        config = json.loads((args.init / "config.json").read_text())
    mx.random.seed(args.seed)
    model = llama.Model(llama.ModelArgs.from_dict(config))  # type: ignore[no-untyped-call]
    if args.init is not None:
        model.load_weights(str(args.init / "model.safetensors"))
    n_params = sum(int(v.size) for _, v in _flat(model.parameters()))
    print(f"model: {n_params} parameters, {len(batches)} batches per epoch", flush=True)

    warmup = min(args.warmup, args.steps // 10)
    schedule = optim.join_schedules(
        [
            optim.linear_schedule(1e-5, args.lr, warmup),
            optim.cosine_decay(args.lr, args.steps - warmup, args.lr * 0.05),
        ],
        [warmup],
    )
    optimizer = optim.AdamW(learning_rate=schedule, weight_decay=0.01)
    loss_and_grad = nn.value_and_grad(model, _loss)  # type: ignore[attr-defined]
    state = [model.state, optimizer.state]

    def step(inputs: mx.array, targets: mx.array, mask: mx.array) -> mx.array:
        loss, grads = loss_and_grad(model, inputs, targets, mask)
        grads, _ = optim.clip_grad_norm(grads, 1.0)  # type: ignore[no-untyped-call]
        optimizer.update(model, grads)
        return loss  # type: ignore[no-any-return]

    compiled = mx.compile(step, inputs=state, outputs=state)
    train_start = time.time()
    tokens = 0
    losses: list[float] = []
    for n, (inputs, targets, mask) in zip(
        range(1, args.steps + 1), _cycle(batches, args.seed), strict=False
    ):
        loss = compiled(inputs, targets, mask)
        mx.eval(state, loss)
        losses.append(cast(float, loss.item()))
        tokens += inputs.size
        if n % args.log_every == 0 or n == args.steps:
            elapsed = time.time() - train_start
            print(
                f"step {n}/{args.steps} loss {sum(losses) / len(losses):.4f} "
                f"lr {schedule(mx.array(n)).item():.2e} {tokens / elapsed:.0f} tok/s "
                f"{elapsed:.0f}s",
                flush=True,
            )
            losses = []
    wall = time.time() - started
    save_model(out, model, tokenizer, config)
    summary = {
        "init": None if args.init is None else str(args.init),
        "seed": args.seed,
        "steps": args.steps,
        "samples": args.samples,
        "parameters": n_params,
        "wall_seconds": round(wall),
        "train_tokens": tokens,
    }
    (out / "training.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {out} after {wall:.0f}s: {summary}", flush=True)
    return out


def save_model(out: Path, model: Any, tokenizer: Any, config: dict[str, Any]) -> None:
    """Write weights, config and tokenizer as an mlx-lm model folder."""
    if out.exists():
        for name in ("model.safetensors", "config.json", "tokenizer.json"):
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    weights = dict(_flat(model.parameters()))
    mx.save_safetensors(str(out / "model.safetensors"), weights, metadata={"format": "mlx"})
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    tokenizer.save_pretrained(str(out))
    # older loaders read the template from tokenizer_config.json, newer from chat_template.jinja
    tc_path = out / "tokenizer_config.json"
    tc = json.loads(tc_path.read_text())
    tc["chat_template"] = CHAT_TEMPLATE
    tc_path.write_text(json.dumps(tc, indent=2, ensure_ascii=False) + "\n")
    generation = {"eos_token_id": config["eos_token_id"], "do_sample": False}
    (out / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEMO_MODEL_DIR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=2200)
    parser.add_argument("--samples", type=int, default=110_000)
    parser.add_argument("--tokenizer-samples", type=int, default=20_000)
    parser.add_argument("--vocab", type=int, default=1000)
    parser.add_argument("--hidden", type=int, default=192)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch-tokens", type=int, default=3072)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--no-eval", action="store_true")
    parser.add_argument(
        "--init", type=Path, default=None, help="continue from this model folder's weights"
    )
    args = parser.parse_args()
    out = train(args)
    if not args.no_eval:
        from tests.demo.evaluate import evaluate, print_report

        print_report(evaluate(out))


if __name__ == "__main__":
    main()

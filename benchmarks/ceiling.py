"""The in-process ceiling: the same prompts through mlx-lm directly, with no HTTP and no server.

Run by ``bench.py`` as its own subprocess (``python -m benchmarks.ceiling PLAN OUT``), with the
same environment as the servers, so a BLAS or threading switch applies to it too. One sequence
goes through ``mlx_lm.stream_generate`` (generate_step); several go through
``mlx_lm.generate.BatchGenerator`` with mlx_lm.server's default batch sizes; the multi-turn
follow-up reuses turn one's KV cache, trimmed to the longest common prefix, as an ideal prefix
cache would.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlx.core as mx
from mlx_lm import load, stream_generate
from mlx_lm.generate import BatchGenerator, generate_step
from mlx_lm.models.cache import make_prompt_cache, trim_prompt_cache

from benchmarks.blas import loaded_blas
from benchmarks.measure import (
    RepetitionResult,
    RequestResult,
    burst_extra,
    multiturn_extra,
    repetition_to_dict,
)
from benchmarks.workload import (
    BURST_JOIN_AFTER,
    BURST_STREAM_FACTOR,
    Message,
    follow_up_turn,
)

# mlx_lm.server's defaults for --decode-concurrency and --prompt-concurrency.
COMPLETION_BATCH = 32
PREFILL_BATCH = 8


class Ceiling:
    def __init__(self, model_path: str) -> None:
        loaded = load(model_path)  # (model, tokenizer)
        self.model, self.tokenizer = loaded[0], loaded[1]
        self.eos = list(self.tokenizer.eos_token_ids)

    def tokens(self, messages: Sequence[Message]) -> list[int]:
        text = self.tokenizer.apply_chat_template(  # type: ignore[no-untyped-call]
            list(messages), add_generation_prompt=True, tokenize=False
        )
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    # -- one sequence: stream_generate --------------------------------------------------------

    def single(self, messages: Sequence[Message], max_tokens: int) -> RepetitionResult:
        prompt = self.tokens(messages)
        times: list[float] = []
        text: list[str] = []
        prompt_tps = float("nan")
        clock = time.perf_counter()
        for response in stream_generate(self.model, self.tokenizer, prompt, max_tokens=max_tokens):
            times.append(time.perf_counter() - clock)
            text.append(response.text)
            prompt_tps = response.prompt_tps
        result = RequestResult(
            start_s=0.0,
            ttft_s=times[0] if times else None,
            token_times_s=tuple(times),
            total_s=times[-1] if times else 0.0,
            output_tokens=len(times),
            prompt_tokens=len(prompt),
            usage_reported=True,
            text="".join(text),
        )
        decode_s = times[-1] - times[0] if len(times) > 1 else float("nan")
        return RepetitionResult(
            wall_s=result.total_s,
            requests=(result,),
            extra={
                "prefill_s": len(prompt) / prompt_tps,
                "decode_tok_s": (len(times) - 1) / decode_s,
            },
        )

    # -- several sequences: BatchGenerator ----------------------------------------------------

    def batch(
        self,
        prompts: Sequence[Sequence[Message]],
        max_tokens: int,
        *,
        join: tuple[Sequence[Message], int, int] | None = None,
    ) -> tuple[list[RequestResult], dict[str, float], float]:
        """Run prompts together; ``join`` = (messages, max_tokens, after) inserts one more
        prompt once every first prompt has produced ``after`` tokens. Returns the results (the
        joined one last), the generator's stats and the time the joined prompt was inserted."""
        gen = BatchGenerator(
            self.model,
            stop_tokens=[[t] for t in self.eos],
            completion_batch_size=max(COMPLETION_BATCH, len(prompts) + 1),
            prefill_batch_size=PREFILL_BATCH,
        )
        token_lists = [self.tokens(m) for m in prompts]
        clock = time.perf_counter()
        uids = list(gen.insert(token_lists, [max_tokens] * len(token_lists)))
        starts = dict.fromkeys(uids, 0.0)
        prompt_sizes = {uid: len(t) for uid, t in zip(uids, token_lists, strict=True)}
        times: dict[int, list[float]] = {uid: [] for uid in uids}
        detok: dict[int, Any] = {}  # a detokenizer per sequence, made at its first token
        texts: dict[int, list[str]] = {uid: [] for uid in uids}
        finished: set[int] = set()
        joined_s = float("nan")
        first_uids = tuple(uids)
        with gen.stats() as stats:
            while len(finished) < len(uids):
                if join is not None and all(len(times[u]) >= join[2] for u in first_uids):
                    join_tokens = self.tokens(join[0])
                    (uid,) = gen.insert([join_tokens], [join[1]])
                    joined_s = time.perf_counter() - clock
                    uids.append(uid)
                    starts[uid] = joined_s
                    prompt_sizes[uid] = len(join_tokens)
                    times[uid], texts[uid] = [], []
                    join = None
                _, generated = gen.next()  # type: ignore[no-untyped-call]
                now = time.perf_counter() - clock
                for r in generated:
                    if r.finish_reason != "stop":
                        times[r.uid].append(now)
                        if r.uid not in detok:
                            detok[r.uid] = self.tokenizer.detokenizer
                        detok[r.uid].add_token(r.token)
                        texts[r.uid].append(detok[r.uid].last_segment)
                    if r.finish_reason is not None:
                        finished.add(r.uid)
        gen.close()  # type: ignore[no-untyped-call]
        results = [
            RequestResult(
                start_s=starts[uid],
                ttft_s=times[uid][0] - starts[uid] if times[uid] else None,
                token_times_s=tuple(times[uid]),
                total_s=(times[uid][-1] if times[uid] else starts[uid]) - starts[uid],
                output_tokens=len(times[uid]),
                prompt_tokens=prompt_sizes[uid],
                usage_reported=True,
                text="".join(texts[uid]),
            )
            for uid in uids
        ]
        figures = {"prefill_s": stats.prompt_time, "decode_tok_s": stats.generation_tps}
        return results, figures, joined_s

    def wave(self, prompts: Sequence[Sequence[Message]], max_tokens: int) -> RepetitionResult:
        if len(prompts) == 1:
            return self.single(prompts[0], max_tokens)
        results, figures, _ = self.batch(prompts, max_tokens)
        return RepetitionResult(
            wall_s=max(r.start_s + r.total_s for r in results),
            requests=tuple(results),
            extra=figures,
        )

    def burst(self, requests: Sequence[Sequence[Message]], max_tokens: int) -> RepetitionResult:
        *streams, long_prompt = requests
        stream_tokens = max_tokens * BURST_STREAM_FACTOR
        join_at = max(1, int(stream_tokens * BURST_JOIN_AFTER))
        results, _, joined_s = self.batch(
            streams, stream_tokens, join=(long_prompt, max_tokens, join_at)
        )
        *stream_results, long_result = results
        return RepetitionResult(
            wall_s=max(r.start_s + r.total_s for r in results),
            requests=tuple(results),
            extra=burst_extra(stream_results, long_result.ttft_s, joined_s),
        )

    # -- multi-turn with an ideal prefix cache ------------------------------------------------

    def _turn(
        self, prompt: list[int], cache: list[Any], max_tokens: int
    ) -> tuple[RequestResult, list[int]]:
        detokenizer = self.tokenizer.detokenizer
        clock = time.perf_counter()
        times: list[float] = []
        generated: list[int] = []
        for token, _ in generate_step(
            mx.array(prompt), self.model, max_tokens=max_tokens, prompt_cache=cache
        ):
            times.append(time.perf_counter() - clock)
            generated.append(int(token))
            detokenizer.add_token(int(token))
        detokenizer.finalize()
        result = RequestResult(
            start_s=0.0,
            ttft_s=times[0] if times else None,
            token_times_s=tuple(times),
            total_s=times[-1] if times else 0.0,
            output_tokens=len(times),
            prompt_tokens=len(prompt),
            usage_reported=True,
            text=detokenizer.text,
        )
        return result, generated

    def multiturn(self, first_turn: Sequence[Message], max_tokens: int) -> RepetitionResult:
        cache = make_prompt_cache(self.model)
        prompt = self.tokens(first_turn)
        first, generated = self._turn(prompt, cache, max_tokens)
        second_prompt = self.tokens(follow_up_turn(first_turn, first.text))
        known = (prompt + generated)[: cache[0].offset]
        common = 0
        for a, b in zip(known, second_prompt, strict=False):
            if a != b:
                break
            common += 1
        common = min(common, len(second_prompt) - 1)  # at least one token to feed
        trim_prompt_cache(cache, cache[0].offset - common)
        second, _ = self._turn(second_prompt[common:], cache, max_tokens)
        second = RequestResult(
            start_s=first.total_s,
            ttft_s=second.ttft_s,
            token_times_s=tuple(first.total_s + t for t in second.token_times_s),
            total_s=second.total_s,
            output_tokens=second.output_tokens,
            prompt_tokens=len(second_prompt),
            usage_reported=True,
            text=second.text,
        )
        extra = multiturn_extra(first.ttft_s, second.ttft_s)
        extra["reused_prefix_tokens"] = float(common)
        return RepetitionResult(
            wall_s=first.total_s + second.total_s, requests=(first, second), extra=extra
        )

    def warm_up(self) -> None:
        hello: list[Message] = [{"role": "user", "content": "warm up: hello there"}]
        self.single(hello, 8)
        self.batch([hello, hello], 8)


def blas_speed(n: int = 512) -> float:
    """float32 matmul GFLOP/s: tells MLX's reference BLAS (~6) from OpenBLAS (~100+)."""
    a = mx.random.normal((n, n))
    b = mx.random.normal((n, n))
    mx.eval(a, b)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        mx.eval(a @ b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def run_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """Run every scenario's repetitions of the plan; JSON-ready results by scenario name."""
    blas = f"mapped: {loaded_blas()}, matmul {blas_speed():.0f} GFLOP/s"
    print(f"[ceiling] BLAS {blas}", flush=True)
    ceiling = Ceiling(plan["model"])
    ceiling.warm_up()
    max_tokens = int(plan["max_tokens"])
    out: dict[str, list[dict[str, Any]]] = {}
    for scenario in plan["scenarios"]:
        reps: list[dict[str, Any]] = []
        for requests in scenario["repetitions"]:
            match scenario["kind"]:
                case "wave":
                    rep = ceiling.wave(requests, max_tokens)
                case "multiturn":
                    rep = ceiling.multiturn(requests[0], max_tokens)
                case "burst":
                    rep = ceiling.burst(requests, max_tokens)
                case other:
                    raise ValueError(f"unknown scenario kind {other!r}")
            reps.append(repetition_to_dict(rep))
            print(
                f"[ceiling] {scenario['name']}: {rep.tokens_per_s:.1f} output tok/s",
                flush=True,
            )
        out[scenario["name"]] = reps
    return {"scenarios": out, "peak_memory_mb": mx.get_peak_memory() / 2**20, "blas": blas}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m benchmarks.ceiling PLAN.json OUT.json", file=sys.stderr)
        return 2
    plan = json.loads(Path(args[0]).read_text())
    Path(args[1]).write_text(json.dumps(run_plan(plan)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

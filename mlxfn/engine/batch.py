"""Continuous batching over mlx-lm's ``BatchGenerator``, with a prefix cache.

Requests join and leave the running batch between decode steps; long prompts are prefilled
in chunks between decode steps, so running streams keep flowing. Every change to the batch
is an explicit call here (``admit``, ``cancel``, ``step``), made in the order the engine
thread decides, so that ranks could replay the same sequence of batch operations later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mlx.core as mx
from mlx_lm.generate import BatchGenerator
from mlx_lm.models.cache import LRUPromptCache, can_trim_prompt_cache, trim_prompt_cache

from mlxfn.engine.job import Job
from mlxfn.engine.loader import LoadedModel
from mlxfn.engine.sampling import make_logits_processors, make_sampler
from mlxfn.engine.stream import TextStream


class Batch:
    """The running batch. ``on_done`` is called exactly once for every admitted member."""

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        max_batch: int,
        prefill_step: int,
        prefill_step_busy: int,
        prompt_cache_bytes: int,
        on_done: Callable[[Job], None],
    ) -> None:
        self.loaded = loaded
        self.on_done = on_done
        self.max_batch = max_batch
        self.prefill_step = prefill_step
        self.prefill_step_busy = min(prefill_step_busy, prefill_step)
        self.cache = LRUPromptCache(max_size=1 << 20, max_bytes=prompt_cache_bytes)
        self.cache_enabled = prompt_cache_bytes > 0
        self.members: dict[int, tuple[Job, TextStream]] = {}
        self.generator = self._new_generator()

    def _new_generator(self) -> Any:  # BatchGenerator, whose methods are untyped
        return BatchGenerator(
            self.loaded.model,
            stop_tokens=[[token] for token in sorted(self.loaded.eos_token_ids)],
            completion_batch_size=self.max_batch,
            prefill_batch_size=min(8, self.max_batch),
            prefill_step_size=self.prefill_step,
        )

    @property
    def idle(self) -> bool:
        return not self.members

    def __len__(self) -> int:
        return len(self.members)

    def admit(self, job: Job) -> None:
        """Add a request; its prompt's longest cached prefix is not computed again."""
        plan = job.plan
        prompt = list(plan.prompt)
        cache, rest = self._cached_prefix(prompt)
        cached = len(prompt) - len(rest)
        (uid,) = self.generator.insert(
            [rest],
            max_tokens=[plan.max_tokens],
            caches=[cache] if cache is not None else None,
            all_tokens=[prompt[:cached]],
            samplers=[make_sampler(plan.sampling)],
            logits_processors=[make_logits_processors(plan.sampling)],
        )
        stream = TextStream(plan, job.sink, self.loaded.tokenizer.detokenizer, cached)
        self.members[uid] = (job, stream)

    def _cached_prefix(self, prompt: list[int]) -> tuple[list[Any] | None, list[int]]:
        if not self.cache_enabled:
            return None, prompt
        cache, rest = self.cache.fetch_nearest_cache(self.loaded.name, prompt)
        if cache is None:
            return None, prompt
        if not rest:  # all of it is cached: recompute the last token to get its logits
            if not can_trim_prompt_cache(cache):
                return None, prompt
            trim_prompt_cache(cache, 1)
            rest = prompt[-1:]
        return cache, list(rest)

    def drop_cancelled(self) -> None:
        gone = [uid for uid, (member, _) in self.members.items() if member.cancelled]
        if gone:
            self.generator.remove(gone)
            for uid in gone:
                self._done(uid)

    def step(self) -> None:
        """One decode step for every running sequence (and one prefill chunk, if any waits)."""
        # While streams are decoding, prefill in small chunks, so that a long prompt arriving
        # stalls them for a short chunk per step instead of a long one; alone, prefill fast.
        decoding = any(stream.generated for _, stream in self.members.values())
        self.generator.prefill_step_size = self.prefill_step_busy if decoding else self.prefill_step
        _, responses = self.generator.next()
        for response in responses:
            uid = response.uid
            if uid not in self.members:
                continue
            _, stream = self.members[uid]
            reason = response.finish_reason
            finished = stream.on_token(response.token, reason == "stop", reason == "length")
            if reason is not None:  # the generator has already let it go
                self._finish(uid, stream)
                self._keep_cache(response.all_tokens, response.prompt_cache)
            elif finished:  # a stop string ended it: take it out of the batch
                kept = self.generator.remove([uid], True)
                self._finish(uid, stream)
                for cache, tokens in kept.values():
                    self._keep_cache(tokens, cache)

    def _keep_cache(self, tokens: list[int] | None, cache: list[Any] | None) -> None:
        if self.cache_enabled and tokens and cache:
            self.cache.insert_cache(self.loaded.name, list(tokens), _compacted(cache))

    def _finish(self, uid: int, stream: TextStream) -> None:
        self._done(uid)
        if stream.final is not None:
            stream.sink(stream.final)

    def _done(self, uid: int) -> None:
        member, _ = self.members.pop(uid)
        self.on_done(member)

    def fail_all(self, why: str) -> None:
        """Fail every member: its slot is freed, then its client told."""
        for uid in list(self.members):
            job, _ = self.members[uid]
            self._done(uid)
            job.fail(why)

    def reset(self) -> None:
        """Start over with an empty generator, after an MLX error left it in an unknown state."""
        self.generator.close()
        self.generator = self._new_generator()

    def close(self) -> None:
        self.generator.close()


def _compacted(cache: list[Any]) -> list[Any]:
    """Copy each layer's KV state into arrays of its own.

    A cache extracted from the batch can be a view into the whole batch's buffers; kept in the
    prefix cache, such a view would pin all of them while being counted as one sequence, and
    the byte bound would not hold.
    """
    for layer in cache:
        layer.state = [mx.array(a) if isinstance(a, mx.array) else a for a in layer.state]
    mx.eval([layer.state for layer in cache])
    return cache

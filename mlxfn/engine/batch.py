"""Continuous batching over mlx-lm's ``BatchGenerator``, with a prefix cache.

Requests join and leave the running batch between decode steps; long prompts are prefilled
in chunks between decode steps, so running streams keep flowing. Every change to the batch
is an explicit call here (``admit``, ``cancel``, ``step``), made in the order the engine
thread decides, so that ranks could replay the same sequence of batch operations later.

Long prompts decode in a lane of their own. mlx-lm's batch KV cache is left-padded to its
longest member, so a 2k-token prompt joining eight short streams would copy all eight caches
out to 2k positions (a stall of seconds on a CPU) and make each of their later steps read the
padding. In a second lane it costs the short streams one more forward pass per step instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mlx.core as mx
from mlx_lm.generate import BatchGenerator
from mlx_lm.models.cache import LRUPromptCache, can_trim_prompt_cache, trim_prompt_cache

from mlxfn.domain.errors import GenerationError
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
        long_prompt: int,
        on_done: Callable[[Job], None],
    ) -> None:
        self.loaded = loaded
        self.on_done = on_done
        self.max_batch = max_batch
        self.prefill_step = prefill_step
        self.prefill_step_busy = min(prefill_step_busy, prefill_step)
        self.cache = LRUPromptCache(max_size=1 << 20, max_bytes=prompt_cache_bytes)
        self.cache_enabled = prompt_cache_bytes > 0
        self.long_prompt = long_prompt
        self.lanes = (_Lane(self._new_generator()), _Lane(self._new_generator()))

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
        return not len(self)

    def __len__(self) -> int:
        return sum(len(lane.members) for lane in self.lanes)

    def admit(self, job: Job) -> None:
        """Add a request; its prompt's longest cached prefix is not computed again."""
        plan = job.plan
        prompt = list(plan.prompt)
        cache, rest = self._cached_prefix(prompt)
        cached = len(prompt) - len(rest)
        lane = self.lanes[1 if len(prompt) >= self.long_prompt else 0]
        (uid,) = lane.generator.insert(
            [rest],
            max_tokens=[plan.max_tokens],
            caches=[cache] if cache is not None else None,
            all_tokens=[prompt[:cached]],
            samplers=[make_sampler(plan.sampling)],
            logits_processors=[make_logits_processors(plan.sampling)],
        )
        stream = TextStream(plan, job.sink, self.loaded.tokenizer.detokenizer, cached)
        lane.members[uid] = (job, stream)

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
        """Free the slots of requests whose clients went away."""
        self._drop(lambda job: job.cancelled)

    def drop_expired(self, now: float) -> list[Job]:
        """Free the slots of requests past their deadline, and return them to be told."""
        return self._drop(lambda job: job.expired(now))

    def _drop(self, leaving: Callable[[Job], bool]) -> list[Job]:
        dropped: list[Job] = []
        for lane in self.lanes:
            gone = [uid for uid, (job, _) in lane.members.items() if leaving(job)]
            if gone:
                lane.generator.remove(gone)
                for uid in gone:
                    dropped.append(self._done(lane, uid))
        return dropped

    def step(self) -> None:
        """One decode step for every running sequence (and one prefill chunk, if any waits)."""
        # While streams are decoding, prefill in small chunks, so that a long prompt arriving
        # stalls them for a short chunk per step instead of a long one; alone, prefill fast.
        decoding = any(
            stream.generated for lane in self.lanes for _, stream in lane.members.values()
        )
        for lane in self.lanes:
            if lane.members:
                lane.generator.prefill_step_size = (
                    self.prefill_step_busy if decoding else self.prefill_step
                )
                self._step_lane(lane)

    def _step_lane(self, lane: _Lane) -> None:
        _, responses = lane.generator.next()
        for response in responses:
            uid = response.uid
            if uid not in lane.members:
                continue
            _, stream = lane.members[uid]
            reason = response.finish_reason
            finished = stream.on_token(response.token, reason == "stop", reason == "length")
            if reason is not None:  # the generator has already let it go
                self._finish(lane, uid, stream)
                self._keep_cache(response.all_tokens, response.prompt_cache)
            elif finished:  # a stop string ended it: take it out of the batch
                kept = lane.generator.remove([uid], True)
                self._finish(lane, uid, stream)
                for cache, tokens in kept.values():
                    self._keep_cache(tokens, cache)

    def _keep_cache(self, tokens: list[int] | None, cache: list[Any] | None) -> None:
        if self.cache_enabled and tokens and cache:
            self.cache.insert_cache(self.loaded.name, list(tokens), _compacted(cache))

    def _finish(self, lane: _Lane, uid: int, stream: TextStream) -> None:
        self._done(lane, uid)
        if stream.final is not None:
            stream.sink(stream.final)

    def _done(self, lane: _Lane, uid: int) -> Job:
        member, _ = lane.members.pop(uid)
        self.on_done(member)
        return member

    def fail_all(self, error: GenerationError) -> None:
        """Fail every member: its slot is freed, then its client told."""
        for lane in self.lanes:
            for uid in list(lane.members):
                self._done(lane, uid).fail(error)

    def reset(self) -> None:
        """Start over with empty generators, after an MLX error left them in an unknown state."""
        for lane in self.lanes:
            lane.generator.close()
            lane.generator = self._new_generator()

    def close(self) -> None:
        for lane in self.lanes:
            lane.generator.close()


class _Lane:
    """One ``BatchGenerator`` and the requests decoding in it, by the generator's uid."""

    def __init__(self, generator: Any) -> None:
        self.generator = generator
        self.members: dict[int, tuple[Job, TextStream]] = {}


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

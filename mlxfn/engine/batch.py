"""Continuous batching over mlx-lm's ``BatchGenerator``, with a prefix cache.

Requests join and leave the running batch between decode steps; long prompts are prefilled
in chunks between decode steps, so running streams keep flowing. Every change to the batch
is an explicit call here (``admit``, ``cancel``, ``step``), made in the order the engine
thread decides, so that ranks could replay the same sequence of batch operations later.

Long prompts decode in a lane of their own. mlx-lm's batch KV cache is left-padded to its
longest member, so a 2k-token prompt joining eight short streams would copy all eight caches
out to 2k positions (a stall of seconds on a CPU) and make each of their later steps read the
padding. In a second lane it costs the short streams one more forward pass per step instead.

A plan of ``n`` choices is one sequence until its prompt is prefilled; at its first token the
prompt's KV cache is copied into ``n - 1`` more sequences (``_fork``), each with its own
sampler, so the prompt is computed once whatever ``n`` is.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import mlx.core as mx
from mlx_lm.generate import BatchGenerator
from mlx_lm.models.cache import LRUPromptCache, can_trim_prompt_cache, trim_prompt_cache

from mlxfn.domain.errors import GenerationError
from mlxfn.engine.constraint import Constraints
from mlxfn.engine.detokenizing import keep_leading_space
from mlxfn.engine.job import Job
from mlxfn.engine.loader import LoadedModel
from mlxfn.engine.logprobs import TokenTexts, score_token
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
        self.constraints = Constraints(loaded.tokenizer, loaded.eos_token_ids)
        self.lanes = (_Lane(self._new_generator()), _Lane(self._new_generator()))
        self._choices_left: dict[int, int] = {}  # by job id: choices not yet finished
        self.prefill_tokens = 0  # prompt tokens handed to the model, over the batch's life
        self._texts: TokenTexts | None = None  # built for the first request with logprobs

    @property
    def texts(self) -> TokenTexts:
        if self._texts is None:
            self._texts = TokenTexts(self.loaded.tokenizer)
        return self._texts

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
        streams = [self._stream(job, cached, index) for index in range(plan.n)]
        (uid,) = self._insert(
            lane, job, streams[:1], rest=rest, done=prompt[:cached], caches=[cache]
        )
        if plan.n > 1:  # the others wait for the prompt's KV cache: see _fork
            lane.forks[uid] = (job, streams[1:])
        self._choices_left[job.id] = plan.n

    def _stream(self, job: Job, cached: int, index: int) -> TextStream:
        detokenizer = self.loaded.tokenizer.detokenizer
        if job.plan.keep_leading_space:
            detokenizer = keep_leading_space(detokenizer)
        return TextStream(job.plan, job.sink, detokenizer, cached, index=index)

    def _insert(
        self,
        lane: _Lane,
        job: Job,
        streams: list[TextStream],
        *,
        rest: list[int],
        done: list[int],
        caches: list[list[Any] | None],
    ) -> list[int]:
        """Put one sequence per stream into the lane's generator, all from the same prompt:
        ``rest`` still to compute, ``done`` already in each stream's cache of ``caches``."""
        sampling, count = job.plan.sampling, len(streams)
        self.prefill_tokens += len(rest) * count
        uids: list[int] = lane.generator.insert(
            [list(rest) for _ in streams],
            max_tokens=[job.plan.max_tokens] * count,
            caches=caches,
            all_tokens=[list(done) for _ in streams],
            samplers=[make_sampler(sampling.for_choice(s.index)) for s in streams],
            # the grammar's mask last, so that no other processor can revive a token it forbids
            logits_processors=[
                [*make_logits_processors(job.plan), *self.constraints.processors(job.plan.grammar)]
                for _ in streams
            ],
        )
        for uid, stream in zip(uids, streams, strict=True):
            lane.members[uid] = (job, stream)
        return uids

    def _fork(self, lane: _Lane, uid: int, response: Any) -> None:
        """Start a plan's other choices from the KV cache of its first, now that the prompt
        is in it. The copies hold all of the prompt but its last token, whose logits each
        choice computes again to sample its own first token."""
        job, siblings = lane.forks.pop(uid)
        if response.finish_reason is not None:  # the generator has let it go already
            cache, tokens = response.prompt_cache, response.all_tokens
        else:
            cache, tokens = lane.generator.extract_cache([uid])[uid]
        prompt = list(job.plan.prompt)
        keep = len(prompt) - 1
        surplus = len(tokens) - keep
        if keep < 1 or not cache or not can_trim_prompt_cache(cache) or surplus < 0:
            # a cache that cannot be cut back to the prompt: each choice prefills its own
            self._insert(lane, job, siblings, rest=prompt, done=[], caches=[None] * len(siblings))
            return
        base = copy.deepcopy(cache)
        if surplus:
            trim_prompt_cache(base, surplus)
        caches: list[list[Any] | None] = [copy.deepcopy(base) for _ in siblings[1:]]
        self._insert(
            lane, job, siblings, rest=prompt[-1:], done=prompt[:-1], caches=[base, *caches]
        )

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
        dropped: dict[int, Job] = {}
        for lane in self.lanes:
            gone = [uid for uid, (job, _) in lane.members.items() if leaving(job)]
            if gone:
                lane.generator.remove(gone)
                for uid in gone:
                    job = self._done(lane, uid)
                    dropped[job.id] = job
        return list(dropped.values())

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
            if uid in lane.forks:
                self._fork(lane, uid, response)
            _, stream = lane.members[uid]
            reason = response.finish_reason
            top = stream.plan.top_logprobs
            scored = (
                None
                if top is None or reason == "stop"  # the end-of-sequence token is not reported
                else score_token(self.texts, response.logprobs, response.token, top)
            )
            finished = stream.on_token(response.token, reason == "stop", reason == "length", scored)
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
        """Take one choice out; once a plan has no choice left, its slot is free."""
        member, _ = lane.members.pop(uid)
        _, waiting = lane.forks.pop(uid, (member, []))  # choices that never started end too
        left = self._choices_left[member.id] - 1 - len(waiting)
        if left:
            self._choices_left[member.id] = left
        else:
            del self._choices_left[member.id]
            self.on_done(member)
        return member

    def fail_all(self, error: GenerationError) -> None:
        """Fail every member: its slot is freed, then its client told (once per request)."""
        failed: dict[int, Job] = {}
        for lane in self.lanes:
            for uid in list(lane.members):
                job = self._done(lane, uid)
                failed[job.id] = job
        for job in failed.values():
            job.fail(error)

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
        # by the uid of a plan's first choice: its other choices, until its prompt is in
        self.forks: dict[int, tuple[Job, list[TextStream]]] = {}


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

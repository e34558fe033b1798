"""The engine's settings and what it reports: ``EngineConfig`` (scheduling limits and the
request caps, with their defaults) and ``EngineStats`` (the snapshot ``/metrics`` reads)."""

from __future__ import annotations

import attrs

DEFAULT_MAX_PENDING = 64
DEFAULT_MAX_TOKENS = 512
DEFAULT_MAX_BATCH = 32
DEFAULT_PREFILL_STEP = 512
DEFAULT_PREFILL_STEP_BUSY = 64
DEFAULT_PROMPT_CACHE_BYTES = 256 * 1024 * 1024
DEFAULT_LONG_PROMPT = 1024
# Of the memory the system reports available once the model is loaded, the share that KV
# caches of running requests may take; the rest is headroom for activations and the heap.
MEMORY_BUDGET_SHARE = 0.8


@attrs.frozen(kw_only=True)
class EngineConfig:
    """Scheduling limits. ``max_pending`` counts queued and running requests together, and
    ``max_pending_tokens`` their prompt tokens; prompts of ``long_prompt`` tokens or more decode
    in a batch of their own (``batch.py``). ``memory_budget_bytes`` bounds the KV cache that
    running requests may need at their longest (None: a share of what the system has free).
    Timeouts are in seconds; None means no limit. The three request caps go to ``Limits``."""

    max_pending: int = DEFAULT_MAX_PENDING
    max_pending_tokens: int | None = None
    default_max_tokens: int = DEFAULT_MAX_TOKENS
    max_completion_tokens: int | None = None
    max_output_tokens: int | None = None
    model_aliases: frozenset[str] = frozenset()
    max_prompt_tokens: int | None = None
    max_messages: int | None = None
    queue_timeout: float | None = None
    request_timeout: float | None = None
    memory_budget_bytes: int | None = None
    max_batch: int = DEFAULT_MAX_BATCH
    prefill_step: int = DEFAULT_PREFILL_STEP
    prefill_step_busy: int = DEFAULT_PREFILL_STEP_BUSY
    prompt_cache_bytes: int = DEFAULT_PROMPT_CACHE_BYTES
    long_prompt: int = DEFAULT_LONG_PROMPT


@attrs.frozen(kw_only=True)
class EngineStats:
    """What the engine thread last published about itself, for ``/metrics``. Other threads
    read this snapshot instead of calling MLX, whose state belongs to the engine thread."""

    queued: int = 0
    running: int = 0
    active_memory_bytes: int = 0
    peak_memory_bytes: int = 0
    cache_memory_bytes: int = 0
    prefill_tokens: int = 0  # prompt tokens computed since the start (cached ones are not)

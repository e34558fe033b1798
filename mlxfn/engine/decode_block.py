"""A Llama decoder layer for one row (one sequence, one token) with fewer MLX operations.

On the CPU each MLX operation costs ~10 µs to dispatch, and a one-row step of SmolLM2-135M is
made of ~1,000 of them. With the products of one row already in mlxfn's native kernel
(``engine/matvec.py``), which works on numpy buffers, the norms, the residual additions and
the MLP's SwiGLU are done here in numpy on the same buffers (a few µs each); only the
attention (rope, the KV cache, softmax) stays in MLX, called as mlx-lm wrote it. Any other
call (prefill, a batch) takes mlx-lm's own path. Shell module: it calls the kernel.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlxfn.engine import matvec


def _llama() -> Any:
    from mlx_lm.models import llama

    return llama


def _rms_norm(x: Any, weight: Any, eps: float) -> Any:
    return x * (1.0 / np.sqrt(np.mean(x * x) + np.float32(eps))) * weight


def _row_product(layer: Any, row: Any) -> Any | None:
    """One row times the layer's weight through the kernel, as numpy; ``None`` if it can't."""
    found = matvec.kernel()
    if found is None:
        return None
    if isinstance(layer, matvec.FastLinear):
        packed, bits = layer.packed.arrays, layer.packed.bits
    elif isinstance(layer, matvec.FastQuantizedLinear):
        packed, bits = (layer["weight"], layer["scales"], layer["biases"]), layer.bits
    else:
        return None
    if "bias" in layer:
        return None
    y = np.empty((1, packed[0].shape[0]), dtype=np.float32)
    found.qmv(row.reshape(1, -1), packed, y, bits=bits)
    return y[0]


class FastBlock(_llama().TransformerBlock):  # type: ignore[misc]
    """mlx-lm's Llama ``TransformerBlock``; one row: norms, residuals and MLP in numpy."""

    def __call__(self, x: Any, mask: Any = None, cache: Any = None) -> Any:
        import mlx.core as mx

        if x.ndim != 3 or x.shape[0] * x.shape[1] != 1 or x.dtype != mx.float32:
            return super().__call__(x, mask, cache)
        row = np.asarray(x).reshape(-1)  # evaluates x
        first, second = self.input_layernorm, self.post_attention_layernorm
        normed = _rms_norm(row, np.asarray(first["weight"]), first.eps)
        attended = self.self_attn(mx.array(normed).reshape(x.shape), mask, cache)
        h = row + np.asarray(attended).reshape(-1)
        mlp = self.mlp
        normed = _rms_norm(h, np.asarray(second["weight"]), second.eps)
        gate, up = _row_product(mlp.gate_proj, normed), _row_product(mlp.up_proj, normed)
        if gate is None or up is None:
            out = h + np.asarray(mlp(mx.array(normed).reshape(x.shape))).reshape(-1)
        else:
            act = gate / (np.float32(1.0) + np.exp(-gate)) * up
            down = _row_product(mlp.down_proj, act)
            if down is None:
                down = np.asarray(mlp.down_proj(mx.array(act)[None])).reshape(-1)
            out = h + down
        return mx.array(out.astype(np.float32, copy=False)).reshape(x.shape)


def install_fast_blocks(model: Any) -> int:
    """Turn the model's mlx-lm Llama layers, whose MLP products the kernel takes, into
    ``FastBlock`` in place. Returns how many it turned."""
    import importlib

    nn: Any = importlib.import_module("mlx.nn")
    llama = _llama()
    fast = (matvec.FastLinear, matvec.FastQuantizedLinear)
    turned = 0
    for _, module in model.named_modules():
        if (
            type(module) is llama.TransformerBlock
            and type(module.mlp) is llama.MLP
            and type(module.input_layernorm) is nn.RMSNorm
            and type(module.post_attention_layernorm) is nn.RMSNorm
            and all(
                isinstance(getattr(module.mlp, p), fast)
                for p in ("gate_proj", "up_proj", "down_proj")
            )
        ):
            module.__class__ = FastBlock
            turned += 1
    return turned

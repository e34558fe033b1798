"""The layout of a model's weights in memory: ``--weights quantized|float32|native|auto``.

Measured on the 2-core Linux box (BENCHMARKS.md, "Weight layouts"): SmolLM2-135M's Q4_1 file
decodes at 11 tok/s with MLX's CPU quantized kernels and at 23 tok/s dequantized to float32,
whose one-row products go to OpenBLAS; MLX's CPU has no half-precision BLAS either, so float16
and bfloat16 products are 2 to 5 times slower than float32 ones. So ``auto`` on a CPU turns
every layer into float32, unless that would take more than a quarter of the machine's memory,
in which case quantized layers stay quantized and only half-precision arrays (scales included)
become float32. On a GPU, where half precision and quantized kernels are both fast, ``auto``
keeps the model as stored.

Products of one row (decode, one sequence) are the exception on a CPU: mlxfn's own C kernel
(``engine/matvec.py``) multiplies one row by a packed 4- or 8-bit weight 2-10 times faster than
either MLX path (BENCHMARKS.md, "A native quantized matvec"). So where it builds, ``auto``'s
float32 layers also keep their packed weights (about a fifth more memory), for one-row
products (up to 16 rows for an LM head), and a model too big to unpack keeps its packed layers
with the kernel for a few rows. ``native`` is that last layout asked for by name. Either way a
Llama layer then decodes one row with its norms and MLP in numpy (``engine/decode_block.py``).
"""

from __future__ import annotations

import os
from typing import Any, Final, Literal, cast, get_args

WeightLayout = Literal["auto", "quantized", "float32", "native"]
WEIGHT_LAYOUTS: Final = get_args(WeightLayout)
# auto's float32 copy may take at most this share of physical memory
_FLOAT32_SHARE: Final = 0.25


def choose_layout(*, on_cpu: bool, float32_bytes: int, memory_bytes: int) -> WeightLayout:
    """What ``auto`` means for a model whose weights would take ``float32_bytes`` as float32.

    >>> choose_layout(on_cpu=True, float32_bytes=540_000_000, memory_bytes=24 * 2**30)
    'float32'
    >>> choose_layout(on_cpu=True, float32_bytes=32 * 2**30, memory_bytes=24 * 2**30)
    'auto'
    >>> choose_layout(on_cpu=False, float32_bytes=540_000_000, memory_bytes=24 * 2**30)
    'quantized'
    """
    if not on_cpu:
        return "quantized"
    return "float32" if float32_bytes <= _FLOAT32_SHARE * memory_bytes else "auto"


def _on_cpu() -> bool:
    import mlx.core as mx

    return bool(mx.default_device() == mx.cpu)


def _memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _float32_bytes(model: Any) -> int:
    """The weights' size once every quantized layer is unpacked into float32."""
    from mlx.utils import tree_flatten

    modules = dict(model.named_modules())
    elements = 0
    flat = cast(list[tuple[str, Any]], tree_flatten(model.parameters()))
    for name, value in flat:
        owner, _, leaf = name.rpartition(".")
        bits = getattr(modules.get(owner), "bits", None)
        if bits is None:
            elements += value.size
        elif leaf == "weight":  # packed: 32 bits of a uint32 hold 32 // bits weights
            elements += value.size * 32 // bits
        # a packed layer's scales and biases are gone once it is unpacked
    return 4 * elements


def _half_to_float32(model: Any) -> None:
    import mlx.core as mx
    from mlx.utils import tree_map

    half = (mx.float16, mx.bfloat16)
    params = model.parameters()
    model.update(tree_map(lambda a: a.astype(mx.float32) if a.dtype in half else a, params))


def _unpack(model: Any, *, keep_copies: bool) -> Any:
    """Every layer in float32; with ``keep_copies``, the quantized layers the native kernel
    takes also keep their packed weights, for products of one row (``engine/matvec.py``)."""
    from mlx_lm.utils import dequantize_model

    from mlxfn.engine.matvec import attach_packed_copies, packed_copies

    copies = packed_copies(model) if keep_copies else {}
    model = dequantize_model(model)
    _half_to_float32(model)
    if attach_packed_copies(model, copies):
        from mlxfn.engine.decode_block import install_fast_blocks

        install_fast_blocks(model)
    return model


def apply_layout(model: Any, layout: WeightLayout) -> Any:
    """The model with its weights in ``layout`` (the model may be changed in place)."""
    match layout:
        case "quantized":
            return model
        case "float32":
            return _unpack(model, keep_copies=False)
        case "native":  # packed, float32 scales; few-row products through mlxfn's C kernel
            _half_to_float32(model)
            from mlxfn.engine.decode_block import install_fast_blocks
            from mlxfn.engine.matvec import install_fast_products

            if install_fast_products(model):
                install_fast_blocks(model)
            return model
        case "auto":
            chosen = choose_layout(
                on_cpu=_on_cpu(), float32_bytes=_float32_bytes(model), memory_bytes=_memory_bytes()
            )
            if chosen == "auto":  # too big to unpack: packed, at float32 precision (= native)
                return apply_layout(model, "native")
            if chosen == "float32":  # and one-row products through the kernel, where there is one
                return _unpack(model, keep_copies=True)
            return apply_layout(model, chosen)

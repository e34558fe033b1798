"""Which layout a loaded model's weights take in memory: ``--weights quantized|float32|auto``.

Measured on the 2-core Linux box (BENCHMARKS.md, "Weight layouts"): MLX's CPU backend
multiplies float16 and bfloat16 2 to 5 times slower than float32 (it has no half-precision
BLAS), while its quantized kernels decode SmolLM2's Q4_1 as fast as the same model dequantized
to float32, at a seventh of the memory. So ``auto`` keeps quantized layers quantized and turns
every half-precision array (scales included) into float32 on the CPU, and leaves the model as
stored on a GPU, where half precision and quantized kernels are both fast.
"""

from __future__ import annotations

from typing import Any, Final, Literal, get_args

WeightLayout = Literal["auto", "quantized", "float32"]
WEIGHT_LAYOUTS: Final = get_args(WeightLayout)


def _on_cpu() -> bool:
    import mlx.core as mx

    return bool(mx.default_device() == mx.cpu)


def _half_to_float32(model: Any) -> None:
    import mlx.core as mx
    from mlx.utils import tree_map

    half = (mx.float16, mx.bfloat16)
    model.update(
        tree_map(lambda a: a.astype(mx.float32) if a.dtype in half else a, model.parameters())
    )


def apply_layout(model: Any, layout: WeightLayout) -> Any:
    """The model with its weights in ``layout`` (the model may be changed in place)."""
    match layout:
        case "quantized":
            return model
        case "float32":
            from mlx_lm.utils import dequantize_model

            model = dequantize_model(model)
            _half_to_float32(model)
            return model
        case "auto":
            if _on_cpu():
                _half_to_float32(model)
            return model

"""The shell around MLX: model loading, sampling, the per-token loop and the engine thread.

The engine is what imports MLX, so importing it loads the fast BLAS first on Linux: OpenBLAS
must be in the global scope before the first ``import mlx`` (``mlxfn/platform/blas.py`` says
why). Every way in (``python -m mlxfn``, ``mlxfn.start_engine``, the server) passes here.
"""

import sys

if sys.platform == "linux":
    from mlxfn.platform.blas import preload_fast_blas

    preload_fast_blas()

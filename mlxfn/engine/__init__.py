"""The shell around MLX: model loading, sampling, the per-token loop and the engine thread.

The engine is what imports MLX, so importing it loads the fast BLAS first on Linux: OpenBLAS
must be in the global scope before the first ``import mlx`` (see ``mlxfn/blas.py``). Every way
in (``python -m mlxfn``, ``mlxfn.start_engine``, the server) imports this package first.
"""

import sys

if sys.platform == "linux":
    from mlxfn.blas import preload_fast_blas

    preload_fast_blas()

"""Process-level shims: the fast BLAS for MLX on Linux, libc calls, OS thread names, the cache.

A shell package that imports nothing else of mlxfn: ctypes and the file system only.
"""

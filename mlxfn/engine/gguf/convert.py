"""Turning a GGUF file into a cached mlx-lm model folder, once per file.

The folder lives in mlxfn's cache folder (``mlxfn.platform.cache_dir``) as ``gguf/<sha256 of the
file>``, so a renamed or copied file is not converted again and an edited one is. It is
written beside its final name and renamed into place, so an interrupted conversion leaves
nothing half-written that a later run would trust.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from returns.io import IOFailure, IOResult, IOSuccess, impure_safe
from returns.result import Failure, Result

from mlxfn.engine.gguf.config import (
    GgufUnsupported,
    config_of,
    describe_unreadable,
    module_name,
    quantization_of,
    unreadable_types,
)
from mlxfn.engine.gguf.tokenizer import write_tokenizer
from mlxfn.platform.cache_dir import cache_root

# Bump when the folder this writes changes, so caches from older versions are rebuilt.
FORMAT_VERSION = 1
_MARKER = "mlxfn-gguf.json"


def gguf_file_in(source: str) -> Path | None:
    """The GGUF file ``source`` names: the file itself, or the one ``.gguf`` in a folder that
    has no ``config.json`` of its own."""
    path = Path(source).expanduser()
    if path.suffix.lower() == ".gguf":
        return path
    if path.is_dir() and not (path / "config.json").exists():
        found = sorted(path.glob("*.gguf"))
        if len(found) == 1:
            return found[0]
    return None


def _digest(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _plain(value: Any) -> Any:
    """A metadata value as Python: MLX hands scalars and numeric arrays back as arrays."""
    import mlx.core as mx

    if isinstance(value, mx.array):
        return value.item() if value.ndim == 0 else value.tolist()
    return value


def _tensor_types(path: Path) -> dict[str, str]:
    # MLX does not say a tensor's GGUF type (and reads the ones it cannot decode as garbage),
    # so the types come from llama.cpp's own reader, which maps the file without loading it.
    from gguf import GGMLQuantizationType, GGUFReader

    return {t.name: GGMLQuantizationType(t.tensor_type).name for t in GGUFReader(path).tensors}


def _write_folder(
    path: Path, weights: Mapping[str, Any], metadata: Mapping[str, Any], folder: Path
) -> Result[None, GgufUnsupported]:
    import mlx.core as mx

    freqs = weights.get("rope_freqs.weight")
    rope_freqs = None if freqs is None else [float(f) for f in freqs.astype(mx.float32).tolist()]
    return config_of(metadata, weights.keys(), rope_freqs).map(
        lambda config: _write(path, weights, metadata, config, folder)
    )


def _write(
    path: Path,
    weights: Mapping[str, Any],
    metadata: Mapping[str, Any],
    config: dict[str, Any],
    folder: Path,
) -> None:
    import mlx.core as mx

    renamed = {name: array for key, array in weights.items() if (name := module_name(key))}
    quantization = quantization_of({k: tuple(v.shape) for k, v in renamed.items()})
    if quantization is not None:
        config["quantization"] = quantization
    mx.save_safetensors(str(folder / "model.safetensors"), renamed, metadata={"format": "mlx"})
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    write_tokenizer(metadata, folder)
    marker = {"source": str(path), "format_version": FORMAT_VERSION}
    (folder / _MARKER).write_text(json.dumps(marker, indent=2))


@impure_safe(exceptions=(OSError, ValueError, KeyError, TypeError, RuntimeError))
def _convert(path: Path) -> Path | GgufUnsupported:
    import mlx.core as mx

    target = cache_root() / "gguf" / f"{_digest(path)}-v{FORMAT_VERSION}"
    if (target / _MARKER).is_file():
        return target
    if unreadable := unreadable_types(_tensor_types(path)):
        return describe_unreadable(unreadable)
    weights, raw = cast(
        tuple[dict[str, Any], dict[str, Any]], mx.load(str(path), return_metadata=True)
    )
    metadata = {k: _plain(v) for k, v in raw.items()}
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
    try:
        written = _write_folder(path, weights, metadata, scratch)
        if isinstance(written, Failure):
            return cast(GgufUnsupported, written.failure())
        try:
            scratch.rename(target)
        except OSError:  # another process finished the same conversion first
            if not (target / _MARKER).is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def gguf_folder(path: Path) -> IOResult[Path, GgufUnsupported]:
    """The mlx-lm folder for a GGUF file, converting it on first use."""
    if not path.is_file():
        return IOFailure(GgufUnsupported(f"no such GGUF file: {path}", "check the path"))

    def settle(outcome: Path | GgufUnsupported) -> IOResult[Path, GgufUnsupported]:
        return IOSuccess(outcome) if isinstance(outcome, Path) else IOFailure(outcome)

    def unreadable(exc: Exception) -> GgufUnsupported:
        reason = f"cannot read {path.name}: {type(exc).__name__}: {exc}"
        return GgufUnsupported(reason, "is it a whole GGUF file?")

    return _convert(path).alt(unreadable).bind(settle)

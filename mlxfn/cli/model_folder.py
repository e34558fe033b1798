"""Reading a model folder's facts for ``python -m mlxfn info``: config, safetensors headers and
the tokenizer, never the weights themselves."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from returns.io import IOFailure, IOResult, impure_safe

from mlxfn.cli.model_info import FileEntry, FolderFacts, TensorHeader, TokenizerFacts

_HEADER_LENGTH = struct.Struct("<Q")  # a safetensors file opens with its header's byte length
_MAX_HEADER_BYTES = 100 * 1024 * 1024  # the format's own limit


def read_safetensors_header(path: Path) -> tuple[tuple[str, TensorHeader], ...]:
    """Tensor names, dtypes and shapes from a safetensors file's JSON header."""
    with path.open("rb") as f:
        prefix = f.read(_HEADER_LENGTH.size)
        if len(prefix) < _HEADER_LENGTH.size:
            raise ValueError(f"{path.name} is not a safetensors file (too short)")
        (length,) = _HEADER_LENGTH.unpack(prefix)
        if length > _MAX_HEADER_BYTES:
            raise ValueError(f"{path.name} is not a safetensors file (header of {length} bytes)")
        header = json.loads(f.read(length))
    if not isinstance(header, dict):
        raise ValueError(f"{path.name} is not a safetensors file (header is not an object)")
    return tuple(
        (name, TensorHeader(str(entry["dtype"]), tuple(int(n) for n in entry["shape"])))
        for name, entry in sorted(header.items())
        if name != "__metadata__"
    )


def _has_template_file(folder: Path) -> bool:
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    config = folder / "tokenizer_config.json"
    return config.is_file() and bool(json.loads(config.read_text()).get("chat_template"))


def _read_tokenizer(folder: Path, config: dict[str, Any]) -> TokenizerFacts | str:
    # mlx-lm's own loader decides the template and the tool parser the server will use.
    try:
        from mlx_lm.utils import load_tokenizer

        eos = config.get("eos_token_id")
        tokenizer = load_tokenizer(folder, eos_token_ids=eos)  # type: ignore[no-untyped-call]
        parser = tokenizer.init_kwargs.get("tool_parser_type")
        return TokenizerFacts(
            chat_template=bool(tokenizer.has_chat_template),
            tool_parser=parser if isinstance(parser, str) else None,
            vocab_size=len(tokenizer.get_vocab()),
        )
    except Exception as exc:  # noqa: BLE001  a tokenizer that will not load is a fact to report
        return " ".join(f"{type(exc).__name__}: {exc}".split())[:200]


@impure_safe(exceptions=(OSError, ValueError, KeyError, TypeError))
def _read(folder: Path, with_tokenizer: bool) -> FolderFacts:
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ValueError("no config.json in the folder; it does not look like an MLX model")
    config = json.loads(config_path.read_text())
    if not isinstance(config, dict):
        raise ValueError("config.json is not a JSON object")
    weights = sorted(folder.glob("*.safetensors"))
    files = tuple(
        FileEntry(str(p.relative_to(folder)), p.stat().st_size)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    )
    return FolderFacts(
        path=str(folder),
        config=config,
        tensors=tuple(t for w in weights for t in read_safetensors_header(w)),
        files=files,
        template_file=_has_template_file(folder),
        tokenizer=_read_tokenizer(folder, config) if with_tokenizer else "not read",
    )


def load_folder_facts(folder: Path, *, with_tokenizer: bool = True) -> IOResult[FolderFacts, str]:
    """The facts of a local model folder, or one line saying why they cannot be read."""
    if not folder.is_dir():
        return IOFailure("no such model folder")
    return _read(folder.resolve(), with_tokenizer).alt(lambda exc: " ".join(str(exc).split()))

"""The flags that say which models to serve: ``--model`` (repeatable, ``NAME=SOURCE``),
``--adapter NAME=DIR`` on the ``--model`` before it, and when models load and unload."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import attrs

from mlxfn.cli.flag_values import byte_size, positive, seconds
from mlxfn.engine.weights import WEIGHT_LAYOUTS

MODEL_HELP = (
    "a local MLX model folder, a GGUF file (Q4_0, Q4_1, Q8_0, F16, BF16, F32), or a Hugging "
    "Face hub id (needs network access once); default: SmolLM2-135M-Instruct"
)


@attrs.frozen
class ModelArg:
    """One ``--model`` or ``--adapter`` as given: ``name`` is the id before ``=``, if any."""

    kind: str  # "model" or "adapter"
    source: str
    name: str | None = None


def named(text: str) -> tuple[str | None, str]:
    """``NAME=SOURCE`` → (NAME, SOURCE); a source alone has no name. A name holds no ``/``,
    so a path or hub id with ``=`` in it is still a source.

    >>> named("small=./models/tiny"), named("./tiny"), named("./a=b/c")
    (('small', './models/tiny'), (None, './tiny'), (None, './a=b/c'))
    """
    name, sep, source = text.partition("=")
    if sep and name and "/" not in name and source:
        return name, source
    return None, text


class _InOrder(argparse.Action):
    """Appends each ``--model`` and ``--adapter`` to one list, so an adapter knows which
    model it was given after."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        kind = "adapter" if option_string == "--adapter" else "model"
        name, source = named(str(values))
        if kind == "adapter" and name is None:
            parser.error(f"--adapter takes NAME=DIR, got {values!r}")
        given = [*(getattr(namespace, self.dest, None) or []), ModelArg(kind, source, name)]
        setattr(namespace, self.dest, given)


def add_model_flags(group: argparse._ArgumentGroup, *, several: bool = False) -> None:
    """``--model``, ``--weights`` and ``--context-length``; with ``several``, ``--model`` may
    repeat (``NAME=SOURCE``) and ``--adapter`` and the loading flags come too."""
    if several:
        group.add_argument(
            "--model",
            dest="models",
            action=_InOrder,
            metavar="[NAME=]DIR|FILE.gguf|HUB_ID",
            help=f"{MODEL_HELP}. Repeat it to serve several models, each under its id (NAME, "
            "else the folder's or file's name, or the hub id); the first is the default",
        )
        group.add_argument(
            "--adapter",
            dest="models",
            action=_InOrder,
            metavar="NAME=DIR",
            help="an mlx-lm LoRA adapter folder, served as the model id NAME on the --model "
            "given before it (the default model if none); repeatable",
        )
    else:
        group.add_argument("--model", metavar="DIR|FILE.gguf|HUB_ID", help=MODEL_HELP)
    group.add_argument(
        "--weights",
        choices=WEIGHT_LAYOUTS,
        default="auto",
        help="the weights' layout in memory: as stored (quantized), all float32, native "
        "(packed, one-row products through mlxfn's C kernel), or auto: on a CPU float32 when "
        "it takes at most a quarter of the memory, keeping the packed weights for one-row "
        "products through the kernel (the fastest measured there), on a GPU as stored "
        "(default: auto)",
    )
    group.add_argument(
        "--context-length",
        type=positive,
        metavar="N",
        help="override the model's context length (default: from the model's config)",
    )
    if several:
        _add_loading_flags(group)


def _add_loading_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--preload",
        action="store_true",
        help="load every model at start (default: the first at start, others when first asked for)",
    )
    group.add_argument(
        "--models-memory",
        type=byte_size,
        metavar="BYTES",
        help="memory the loaded models may take together, e.g. 8G, each counted as its "
        "weights and its --prompt-cache-bytes: loading one more unloads the least recently "
        "used idle ones first (default: no limit)",
    )
    group.add_argument(
        "--keep-alive",
        type=seconds,
        metavar="SECONDS",
        help="unload a model idle for this long; the next request loads it again (default: never)",
    )

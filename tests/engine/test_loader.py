"""The model loader: a real folder loads, a bad one is a value (IOFailure), never a crash."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from returns.result import Failure, Success

from mlxfn.domain.model_config import FALLBACK_CONTEXT_LENGTH, context_length_of
from mlxfn.effects import run_io
from mlxfn.engine.loader import LoadedModel, ModelLoadFailed, ModelSpec, load_model, served_name_of


def test_loads_the_tiny_model(tiny_model_dir: Path) -> None:
    match run_io(load_model(ModelSpec(source=str(tiny_model_dir)))):
        case Success(LoadedModel() as loaded):
            assert loaded.name == "tiny"
            assert loaded.context_length == 512
            im_end = loaded.tokenizer.convert_tokens_to_ids("<|im_end|>")
            assert im_end in loaded.eos_token_ids
            assert loaded.created > 0
        case other:
            pytest.fail(f"expected a loaded model, got {other!r}")


def test_eos_ids_come_from_the_config(eos_model_dir: Path) -> None:
    loaded = run_io(load_model(ModelSpec(source=str(eos_model_dir)))).unwrap()
    # The always-EOS model lists token 0 (<|endoftext|>) as well as <|im_end|>.
    assert 0 in loaded.eos_token_ids
    assert len(loaded.eos_token_ids) == 2


def test_missing_folder_is_a_load_failure(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "model"
    result = run_io(load_model(ModelSpec(source=str(missing))))
    assert result == Failure(ModelLoadFailed(str(missing), "no such model folder"))


@pytest.mark.parametrize("with_weights", [False, True], ids=["empty-folder", "weights-only"])
def test_folder_without_config_is_a_load_failure(
    tiny_model_dir: Path, tmp_path: Path, *, with_weights: bool
) -> None:
    folder = tmp_path / "broken"
    if with_weights:
        shutil.copytree(tiny_model_dir, folder)
        (folder / "config.json").unlink()
    else:
        folder.mkdir()
    match run_io(load_model(ModelSpec(source=str(folder)))):
        case Failure(ModelLoadFailed(source=source, reason=reason)):
            assert source == str(folder)
            assert "config.json" in reason
        case other:
            pytest.fail(f"expected ModelLoadFailed, got {other!r}")


def test_unreadable_config_is_a_load_failure(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bad-config"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "config.json").write_text("{ this is not json")
    assert isinstance(run_io(load_model(ModelSpec(source=str(folder)))).failure(), ModelLoadFailed)


def test_served_name_and_context_length_overrides(tiny_model_dir: Path) -> None:
    spec = ModelSpec(source=str(tiny_model_dir), served_name="my-model", context_length=128)
    loaded = run_io(load_model(spec)).unwrap()
    assert loaded.name == "my-model"
    assert loaded.context_length == 128


def test_served_name_defaults_to_the_folder_name_even_with_a_trailing_slash(
    tiny_model_dir: Path,
) -> None:
    loaded = run_io(load_model(ModelSpec(source=f"{tiny_model_dir}/"))).unwrap()
    assert loaded.name == "tiny"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("mlx-community/Qwen3-0.6B-4bit", "mlx-community/Qwen3-0.6B-4bit"),
        ("/tmp/models/tiny/", "tiny"),
        ("/tmp/models/tiny", "tiny"),
        ("./models/llama-3", "llama-3"),
        ("~/models/phi", "phi"),
    ],
)
def test_served_name_of(source: str, expected: str) -> None:
    assert served_name_of(source) == expected


def test_served_name_of_an_existing_relative_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "org" / "local-model").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    # No leading "./", but the folder exists, so it is a path and not a hub id.
    assert served_name_of("org/local-model") == "local-model"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"max_position_embeddings": 512}, 512),
        ({"n_ctx": 2048}, 2048),
        ({"seq_length": 8192, "n_positions": 1024}, 8192),
        ({"max_position_embeddings": 4000, "n_ctx": 2048}, 4000),
        ({"text_config": {"max_position_embeddings": 32768}}, 32768),
        ({"max_position_embeddings": 1024, "text_config": {"n_ctx": 99}}, 1024),
        ({"max_position_embeddings": 0, "n_ctx": 256}, 256),
        ({"max_position_embeddings": "512"}, FALLBACK_CONTEXT_LENGTH),
        ({"text_config": None}, FALLBACK_CONTEXT_LENGTH),
        ({}, FALLBACK_CONTEXT_LENGTH),
    ],
)
def test_context_length_of(config: dict[str, Any], expected: int) -> None:
    assert context_length_of(config) == expected

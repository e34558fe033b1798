"""`python -m mlxfn info`: counting and describing a model folder's contents without loading it."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from returns.io import IOFailure, IOSuccess
from returns.result import Success

from mlxfn.cli.model_folder import load_folder_facts, read_safetensors_header
from mlxfn.cli.model_info import (
    FileEntry,
    FolderFacts,
    ModelInfo,
    Quantization,
    TensorHeader,
    TokenizerFacts,
    build_model_info,
    count_parameters,
    dtype_of,
    quantization_of,
    render_model_info,
    render_model_info_json,
)
from mlxfn.effects import run_io

Q4 = {"quantization": {"group_size": 64, "bits": 4, "mode": "affine"}}


def quantized(name: str, rows: int, columns: int, bits: int) -> list[tuple[str, TensorHeader]]:
    """A linear layer as MLX stores it quantized: packed uint32 words, scales and biases."""
    groups = columns // 64
    return [
        (f"{name}.weight", TensorHeader("U32", (rows, columns * bits // 32))),
        (f"{name}.scales", TensorHeader("F16", (rows, groups))),
        (f"{name}.biases", TensorHeader("F16", (rows, groups))),
    ]


def test_plain_weights_count_every_value() -> None:
    tensors = (
        ("embed.weight", TensorHeader("BF16", (512, 64))),
        ("norm.weight", TensorHeader("BF16", (64,))),
        ("proj.bias", TensorHeader("F32", (64,))),  # a Linear's bias is a parameter
    )
    assert count_parameters(tensors, {}) == 512 * 64 + 64 + 64
    assert dtype_of(tensors) == "bfloat16"


def test_quantized_weights_count_unpacked_values_and_not_their_scales() -> None:
    tensors = (
        *quantized("layers.0.mlp", 128, 256, bits=4),
        ("layers.0.norm.weight", TensorHeader("F16", (256,))),
        ("layers.0.down", TensorHeader("F16", (7, 3))),  # left unquantized (odd shape)
    )
    assert count_parameters(tensors, Q4) == 128 * 256 + 256 + 21
    assert dtype_of(tensors) == "float16"  # the packed words are not a dtype of the model


def test_per_module_bits_are_honoured() -> None:
    config = {"quantization": {"group_size": 64, "bits": 4, "layers.1.mlp": {"bits": 8}}}
    tensors = (*quantized("layers.0.mlp", 32, 128, bits=4), *quantized("layers.1.mlp", 32, 128, 8))
    assert count_parameters(tensors, config) == 2 * 32 * 128


def test_quantization_is_read_from_either_key() -> None:
    assert quantization_of(Q4) == Quantization(bits=4, group_size=64, mode="affine")
    assert quantization_of({"quantization_config": {"bits": 8}}) == Quantization(
        bits=8, group_size=None, mode=None
    )
    assert quantization_of({"quantization_config": {"quant_method": "awq"}}) is None


def facts(tokenizer: TokenizerFacts | str, config: dict[str, object] | None = None) -> FolderFacts:
    return FolderFacts(
        path="/models/m",
        config=config
        or {
            "model_type": "qwen3",
            "vocab_size": 1000,
            "text_config": {"max_position_embeddings": 32768},
            **Q4,
        },
        tensors=tuple(quantized("l", 64, 128, bits=4)),
        files=(FileEntry("config.json", 600), FileEntry("model.safetensors", 2 * 1024 * 1024)),
        template_file=False,
        tokenizer=tokenizer,
    )


def test_a_folder_becomes_the_record_info_prints() -> None:
    tokenizer = TokenizerFacts(chat_template=True, tool_parser="json_tools", vocab_size=999)
    info = build_model_info(facts(tokenizer))
    assert info == ModelInfo(
        path="/models/m",
        architecture="qwen3",
        parameters=64 * 128,
        quantization=Quantization(bits=4, group_size=64, mode="affine"),
        dtype="float16",
        context_length=32768,  # found in text_config, as the loader finds it
        vocab_size=1000,  # the config's, which sizes the output layer
        chat_template=True,
        tool_parser="json_tools",
        tokenizer_problem=None,
        files=facts(tokenizer).files,
    )
    assert info.size_bytes == 2 * 1024 * 1024 + 600
    text = render_model_info(info)
    assert "parameters      8.2K (quantized, 4 bits, group size 64)" in text
    assert "context length  32768 tokens" in text
    assert "tool parser     json_tools" in text
    assert "files           2, 2.0 MiB on disk" in text
    assert render_model_info_json(info)["quantization"] == {
        "bits": 4,
        "group_size": 64,
        "mode": "affine",
    }


def test_a_tokenizer_that_does_not_load_is_reported_not_raised() -> None:
    info = build_model_info(facts("OSError: no tokenizer.json", {"model_type": "llama"}))
    assert info.tool_parser is None
    assert info.vocab_size is None
    assert info.context_length == 4096  # mlxfn's fallback when the config names none
    text = render_model_info(info)
    assert (
        "tool parser     unknown (the tokenizer did not load: OSError: no tokenizer.json)" in text
    )
    assert "vocabulary      unknown" in text
    assert "chat template   no" in text
    json.dumps(render_model_info_json(info))  # plain JSON values only


# -- reading real folders -------------------------------------------------------------------


def read(folder: Path) -> FolderFacts:
    result = run_io(load_folder_facts(folder))
    assert isinstance(result, Success), result
    return result.unwrap()


@pytest.fixture(scope="module")
def quantized_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlx_lm import convert

    target = tmp_path_factory.mktemp("models") / "tiny-q4"
    convert(str(tiny_model_dir), str(target), quantize=True, q_group_size=32, q_bits=4)
    return target


def test_the_tiny_model_as_mlx_lm_sees_it(tiny_model_dir: Path) -> None:
    info = build_model_info(read(tiny_model_dir))
    assert info.architecture == "llama"
    assert info.dtype == "float32"
    assert info.quantization is None
    assert info.context_length == 512
    assert info.vocab_size == 512
    assert info.chat_template is True
    assert info.tool_parser is None
    assert info.tokenizer_problem is None
    assert {f.name for f in info.files} >= {"config.json", "model.safetensors"}
    assert info.size_bytes == sum(p.stat().st_size for p in tiny_model_dir.iterdir())


def test_quantizing_keeps_the_parameter_count(
    tiny_model_dir: Path, quantized_model_dir: Path
) -> None:
    plain = build_model_info(read(tiny_model_dir))
    packed = build_model_info(read(quantized_model_dir))
    assert packed.parameters == plain.parameters > 0
    assert packed.quantization == Quantization(bits=4, group_size=32, mode="affine")
    assert packed.size_bytes < plain.size_bytes


def test_a_tool_calling_template_names_mlx_lms_parser(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "tools"
    folder.mkdir()
    for item in tiny_model_dir.iterdir():
        (folder / item.name).symlink_to(item)
    (folder / "chat_template.jinja").unlink()
    template = (tiny_model_dir / "chat_template.jinja").read_text()
    (folder / "chat_template.jinja").write_text(
        template + "{# <tool_call>{{ tool_call.name }}</tool_call> #}"
    )
    assert build_model_info(read(folder)).tool_parser == "json_tools"


def test_a_folder_without_config_is_a_reason(tmp_path: Path) -> None:
    assert load_folder_facts(tmp_path) == IOFailure(
        "no config.json in the folder; it does not look like an MLX model"
    )
    assert load_folder_facts(tmp_path / "nope") == IOFailure("no such model folder")


def test_safetensors_headers_are_read_without_the_data(tmp_path: Path) -> None:
    header = json.dumps(
        {
            "__metadata__": {"format": "mlx"},
            "b.weight": {"dtype": "F16", "shape": [2, 3], "data_offsets": [0, 12]},
            "a.weight": {"dtype": "F32", "shape": [4], "data_offsets": [12, 28]},
        }
    ).encode()
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header)  # no data: headers only
    assert read_safetensors_header(path) == (
        ("a.weight", TensorHeader("F32", (4,))),
        ("b.weight", TensorHeader("F16", (2, 3))),
    )
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    assert isinstance(load_folder_facts(tmp_path, with_tokenizer=False), IOSuccess)


def test_a_broken_safetensors_file_is_a_reason(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"\x00")
    assert load_folder_facts(tmp_path) == IOFailure(
        "model.safetensors is not a safetensors file (too short)"
    )

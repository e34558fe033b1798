"""``--model`` repeated, ``NAME=SOURCE``, ``--adapter`` on the model before it, and the
loading flags, as ``parse_config`` reads them and ``served_models`` serves them."""

from __future__ import annotations

import pytest

from mlxfn.cli import parse_config
from mlxfn.cli.config import AdapterFlag, served_models
from mlxfn.engine.gguf.shipped import DEFAULT_MODEL_NAME
from mlxfn.engine.loader import ModelSpec


def test_several_models_with_names_and_adapters_on_the_model_before_them() -> None:
    config = parse_config(
        [
            "--model", "small=./models/tiny",
            "--adapter", "small-sql=./adapters/sql",
            "--model", "mlx-community/Qwen3-0.6B-4bit",
            "--adapter", "qwen-chat=./adapters/chat",
            "--model-alias", "gpt-4o",
            "--context-length", "1024",
        ]
    )  # fmt: skip
    assert config.model == ModelSpec(
        source="./models/tiny", served_name="small", context_length=1024
    )
    assert config.more_models == (
        ModelSpec(source="mlx-community/Qwen3-0.6B-4bit", context_length=1024),
    )
    assert config.adapters == (
        AdapterFlag("small-sql", "./adapters/sql", 0),
        AdapterFlag("qwen-chat", "./adapters/chat", 1),
    )
    served = served_models(config)
    assert [s.id for s in served] == [
        "small",
        "mlx-community/Qwen3-0.6B-4bit",
        "small-sql",
        "qwen-chat",
    ]
    assert [s.parent for s in served] == [None, None, "small", "mlx-community/Qwen3-0.6B-4bit"]
    assert served[2].spec == ModelSpec(
        source="./models/tiny",
        served_name="small-sql",
        context_length=1024,
        adapter="./adapters/sql",
    )
    # the aliases name the first model only
    assert served[0].config.model_aliases == {"gpt-4o"}
    assert all(not s.config.model_aliases for s in served[1:])
    assert (config.preload, config.models_memory, config.keep_alive) == (False, None, None)


def test_an_adapter_without_a_model_is_on_the_default_one() -> None:
    config = parse_config(["--adapter", "mine=./lora", "--preload", "--keep-alive", "300"])
    assert config.model.served_name == DEFAULT_MODEL_NAME
    assert [(s.id, s.parent) for s in served_models(config)] == [
        (DEFAULT_MODEL_NAME, None),
        ("mine", DEFAULT_MODEL_NAME),
    ]
    assert config.preload
    assert config.keep_alive == 300


def test_models_memory_takes_a_size() -> None:
    assert parse_config(["--models-memory", "8G"]).models_memory == 8 * 2**30


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--model", "./a/tiny", "--model", "./b/tiny"], "two models have one id"),
        (["--model", "x=./a", "--adapter", "x=./lora"], "two models have one id"),
        (["--adapter", "./lora"], "--adapter takes NAME=DIR"),
        (["--keep-alive", "0"], "seconds above 0"),
    ],
)
def test_model_flag_mistakes_are_one_line(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_config(argv)
    assert exit_info.value.code == 2
    [error] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("mlxfn: ")]
    assert said in error

"""The model registry with real engines on tiny models: ids and aliases, loading on demand,
least-recently-used eviction within a budget, leases that keep a model in use loaded, and
the keep-alive."""

from __future__ import annotations

from pathlib import Path

import pytest
from returns.result import Failure, Success

from mlxfn.domain.errors import ModelNotFound, Unavailable
from mlxfn.engine.config import EngineConfig
from mlxfn.engine.loader import ModelSpec
from mlxfn.engine.registry import ModelRegistry, ServedModel
from mlxfn.tiny_model import build_tiny_model


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("registry")
    return [build_tiny_model(root / name, seed=i) for i, name in enumerate(("a", "b", "c"))]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0  # every reading is later than the one before
        return self.now


def _registry(folders: list[Path], **kwargs: object) -> ModelRegistry:
    aliases = EngineConfig(model_aliases=frozenset({"gpt-4o"}))
    served = [
        ServedModel(
            id=f.name,
            spec=ModelSpec(source=str(f), served_name=f.name),
            config=aliases if i == 0 else EngineConfig(),
        )
        for i, f in enumerate(folders)
    ]
    return ModelRegistry(served, **kwargs)  # type: ignore[arg-type]


def _loaded(registry: ModelRegistry) -> list[str]:
    return [s.id for s in registry.statuses() if s.state == "loaded"]


def test_ids_and_aliases_resolve_to_served_models(folders: list[Path]) -> None:
    registry = _registry(folders)
    assert registry.resolve("b") == Success("b")
    assert registry.resolve(None) == Success("a")
    assert registry.resolve("gpt-4o") == Success("a")  # the first model's alias
    assert registry.resolve("gpt-5") == Failure(ModelNotFound("gpt-5"))
    assert _loaded(registry) == []  # resolving loads nothing
    with pytest.raises(ValueError, match="differ"):
        ModelRegistry([ServedModel(id="x", spec=ModelSpec(source="x"), config=EngineConfig())] * 2)


def test_models_load_on_demand_and_the_least_recently_used_idle_one_goes(
    folders: list[Path],
) -> None:
    registry = _registry(folders, memory_budget=1, clock=Clock())  # room for the one in use
    try:
        for name in ("a", "b"):
            engine = registry.lease(name).unwrap()
            assert engine.loaded.name == name
            registry.release(name)
        assert _loaded(registry) == ["b"]
        assert registry.status("a").loads == 1
        assert registry.status("a").weight_bytes > 0
        held = registry.lease("b").unwrap()  # in use: it stays though over budget
        registry.lease("c").unwrap()
        assert _loaded(registry) == ["b", "c"]
        assert held.alive
        registry.release("b")
        registry.release("c")
        registry.lease("a").unwrap()  # b and c are idle now: both go, b first
        registry.release("a")
        assert _loaded(registry) == ["a"]
        assert registry.status("a").loads == 2
    finally:
        registry.close()


def test_a_budget_that_holds_every_model_unloads_none(folders: list[Path]) -> None:
    registry = _registry(folders, memory_budget=2**40)
    try:
        assert registry.preload() == []
        assert _loaded(registry) == ["a", "b", "c"]
    finally:
        registry.close()
    assert _loaded(registry) == []
    assert isinstance(registry.lease("a").failure(), Unavailable)  # closed: no more loads


def test_keep_alive_unloads_only_idle_models(folders: list[Path]) -> None:
    clock = Clock()
    registry = _registry(folders[:2], keep_alive=5.0, clock=clock)
    try:
        registry.preload()
        registry.lease("b").unwrap()  # held
        clock.now += 10
        assert registry.expire_idle() == ["a"]
        assert _loaded(registry) == ["b"]
        registry.release("b")
        assert registry.expire_idle() == []  # just used
        clock.now += 10
        assert registry.expire_idle() == ["b"]
    finally:
        registry.close()


def test_a_model_that_cannot_load_is_unavailable_and_is_tried_again(tmp_path: Path) -> None:
    spec = ModelSpec(source=str(tmp_path / "missing"), served_name="missing")
    registry = ModelRegistry([ServedModel(id="missing", spec=spec, config=EngineConfig())])
    for _ in range(2):
        failed = registry.lease("missing").failure()
        assert isinstance(failed, Unavailable)
        assert "could not be loaded: no such model folder" in failed.reason
    assert registry.status("missing").state == "unloaded"


def test_of_specs_serves_each_under_its_name(folders: list[Path]) -> None:
    specs = [ModelSpec(source=str(folders[0])), ModelSpec(source=str(folders[1]), served_name="B")]
    registry = ModelRegistry.of_specs(specs)
    assert registry.ids == ("a", "B")
    with registry.using("B") as engine:
        assert engine.loaded.name == "B"
        assert registry.status("B").state == "loaded"
    registry.close()

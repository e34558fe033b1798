"""The pure core stays pure: domain/, wire/ and pipeline/ never import MLX, HTTP or the shells."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import mlxfn

PACKAGE_ROOT = Path(mlxfn.__file__).parent
PURE_PACKAGES = ("domain", "wire", "pipeline")
FORBIDDEN = ("mlx", "mlx_lm", "aiohttp", "aiohttp_cors", "mlxfn.engine", "mlxfn.server")


def imported_modules(source: str, module: str, *, is_package: bool = False) -> Iterator[str]:
    """Every module name an import statement anywhere in ``source`` can load.

    ``from a import b`` yields both ``a`` and ``a.b``, since ``b`` may be a submodule.
    Relative imports are resolved against ``module`` (a package when ``is_package``).
    """
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base_parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*base_parts, node.module] if node.module else base_parts)
            else:
                base = node.module or ""
            yield base
            for alias in node.names:
                yield f"{base}.{alias.name}"


def is_forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f"{f}.") for f in FORBIDDEN)


def pure_files() -> list[Path]:
    return sorted(f for pkg in PURE_PACKAGES for f in (PACKAGE_ROOT / pkg).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", pure_files(), ids=lambda p: str(p.relative_to(PACKAGE_ROOT)))
def test_pure_module_imports_nothing_impure(path: Path) -> None:
    names = imported_modules(
        path.read_text(), module_name(path), is_package=path.name == "__init__.py"
    )
    bad = sorted({name for name in names if is_forbidden(name)})
    assert not bad, f"{path.relative_to(PACKAGE_ROOT)} imports {bad}"


# What a domain module may import: the standard library, these packages and the domain itself,
# so that the values and errors load without MLX, HTTP, a JSON library or a grammar engine.
DOMAIN_ALLOWED = frozenset({"returns", "attrs", "attr", "cattrs", "cattr"})


def domain_files() -> list[Path]:
    return sorted((PACKAGE_ROOT / "domain").rglob("*.py"))


@pytest.mark.parametrize("path", domain_files(), ids=lambda p: str(p.relative_to(PACKAGE_ROOT)))
def test_domain_module_imports_only_the_standard_library_returns_attrs_and_cattrs(
    path: Path,
) -> None:
    names = imported_modules(
        path.read_text(), module_name(path), is_package=path.name == "__init__.py"
    )
    bad = sorted(
        {
            name
            for name in names
            if name.partition(".")[0] not in sys.stdlib_module_names | DOMAIN_ALLOWED
            and not (name == "mlxfn.domain" or name.startswith("mlxfn.domain."))
        }
    )
    assert not bad, f"{path.relative_to(PACKAGE_ROOT)} imports {bad}"


def test_every_pure_package_has_modules() -> None:
    for pkg in PURE_PACKAGES:
        assert len(list((PACKAGE_ROOT / pkg).rglob("*.py"))) >= 2, pkg


@pytest.mark.parametrize(
    "source",
    [
        "import mlx",
        "import mlx.core as mx",
        "import mlx_lm.generate",
        "from mlx import nn",
        "from mlx.core import array",
        "from mlx_lm.sample_utils import apply_top_k",
        "import aiohttp",
        "from aiohttp import web",
        "from aiohttp.web import Request",
        "from mlxfn.engine.thread import Engine",
        "from mlxfn import engine",
        "from mlxfn import server",
        "import mlxfn.server.app",
        "from ..engine import loader",
        "from ..server.keys import ENGINE",
        "from .. import server",
        "def f():\n    import mlx.core\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from aiohttp import web\n",
    ],
)
def test_the_check_catches(source: str) -> None:
    names = imported_modules(source, "mlxfn.pipeline.plan")
    assert any(is_forbidden(name) for name in names), source


@pytest.mark.parametrize(
    "source",
    [
        "import attrs",
        "from returns.result import Result",
        "from mlxfn.domain.errors import ApiError",
        "from mlxfn import domain",
        "from . import stops",
        "from ..wire.codec import encode_json",
        "import mlxfnx",
        "import aiohttpx",
        "import mlx_lmx",
    ],
)
def test_the_check_allows(source: str) -> None:
    names = list(imported_modules(source, "mlxfn.pipeline.plan"))
    assert not any(is_forbidden(name) for name in names), (source, names)

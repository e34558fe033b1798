"""The layout shows the architecture: domain/, wire/ and pipeline/ never import MLX, HTTP or
the shells; the domain needs only returns, attrs and cattrs; the platform shims and the CLI stand
apart; the package face imports its names lazily; and no module is over 400 lines."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
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


def package_files(package: str) -> list[Path]:
    return sorted((PACKAGE_ROOT / package).rglob("*.py"))


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


@pytest.mark.parametrize(
    "path", package_files("domain"), ids=lambda p: str(p.relative_to(PACKAGE_ROOT))
)
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


def mlxfn_imports(path: Path) -> set[str]:
    names = imported_modules(
        path.read_text(), module_name(path), is_package=path.name == "__init__.py"
    )
    return {name for name in names if name == "mlxfn" or name.startswith("mlxfn.")}


@pytest.mark.parametrize(
    "path",
    package_files("platform"),
    ids=lambda p: str(p.relative_to(PACKAGE_ROOT)),
)
def test_platform_shims_import_nothing_else_of_mlxfn(path: Path) -> None:
    bad = sorted(name for name in mlxfn_imports(path) if name.split(".")[1:2] != ["platform"])
    assert not bad, f"{path.relative_to(PACKAGE_ROOT)} imports {bad}"


# The package root holds the face and what it needs; everything else lives in a package whose
# name says what it is (pure: domain, wire, pipeline; shell: engine, server, platform, cli).
ROOT_MODULES = frozenset({"__init__", "__main__", "_version", "effects", "notebook", "tiny_model"})


def test_the_package_root_holds_only_the_face() -> None:
    assert {path.stem for path in PACKAGE_ROOT.glob("*.py")} == ROOT_MODULES


def test_only_the_entry_point_imports_the_cli() -> None:
    outside = sorted(
        path
        for path in PACKAGE_ROOT.rglob("*.py")
        if path.parent.name != "cli" and path.name != "__main__.py"
    )
    for path in outside:
        bad = sorted(name for name in mlxfn_imports(path) if name.split(".")[1:2] == ["cli"])
        assert not bad, f"{path.relative_to(PACKAGE_ROOT)} imports {bad}"


def test_the_pipeline_never_imports_the_wire() -> None:
    for path in package_files("pipeline"):
        bad = sorted(name for name in mlxfn_imports(path) if name.split(".")[1:2] == ["wire"])
        assert not bad, f"{path.relative_to(PACKAGE_ROOT)} imports {bad}"


def test_the_wire_imports_of_the_pipeline_only_its_grammar_check() -> None:
    # A schema llguidance cannot compile is a 400 at parse time, and compiling needs the grammar
    # module; nothing else of the pipeline may leak into the wire.
    allowed = {"mlxfn.pipeline.grammar", "mlxfn.pipeline.grammar.check_response_format"}
    for path in package_files("wire"):
        pipeline = {name for name in mlxfn_imports(path) if name.split(".")[1:2] == ["pipeline"]}
        assert pipeline <= allowed, f"{path.relative_to(PACKAGE_ROOT)} imports {sorted(pipeline)}"


def test_every_pure_package_has_modules() -> None:
    for pkg in PURE_PACKAGES:
        assert len(list((PACKAGE_ROOT / pkg).rglob("*.py"))) >= 2, pkg


# A module that grows past this is split into modules whose names say what each holds.
MAX_MODULE_LINES = 400


def test_no_module_is_over_400_lines() -> None:
    lengths = {
        str(path.relative_to(PACKAGE_ROOT)): len(path.read_text().splitlines())
        for path in PACKAGE_ROOT.rglob("*.py")
    }
    over = {name: n for name, n in sorted(lengths.items()) if n > MAX_MODULE_LINES}
    assert not over, f"modules over {MAX_MODULE_LINES} lines: {over}"


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


# Runs in a fresh interpreter that can import only the standard library, mlxfn, and returns,
# attrs and cattrs with their own dependencies: as if nothing else were installed.
LIGHT_IMPORT = r"""
import importlib, importlib.abc, json, pkgutil, sys
ALLOWED = {"mlxfn", "returns", "attrs", "attr", "cattrs", "cattr", "typing_extensions"}
class OnlyTheseInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top not in sys.stdlib_module_names and top not in ALLOWED:
            raise ImportError(f"{name} is not installed here")
        return None
sys.meta_path.insert(0, OnlyTheseInstalled())
import mlxfn
import mlxfn.domain
names = [info.name for info in pkgutil.walk_packages(mlxfn.domain.__path__, "mlxfn.domain.")]
for name in names:
    importlib.import_module(name)
faced = [mlxfn.__version__, mlxfn.ApiError, mlxfn.ChatRequest, mlxfn.Finished]
loaded = sorted(m for m in sys.modules if m.partition(".")[0] == "mlxfn")
print(json.dumps({"domain": names, "loaded": loaded}))
"""


def test_the_domain_imports_with_only_returns_attrs_and_cattrs_installed() -> None:
    result = subprocess.run(
        [sys.executable, "-c", LIGHT_IMPORT],
        cwd=PACKAGE_ROOT.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["domain"]) == len(package_files("domain")) - 1  # every module but __init__
    # and the package face loaded nothing past the domain: no engine, server or BLAS
    assert {m for m in report["loaded"] if not m.startswith("mlxfn.domain")} == {
        "mlxfn",
        "mlxfn._version",
    }


def test_the_package_face_exports_every_name_lazily() -> None:
    exports = mlxfn._EXPORTS
    assert set(mlxfn.__all__) == {*exports, "__version__"}
    for name, module in exports.items():
        assert getattr(mlxfn, name) is getattr(importlib.import_module(module), name), name
    assert set(mlxfn.__all__) <= set(dir(mlxfn))
    # what mypy and editors see (the imports under TYPE_CHECKING) is what runs
    guarded = next(
        node
        for node in ast.parse((PACKAGE_ROOT / "__init__.py").read_text()).body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    typed = {
        alias.name: node.module
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert typed == exports
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = mlxfn.no_such_name

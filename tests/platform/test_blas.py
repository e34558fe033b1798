"""The fast-BLAS preload: OpenBLAS is loaded and checked before MLX, or MLX keeps its own BLAS.

The preload only works before the first ``import mlx``, and this test process imported MLX
long ago, so each scenario runs in a fresh interpreter. That interpreter imports
``mlxfn.platform.blas`` alone: neither the package face nor ``mlxfn.platform`` imports MLX or
preloads, so the scenario decides the order.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mlxfn.platform import blas
from mlxfn.platform.blas import (
    BlasCheck,
    BlasChoice,
    BlasDisabled,
    BlasLoaded,
    BlasNotFound,
    BlasNotLinux,
    BlasRejected,
    BlasTooLate,
    check_sgemm,
    describe_blas,
)
from mlxfn.platform.blas_wheel import wheel_openblas
from mlxfn.platform.cache_dir import CACHE_ENV

ROOT = Path(blas.__file__).resolve().parents[2]  # where `python -c` finds this mlxfn
SCENARIO_TIMEOUT_S = 120
REFERENCE = "the reference BLAS bundled with mlx"

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="the preload only acts on Linux")

# Runs in a fresh interpreter: argv is ["enabled"|"disabled", "mlx-first"|"-"].
SCENARIO = r"""
import json, sys
enabled, order = sys.argv[1] == "enabled", sys.argv[2]
if order == "mlx-first":
    import mlx.core
import mlxfn.platform.blas as blas

import attrs
choice = blas.preload_fast_blas(enabled=enabled)
mlx_imported_by_preload = order != "mlx-first" and "mlx.core" in sys.modules
again = blas.preload_fast_blas(enabled=False)

import mlx.core as mx
import numpy as np
check = blas.verify_blas()
rng = np.random.default_rng(7)
a = rng.standard_normal((300, 200)).astype(np.float32)
b = rng.standard_normal((200, 100)).astype(np.float32)
got = np.array(mx.matmul(mx.array(a), mx.array(b)), dtype=np.float64)
want = a.astype(np.float64) @ b.astype(np.float64)
print(json.dumps({
    "choice": type(choice).__name__,
    "fields": attrs.asdict(choice),
    "again": type(again).__name__,
    "mlx_imported_by_preload": mlx_imported_by_preload,
    "provider": check.provider,
    "relative_error": check.relative_error,
    "passed": check.passed,
    "matmul_error": float(np.linalg.norm(got - want) / np.linalg.norm(want)),
}))
"""

SCENARIOS: dict[str, tuple[tuple[str, str], dict[str, str]]] = {
    "default": (("enabled", "-"), {}),
    "env-off": (("enabled", "-"), {blas.ENV_VAR: "0"}),
    "param-off": (("disabled", "-"), {}),
    "too-late": (("enabled", "mlx-first"), {}),
    "missing-path": (("enabled", "-"), {blas.ENV_VAR: "/no/such/libopenblas.so.0"}),
}


def vendored_reference_blas() -> Path | None:
    """The netlib BLAS that the mlx[cpu] wheel ships next to itself, if this is that wheel."""
    spec = importlib.util.find_spec("mlx.core")
    if spec is None or spec.origin is None:
        return None
    libs = sorted((Path(spec.origin).parents[1] / "mlx_cpu.libs").glob("libblas*.so*"))
    return libs[0] if libs else None


@pytest.fixture(scope="module")
def scenarios() -> dict[str, dict[str, Any]]:
    """Every scenario's report; they start together, as each spends most of its time in MLX."""
    if sys.platform != "linux":
        pytest.skip("the preload only acts on Linux")
    cases = dict(SCENARIOS)
    reference = vendored_reference_blas()
    if reference is not None:  # a real library that is not OpenBLAS must be refused
        cases["not-openblas"] = (("enabled", "-"), {blas.ENV_VAR: str(reference)})
    running = {
        name: subprocess.Popen(
            [sys.executable, "-c", SCENARIO, *argv],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if k != blas.ENV_VAR} | env,
        )
        for name, (argv, env) in cases.items()
    }
    reports = {}
    try:
        for name, process in running.items():
            out, err = process.communicate(timeout=SCENARIO_TIMEOUT_S)
            assert process.returncode == 0, f"scenario {name} failed:\n{err}"
            reports[name] = json.loads(out.splitlines()[-1]) | {"stderr": err}
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return reports


@linux_only
def test_preload_loads_openblas_and_mlx_uses_it(scenarios: dict[str, dict[str, Any]]) -> None:
    """A system OpenBLAS where there is one, else the one ``pip install`` brings."""
    report = scenarios["default"]
    assert report["choice"] == "BlasLoaded", report
    assert not report["mlx_imported_by_preload"]  # or MLX would have bound its own BLAS
    assert report["again"] == "BlasLoaded"  # the first call decides
    assert report["provider"] == report["fields"]["path"]
    assert report["fields"]["config"].startswith("OpenBLAS")
    assert report["passed"]
    assert report["matmul_error"] < 1e-5


@linux_only
@pytest.mark.parametrize(("name", "by"), [("env-off", "environment"), ("param-off", "parameter")])
def test_turned_off_mlx_keeps_its_own_blas(
    scenarios: dict[str, dict[str, Any]], name: str, by: str
) -> None:
    report = scenarios[name]
    assert report["choice"] == report["again"] == "BlasDisabled"
    assert report["fields"] == {"by": by}
    assert report["provider"] == REFERENCE
    assert report["passed"]
    assert report["matmul_error"] < 1e-5


@linux_only
def test_after_mlx_is_imported_it_is_too_late(scenarios: dict[str, dict[str, Any]]) -> None:
    report = scenarios["too-late"]
    assert report["choice"] == "BlasTooLate"
    assert "import mlxfn first" in report["stderr"]  # a warning, even with logging unset
    assert report["provider"] == REFERENCE
    assert report["passed"]


@linux_only
def test_a_library_that_cannot_be_loaded_is_refused(scenarios: dict[str, dict[str, Any]]) -> None:
    report = scenarios["missing-path"]
    assert report["choice"] == "BlasRejected"
    assert "cannot be loaded" in report["fields"]["reasons"][0]
    assert report["provider"] == REFERENCE  # it never reached the global scope
    assert report["passed"]


@linux_only
def test_a_blas_that_is_not_openblas_is_refused(scenarios: dict[str, dict[str, Any]]) -> None:
    assert "not-openblas" in scenarios, "the mlx[cpu] wheel ships its reference BLAS beside it"
    report = scenarios["not-openblas"]
    assert report["choice"] == "BlasRejected"
    assert "not OpenBLAS" in report["fields"]["reasons"][0]
    assert report["provider"] == REFERENCE


@linux_only
@pytest.mark.parametrize(
    "entry",
    ["import mlxfn.engine.thread", "import mlxfn; mlxfn.start_engine", "import mlxfn.cli"],
)
def test_every_way_into_the_engine_preloads_before_mlx(entry: str) -> None:
    """``python -m mlxfn``, notebooks and the test servers all import the engine, which loads
    the fast BLAS before MLX: a preload asked for afterwards would be too late."""
    report = "import mlxfn.platform.blas as b; print(type(b.preload_fast_blas()).__name__, "
    report += "b.blas_provider())"
    code = f"{entry}; import mlx.core; {report}"
    env = {k: v for k, v in os.environ.items() if k != blas.ENV_VAR}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=SCENARIO_TIMEOUT_S,
        check=True,
    )
    kind, provider = result.stdout.split()
    assert kind == "BlasLoaded"
    assert "openblas" in provider.lower()


class CorruptOneEntry:
    """A ``cblas_sgemm`` that is right except for the last entry of C."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.restype: Any = None
        self.argtypes: Any = None

    def __call__(self, *args: Any) -> None:
        self.real.restype, self.real.argtypes = self.restype, self.argtypes
        self.real(*args)
        c, rows, n = args[12], args[3], args[4]
        c[rows * n - 1] += 1.0


@pytest.fixture
def some_cblas() -> ctypes.CDLL:
    """A real CBLAS loaded privately: a system OpenBLAS, or the one the mlx wheel ships."""
    candidates = [*blas.openblas_candidates()] if sys.platform == "linux" else []
    reference = vendored_reference_blas()
    path = candidates[0] if candidates else reference
    assert path is not None, "no CBLAS library: neither an OpenBLAS nor mlx's reference BLAS"
    return ctypes.CDLL(str(path))


def test_the_sgemm_self_test_passes_a_correct_blas(some_cblas: ctypes.CDLL) -> None:
    assert check_sgemm(some_cblas) is None


def test_the_sgemm_self_test_finds_a_single_wrong_entry(some_cblas: ctypes.CDLL) -> None:
    broken = SimpleNamespace(cblas_sgemm=CorruptOneEntry(some_cblas.cblas_sgemm))
    problem = check_sgemm(broken)  # type: ignore[arg-type]
    assert problem is not None
    assert "wrong in 1 of" in problem


def test_off_linux_nothing_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert blas._choose(True, "") == BlasNotLinux(platform="darwin")


@pytest.mark.parametrize("setting", ["0", "false", "OFF", " no "])
@linux_only
def test_off_values_of_the_environment_variable(setting: str) -> None:
    assert blas._choose(True, setting) == BlasDisabled(by="environment")


@pytest.mark.parametrize(
    ("error", "passed"),
    [(3e-7, True), (1e-5, True), (2e-5, False), (math.nan, False), (math.inf, False)],
)
def test_a_check_passes_only_within_tolerance(error: float, passed: bool) -> None:
    check = BlasCheck(provider="x", relative_error=error, tolerance=1e-5)
    assert check.passed is passed


@pytest.mark.parametrize(
    "choice",
    [
        BlasLoaded(path="/usr/lib/libopenblas.so.0", config="OpenBLAS 0.3.21", threads=2),
        BlasNotLinux(platform="darwin"),
        BlasDisabled(by="parameter"),
        BlasDisabled(by="environment"),
        BlasNotFound(searched=("/usr/lib/libopenblas.so.0",)),
        BlasRejected(reasons=("/x.so: cannot be loaded",)),
        BlasTooLate(),
    ],
)
def test_every_choice_is_described_on_one_line(choice: BlasChoice) -> None:
    text = describe_blas(choice)
    assert text
    assert "\n" not in text


def test_the_server_refuses_to_start_when_the_check_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlxfn import cli

    failed = BlasCheck(provider="libbroken.so", relative_error=0.7, tolerance=1e-5)
    monkeypatch.setattr(cli, "verify_blas", lambda: failed)
    assert cli.run(cli.parse_config(["--model", "/never/loaded"])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "BLAS check FAILED: libbroken.so" in err[0]


@pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() != "x86_64",
    reason="the ngsolve-openblas wheel is a dependency on Linux x86_64 only",
)
def test_the_pip_installed_openblas_is_made_loadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without libgfortran.so.5 on the machine, the wheel's OpenBLAS loads from a patched
    copy in the cache, which passes the sgemm self-test; a second call reuses the copy."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    path, how = wheel_openblas()
    assert path is not None, how
    assert how == "prepared"
    assert Path(path).is_relative_to(tmp_path)
    lib = ctypes.CDLL(path)  # privately: MLX in this process keeps what it has
    assert check_sgemm(lib) is None
    assert wheel_openblas() == (path, "cached")

"""The loading bar: on a terminal only, sized by the weights on disk."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import mlx.core as mx

from mlxfn.cli.load_progress import _screen, load_progress, weights_bytes


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_total_is_the_weights_on_disk(tiny_model_dir: Path, tmp_path: Path) -> None:
    assert (
        weights_bytes(str(tiny_model_dir)) == (tiny_model_dir / "model.safetensors").stat().st_size
    )
    assert weights_bytes("mlx-community/Qwen3-0.6B-4bit") is None  # hub downloads have own bars
    assert weights_bytes(str(tmp_path)) is None


def test_no_bar_unless_a_terminal_watches() -> None:
    quiet = io.StringIO()
    with load_progress("tiny", 1000, stream=quiet):
        pass
    assert quiet.getvalue() == ""
    with load_progress("tiny", None, stream=FakeTerminal()) as nothing:
        assert nothing is None


def test_a_terminal_sees_bytes_arrive() -> None:
    screen = FakeTerminal()
    total = 4 * 1024 * 1024
    with load_progress("tiny", total, stream=screen):
        weights = mx.ones((total // 4,), dtype=mx.float32)
        mx.eval(weights)
        time.sleep(0.5)  # a few polls
    shown = screen.getvalue()
    assert "loading tiny" in shown
    assert "4.00M/4.00M" in shown
    del weights


def test_a_terminal_without_a_size_still_gets_a_bar() -> None:
    # A fresh pseudo-terminal reports 0 x 0; tqdm would then draw nothing at all.
    master, slave = os.openpty()
    try:
        with open(slave, "w", closefd=False) as stream:
            assert _screen(stream) == (80, 24)
            with load_progress("tiny", 1000, stream=stream):
                pass
        drawn = os.read(master, 4096).decode()
        assert "loading tiny:" in drawn
    finally:
        os.close(master)
        os.close(slave)

"""Where the CPU goes during a benchmark run: CPU seconds per thread of the load generator
(the benchmark process) and of each server it starts, sampled from /proc (Linux only).

    python -m benchmarks.cpu_share --scenarios short-c16 --servers mlxfn --no-ceiling

Any arguments are passed to ``benchmarks.bench``. On a machine whose cores the servers share
with the load generator, this shows how much of the machine the HTTP side takes from the
model's matrix work, which the in-process ceiling has to itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
SHOWN = 8


def _thread_seconds(pid: str) -> dict[str, float]:
    """CPU seconds (user + system) of each thread of ``pid``, by a label: the thread's OS name
    (mlxfn names its own threads), "main" for the main thread (a server's event loop), and
    "<name> worker" for a thread that inherited its name from the thread that started it
    (MLX's and OpenBLAS's workers take the name of the thread whose work made them: the
    lowest thread id of a name is the named thread itself)."""
    seconds: dict[str, float] = {}
    try:
        tids = sorted(os.listdir(f"/proc/{pid}/task"), key=int)
    except OSError:
        return seconds
    seen: set[str] = set()
    for tid in tids:
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        name = "main" if tid == pid else stat[stat.index("(") + 1 : stat.rindex(")")]
        label = f"{name} worker" if name in seen else name
        seen.add(name)
        fields = stat[stat.rindex(")") + 2 :].split()
        seconds[f"{label}/{tid}"] = (int(fields[11]) + int(fields[12])) / TICKS
    return seconds


def _role(pid: str, bench_pid: int) -> str:
    if pid == str(bench_pid):
        return "load generator"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return "?"
    return "mlxfn" if "-m mlxfn" in command else "mlx_lm.server"


def main(args: list[str]) -> None:
    bench = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert bench.stdout is not None
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(bench.stdout or ()))
    reader.start()
    started = time.monotonic()
    last: dict[tuple[str, str], float] = {}  # (role, thread id) -> its latest CPU seconds
    while bench.poll() is None:
        children = subprocess.run(
            ["pgrep", "-P", str(bench.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        for pid in [str(bench.pid), *children]:
            role = _role(pid, bench.pid)
            for tid, seconds in _thread_seconds(pid).items():
                last[(f"{role} (pid {pid})", tid)] = seconds
        time.sleep(0.2)
    reader.join()
    wall = time.monotonic() - started
    print("".join(line for line in output if line.startswith("[bench]") and " #" in line))
    by_process: dict[str, dict[str, float]] = {}
    for (process, thread), seconds in last.items():
        by_process.setdefault(process, {})[thread] = seconds
    busy = sum(sum(threads.values()) for threads in by_process.values())
    print(f"wall {wall:.1f} s on {os.cpu_count()} cores; {busy:.1f} CPU s used in all")
    for process, threads in sorted(by_process.items(), key=lambda item: -sum(item[1].values())):
        total = sum(threads.values())
        ranked = sorted(threads.items(), key=lambda item: -item[1])[:SHOWN]
        top = ", ".join(f"{thread.split('/')[0]} {s:.1f}" for thread, s in ranked if s >= 0.05)
        share = total / busy if busy else 0.0
        print(f"  {process}: {total:.1f} CPU s ({share:.0%}); by thread: {top}")


if __name__ == "__main__":
    main(sys.argv[1:])

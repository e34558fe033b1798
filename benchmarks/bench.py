"""``python -m benchmarks.bench`` or ``python benchmarks/bench.py``: run the benchmark.

See benchmarks/README.md for what it measures and its flags.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.run import main

if __name__ == "__main__":
    sys.exit(main())

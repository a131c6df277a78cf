"""Quickstart: compile the example models in this folder, check each against
numpy on fresh random inputs, and print the speed-up table.

    python examples/quickstart.py

The table comes from bench/bench_examples.py (the project's benchmark of
these models), run here with fewer samples.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from bench_examples import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["--repeats", "7"]))

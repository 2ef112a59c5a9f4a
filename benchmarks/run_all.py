"""Run every benchmark script in turn; each rewrites its own section of docs/benchmarks.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "population_eval.py",
    "addition.py",
    "rso_speed.py",
    "rso_accuracy.py",
    "rso_cifar10.py",
    "monte_carlo.py",
    "supermask.py",
    "mc_supermask_table.py",
    "wann_speed.py --write",
    "wann_swingup.py",
    "ray_overhead.py --write",
]

if __name__ == "__main__":
    for script in SCRIPTS:
        print(f"== {script}", flush=True)
        name, *options = script.split()
        subprocess.run([sys.executable, str(HERE / name), *options], check=True, cwd=HERE)

"""What the WANN benchmarks read from finished run folders: the search's clock and a champion's eval.json."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path
from typing import Any

from nograd.wann.assess import eval_wann


def search_stats(run_dir: Path) -> dict[str, Any]:
    """Generations, the trainer's clock, seconds per generation (medians of the first and last 20) and the last
    generation's population and champion, from the run's metrics.csv."""
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    seconds = [float(r["generation_seconds"]) for r in rows]
    last = rows[-1]
    return {
        "generations": len(rows),
        "wall_seconds": float(last["wall_seconds"]),
        "early_seconds_per_generation": statistics.median(seconds[:20]),
        "late_seconds_per_generation": statistics.median(seconds[-20:]),
        "final_mean_connections": float(last["mean_connections"]),
        "final_mean_hidden": float(last["mean_hidden"]),
        "champion_fitness": float(last["champion_fitness"]),
    }


def cached_eval(run_dir: Path, reeval: bool, trials: int, **options: Any) -> dict[str, Any]:
    """The run's eval.json, or ``nograd wann eval`` of its champion (written to eval.json) if absent or ``reeval``."""
    path = run_dir / "eval.json"
    if path.exists() and not reeval:
        return json.loads(path.read_text())
    result = eval_wann(run_dir, trials=trials, **options)
    path.write_text(json.dumps(result, indent=1) + "\n")
    return result

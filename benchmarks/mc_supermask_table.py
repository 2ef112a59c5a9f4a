"""One side-by-side table of the Monte Carlo and supermask benchmarks (issue 4), from their result files.

``monte_carlo.py`` and ``supermask.py`` each write their runs to ``benchmarks/results/*.json`` (one row per run:
dataset, method, seed, test_acc, evaluations, wall_seconds, budget); this script puts them in one table per
dataset, the median over the seeds that ran, and says how many seeds each figure is.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path

from _report import write_section

RESULTS = Path(__file__).resolve().parent / "results"
FILES = ("monte_carlo.json", "supermask.json")


def load_rows() -> list[dict]:
    rows = []
    for name in FILES:
        path = RESULTS / name
        if path.exists():
            rows.extend(json.loads(path.read_text()))
    return rows


def table(rows: list[dict]) -> str:
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["dataset"], row["method"])].append(row)
    lines = []
    for dataset in sorted({d for d, _ in groups}):
        lines += [
            f"### {dataset}",
            "",
            "| method | seeds | test accuracy (median) | per seed | loss evaluations | wall time | budget |",
            "|---|---|---|---|---|---|---|",
        ]
        for (d, method), runs in sorted(
            groups.items(), key=lambda kv: -statistics.median(r["test_acc"] for r in kv[1])
        ):
            if d != dataset:
                continue
            accs = [r["test_acc"] for r in runs]
            evals = statistics.median(r["evaluations"] for r in runs)
            wall = statistics.median(r["wall_seconds"] for r in runs)
            lines.append(
                f"| {method} | {len(runs)} | {100 * statistics.median(accs):.2f}% | "
                f"{', '.join(f'{100 * a:.1f}' for a in accs)} | {evals:,.0f} | {wall / 60:.1f} min | "
                f"{runs[0].get('budget', '')} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    rows = load_rows()
    if not rows:
        raise SystemExit(f"no results in {RESULTS}: run benchmarks/monte_carlo.py and benchmarks/supermask.py")
    body = f"""## Monte Carlo training and supermasks, side by side

From `benchmarks/results/` (written by `monte_carlo.py` and `supermask.py`; their own sections give the settings).
Test accuracy is the median over the seeds that ran; "loss evaluations" counts forward passes of a minibatch
(gradient steps for the backprop and edge-popup rows); wall time on this machine's 2 cores, several runs while
other jobs shared them (each section says which), so minutes are upper bounds.

{table(rows)}"""
    write_section("mc-supermask-table", body)


if __name__ == "__main__":
    main()

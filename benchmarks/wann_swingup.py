"""WANN on cart-pole swing-up: the full search's wall time and its champions against the paper's row.

    PYTHONPATH=src python benchmarks/wann_swingup.py [--seeds 3] [--generations 1024] [--reuse RUN_DIR ...] \
        [--paper-champion WANNRelease/WANN/champions/swing.out]

Runs ``nograd wann train swingup`` (population 192, 3 reps, the reference's settings) once per seed, or reports
finished run folders (``--reuse``; a folder's own ``eval.json`` is reused too unless ``--reeval``), then scores each
champion with ``nograd wann eval`` (100 trials per column). Writes the section ``wann-swingup`` of
docs/benchmarks.md and one row per run to ``benchmarks/results/wann_swingup.json``: the champion's columns, the
search's wall time, and its seconds per generation early and late (medians of the first and last 20 generations).
``--paper-champion`` adds a row for the authors' own champion (their repository's ``champions/swing.out``, read by
``nograd.wann.reference``), scored by the same ``nograd wann eval``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import torch
import yaml

from _report import ROOT, write_section
from _wann_runs import cached_eval, search_stats
from nograd.train_wann import train_wann
from nograd.wann.assess import PAPER_SWINGUP, SWEEP
from nograd.wann.reference import load_reference_matrix

RESULTS = ROOT / "benchmarks" / "results" / "wann_swingup.json"
COLUMNS = (
    ("random_individual_weights", "random weights"),
    ("random_shared_weight", "random shared weight"),
    ("tuned_shared_weight", "tuned shared weight"),
    ("tuned_individual_weights", "tuned weights"),
)


def cell(stats: dict[str, float] | None) -> str:
    return "—" if stats is None else f"{stats['mean']:.0f} ± {stats['sd']:.0f}"


def paper_champion_row(path: Path, out: Path, trials: int, reeval: bool) -> str:
    """The authors' champion, converted to a genome file in ``out`` and scored as the runs' champions are."""
    out.mkdir(parents=True, exist_ok=True)
    load_reference_matrix(path).save(out / "champion.json")
    ev = cached_eval(out, reeval, trials)
    cells = " | ".join(cell(ev.get(key)) for key, _ in COLUMNS)
    size = f"{ev['connections']} | {ev['hidden_nodes']}"
    return f"| the paper's champion (`champions/swing.out`) | | {cells} | {size} | | | |"


def _medians(rows: list[dict[str, Any]]) -> str:
    medians = []
    for key, _ in COLUMNS:
        means = [r["eval"][key]["mean"] for r in rows if r["eval"].get(key)]
        medians.append(f"**{statistics.median(means):.0f}**" if means else "—")
    return " | ".join(medians)


def table(rows: list[dict[str, Any]], planned: int) -> str:
    """One row per run, the medians of the first ``planned`` runs and of all, and the run a user running them all
    would keep: the one whose champion has the best re-tested search fitness (the columns play no part in that)."""
    lines = [
        "| seed | search fitness | " + " | ".join(name for _, name in COLUMNS) + " | connections | hidden | "
        "scored by | search wall time | s/generation early → late |",
        "|---|" + "---|" * (len(COLUMNS) + 6),
    ]
    for r in rows:
        ev = r["eval"]
        lines.append(
            f"| {r['seed']} | {r['champion_fitness']:.0f} | "
            + " | ".join(cell(ev.get(key)) for key, _ in COLUMNS)
            + f" | {ev['connections']} | {ev['hidden_nodes']} | {r.get('backend', 'torch')} | "
            f"{r['wall_seconds'] / 60:.1f} min | "
            f"{r['early_seconds_per_generation']:.2f} → {r['late_seconds_per_generation']:.2f} |"
        )
    if len(rows) > planned:
        seeds = ", ".join(str(r["seed"]) for r in rows[:planned])
        lines.append(f"| median of the first {planned} (seeds {seeds}) | | {_medians(rows[:planned])} | | | | | |")
    wall = statistics.median(r["wall_seconds"] for r in rows) / 60
    lines.append(f"| median of {len(rows)} | | {_medians(rows)} | | | | {wall:.1f} min | |")
    best = max(rows, key=lambda r: r["champion_fitness"])
    cells = " | ".join(f"**{cell(best['eval'].get(key))}**" for key, _ in COLUMNS)
    lines.append(
        f"| best of {len(rows)} by search fitness (seed {best['seed']}) | {best['champion_fitness']:.0f} | {cells} "
        f"| {best['eval']['connections']} | {best['eval']['hidden_nodes']} | | | |"
    )
    paper = [PAPER_SWINGUP.get(key, "—") for key, _ in COLUMNS]
    lines.append(f"| paper (Gaier & Ha 2019, Table 1) | | {' | '.join(paper)} | | | | | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--generations", type=int, default=1024)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--reuse", nargs="*", default=[], help="finished WANN run folders to report")
    parser.add_argument("--reeval", action="store_true", help="score reused champions again")
    parser.add_argument("--out", default="runs", help="folder for new run folders")
    parser.add_argument("--planned", type=int, default=3, help="the first N runs get their own median row")
    parser.add_argument("--paper-champion", type=Path, help="the authors' champions/swing.out, scored beside ours")
    parser.add_argument("--note", default="", help="a sentence for the report, e.g. on the machine's load")
    args = parser.parse_args()
    folders = [Path(p) for p in args.reuse]
    for seed in range(len(folders), args.seeds):
        trainer = train_wann(
            {"task": "swingup", "seed": seed, "generations": args.generations, "out": args.out}, progress=False
        )
        folders.append(Path(trainer.run.path))
    rows = []
    for folder in folders:
        config = yaml.safe_load((folder / "config.yaml").read_text())
        # runs made before the backend option were scored by the torch evaluator
        backend = config.get("backend", "torch")
        row = {"seed": config["seed"], "run": folder.name, "backend": backend, **search_stats(folder)}
        row["eval"] = cached_eval(folder, args.reeval, args.trials)
        print(json.dumps({k: v for k, v in row.items() if k != "eval"}), flush=True)
        rows.append(row)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=1) + "\n")
    extra = ""
    if args.paper_champion is not None:
        folder = Path(args.out) / "paper-champion"
        extra = "\n" + paper_champion_row(args.paper_champion, folder, args.trials, args.reeval)
    body = f"""## WANN: cart-pole swing-up, the full search and its champions

`nograd wann train swingup` with the reference's settings (population 192, {args.generations} generations, 6 shared
weights × 3 reps, p_initEnable 0.5, tournament 8), one run per seed; each champion then scored by
`nograd wann eval` (mean ± sd over {args.trials} episodes per column, as in the paper's Table 1): random weights
(each connection its own U(−2, 2) draw), random shared weight (U(−2, 2)), tuned shared weight (the best of
{SWEEP} values on [−2, 2], a step of 0.01, chosen on separate episodes), tuned weights (CMA-ES over the connection
weights from the tuned shared weight: σ = 0.5, 0.1, 0.02 in turn, 100 generations of 32 × 8 episodes each, each
run's pick chosen on 128 separate episodes). Search wall time is the trainer's clock (evaluation uses one
thread; torch threads: {torch.get_num_threads()} in this invocation). The reference needs about 45 s per
generation at this population on two cores. {args.note}

{table(rows, args.planned)}{extra}
"""
    write_section("wann-swingup", body)


if __name__ == "__main__":
    main()

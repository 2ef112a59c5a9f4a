"""Addition, median over seeds: random search vs hill climbing vs Adam on the same model and data.

Held-out accuracy and wall time against loss evaluations, for the demo's settings (100 training pairs, 2 neurons
per layer) and for 1000 pairs with wider layers. Every run goes through the real trainer (`nograd.train.train`).
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile

from _report import write_section
from nograd.train import train

SETTINGS = {
    "demo": ("100 pairs, MLP 2-2-2-1", {"train_size": 100}, {"hidden": [2, 2]}),
    "wide": ("1000 pairs, MLP 2-16-16-1", {"train_size": 1000}, {"hidden": [16, 16]}),
}
METHODS = {"random": {}, "hillclimb": {}, "adam": {"lr": 0.01}}


def at(rows: list[dict], evaluations: int, key: str) -> float:
    """``key`` of the last metrics row logged at or before ``evaluations``."""
    eligible = [r for r in rows if r["evaluations"] <= evaluations]
    return eligible[-1][key] if eligible else math.nan


def first_reaching(rows: list[dict], accuracy: float) -> tuple[float, float]:
    for r in rows:
        if r["test_acc"] >= accuracy:
            return r["evaluations"], r["wall_seconds"]
    return math.inf, math.inf


def fmt_count(x: float) -> str:
    return "never" if not math.isfinite(x) else f"{x / 1000:.1f}k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--evaluations", type=int, default=50_000)
    args = parser.parse_args()
    marks = [m for m in (1_000, 5_000, 20_000, 50_000, 200_000) if m <= args.evaluations]
    lines = []
    with tempfile.TemporaryDirectory() as out:
        for setting, (label, task_options, model_options) in SETTINGS.items():
            lines.append(f"\n### {label}\n")
            head = " | ".join(f"acc @ {m // 1000}k evals" for m in marks)
            lines.append(f"| method | {head} | evals to 99% | seconds to 99% | seconds for the budget |")
            lines.append("|---|" + "---|" * (len(marks) + 3))
            for method, options in METHODS.items():
                runs = []
                for seed in range(args.seeds):
                    config = {
                        "task": {"name": "addition", **task_options},
                        "model": model_options,
                        "method": {"name": method, **options},
                        "budget": {"evaluations": args.evaluations},
                        "seed": seed,
                        "log_every": 5 if method != "adam" else 50,
                    }
                    trainer = train(config, out=out, progress=False)
                    runs.append(trainer.run.read_metrics())
                    print(
                        setting, method, seed, f"{runs[-1][-1]['test_acc']:.4f}", f"{runs[-1][-1]['wall_seconds']:.1f}s"
                    )
                accs = [f"{statistics.median(at(r, m, 'test_acc') for r in runs):.1%}" for m in marks]
                reach = [first_reaching(r, 0.99) for r in runs]
                evals99 = statistics.median(e for e, _ in reach)
                secs99 = statistics.median(s for _, s in reach)
                total = statistics.median(r[-1]["wall_seconds"] for r in runs)
                finals = ", ".join(f"{r[-1]['test_acc']:.1%}" for r in runs)
                lines.append(
                    f"| `{method}` | {' | '.join(accs)} | {fmt_count(evals99)} | "
                    f"{'never' if not math.isfinite(secs99) else f'{secs99:.1f}'} | {total:.1f} |"
                )
                lines.append(f"|  ↳ final held-out accuracy per seed | {finals} |" + " |" * (len(marks) + 2))
    body = f"""## Addition: random search vs hill climbing vs Adam

Two-digit + two-digit addition; held-out accuracy (the rounded output equals the sum, on pairs never seen in
training) against loss evaluations, median over {args.seeds} seeds (0..{args.seeds - 1}), each method given
{args.evaluations:,} loss evaluations (a backprop step counts one evaluation; its backward pass is not counted).
Defaults otherwise: random search λ=64 from N(0, 1); hill climbing λ=16, σ=0.1, 1/5 rule; Adam lr 0.01, full batch.
Leaky-ReLU MLPs. "never" = the median seed did not reach 99% within the budget.
{chr(10).join(lines)}
"""
    write_section("addition", body)


if __name__ == "__main__":
    main()

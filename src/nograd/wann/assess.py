"""How a swing-up champion does with different weights: three of the paper's five columns (Gaier & Ha 2019,
Table 1), each the mean and standard deviation over ``trials`` episodes.

- random individual weights: every connection its own weight from U(-2, 2), drawn anew each trial;
- random shared weight: one weight from U(-2, 2) per trial;
- tuned shared weight: the best of ``sweep`` weights evenly spaced over [-2, 2], picked on separate tuning
  episodes, then measured on the trials.

Not here yet: tuned individual weights (the paper trains them; next to come) and, for classification, the ensemble.
Trial t starts from ``swingup_initial_states(seed, -1, trials)[t]`` (generation -1: evaluation), tuning episodes
from generation -2, and every weight draw is addressed by (seed, 'assess', column, trial).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from nograd.envs.swingup import swingup_initial_states
from nograd.seeding import addressed_generator
from nograd.wann.evaluate import evaluate_plain, evaluate_swingup
from nograd.wann.genome import Genome

__all__ = ["assess_swingup"]


def _stats(values: torch.Tensor) -> dict[str, float]:
    values = values.to(torch.float64)
    return {"mean": float(values.mean()), "sd": float(values.std(unbiased=False)), "trials": int(values.numel())}


def assess_swingup(genome: Genome, trials: int = 100, sweep: int = 41, seed: int = 0) -> dict[str, Any]:
    """The three columns for ``genome``, as a plain dict of {column: {mean, sd, trials}} plus the tuned weight."""
    starts = swingup_initial_states(seed, -1, trials)
    # random shared weight: trial t's weight is draws[t]; run every weight on every start, keep the diagonal
    draws = torch.rand(trials, generator=addressed_generator(seed, "assess", "shared", 0), dtype=torch.float64) * 4 - 2
    grid = evaluate_swingup(
        [genome], seed=seed, generation=-1, reps=trials, weights=draws.tolist(), dtype=torch.float64
    )
    random_shared = grid[0].diagonal()
    # tuned shared weight: pick on tuning episodes (generation -2), measure on the trials
    values = torch.linspace(-2.0, 2.0, sweep, dtype=torch.float64).tolist()
    tuning = evaluate_swingup([genome], seed=seed, generation=-2, reps=trials, weights=values, dtype=torch.float64)
    best = values[int(tuning[0].mean(dim=1).argmax())]
    tuned = evaluate_swingup([genome], seed=seed, generation=-1, reps=trials, weights=[best], dtype=torch.float64)[0, 0]
    # random individual weights: one plain episode per trial
    enabled = [(c.src, c.dst) for c in genome.conns if c.enabled]
    individual = []
    for t in range(trials):
        rng = addressed_generator(seed, "assess", "individual", t)
        w = (torch.rand(len(enabled), generator=rng, dtype=torch.float64) * 4 - 2).tolist()
        individual.append(evaluate_plain(genome, 1.0, starts[t].tolist(), conn_weights=dict(zip(enabled, w))))
    return {
        "random_individual_weights": _stats(torch.tensor(individual)),
        "random_shared_weight": _stats(random_shared),
        "tuned_shared_weight": _stats(tuned),
        "tuned_shared_weight_value": best,
        "connections": genome.num_enabled,
        "hidden_nodes": len(genome.hidden),
        "paper_swingup": {"random_individual": "57±121", "random_shared": "515±58", "tuned_shared": "723±16"},
    }


def format_table(result: dict[str, Any]) -> str:
    rows = [
        ("random individual weights", result["random_individual_weights"]),
        ("random shared weight", result["random_shared_weight"]),
        (f"tuned shared weight ({result['tuned_shared_weight_value']:+.2f})", result["tuned_shared_weight"]),
    ]
    paper = ("57 ± 121", "515 ± 58", "723 ± 16")
    width = max(len(name) for name, _ in rows)
    lines = [f"{'':<{width}}  {'this champion':>16}  {'paper (swing-up)':>16}"]
    for (name, stats), ref in zip(rows, paper):
        value = f"{stats['mean']:.0f} ± {stats['sd']:.0f}" if math.isfinite(stats["mean"]) else "nan"
        lines.append(f"{name:<{width}}  {value:>16}  {ref:>16}")
    lines.append(f"{'tuned individual weights':<{width}}  {'not yet':>16}  {'932 ± 6':>16}")
    return "\n".join(lines)

"""NSGA-II ranking on two maximised objectives: non-dominated fronts, then crowding distance within each front.

After the reference (google/brain-tokyo-workshop, ``WANNRelease/WANN/wann_src/nsga_sort.py`` and
``wann.py: probMoo``). With probability ``prob_moo`` (0.8) the objectives are [mean fitness, 1 / enabled
connections], otherwise [mean fitness, max fitness]; a genome with no enabled connection counts as one.

Crowding distance comes in two rules. ``"reference"`` (the default) is the authors' code as it ran for the paper:
each objective's gaps are multiplied by ``abs(1/max - min)`` (an operator-precedence slip for ``1 / (max - min)``),
which in practice lets the fitness objective's spacing decide the order within a front. ``"nsga2"`` divides each
objective's gaps by its range, as in NSGA-II (Deb et al. 2002), so both objectives weigh the same. Within a front,
larger crowding distance ranks first, ties in the order of the population (a stable sort). NaN objectives count as
worse than every number.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CROWDING_RULES", "nondominated_fronts", "crowding_distance", "nsga_rank"]

CROWDING_RULES = ("reference", "nsga2")


def _clean(objectives: np.ndarray) -> np.ndarray:
    values = np.array(objectives, dtype=np.float64, copy=True)
    if values.ndim != 2:
        raise ValueError(f"objectives must be a [population, objectives] array. Got shape {values.shape}.")
    for j in range(values.shape[1]):
        column = values[:, j]
        bad = ~np.isfinite(column) & ~(column == np.inf)
        if bad.any():  # NaN or -inf: below every finite value
            finite = column[np.isfinite(column)]
            column[bad] = (finite.min() - 1.0) if finite.size else 0.0
    return values


def nondominated_fronts(objectives: np.ndarray) -> list[list[int]]:
    """Indices of each Pareto front, best first (maximisation). Within a front, population order."""
    values = _clean(objectives)
    geq = (values[:, None, :] >= values[None, :, :]).all(-1)
    gt = (values[:, None, :] > values[None, :, :]).any(-1)
    dominates = geq & gt  # dominates[p, q]: p dominates q
    dominated_by = dominates.sum(0)
    remaining = np.ones(len(values), dtype=bool)
    fronts = []
    while remaining.any():
        front = np.flatnonzero(remaining & (dominated_by == 0))
        fronts.append(front.tolist())
        remaining[front] = False
        dominated_by = dominated_by - dominates[front].sum(0)
    return fronts


def crowding_distance(objectives: np.ndarray, rule: str = "nsga2") -> np.ndarray:
    """Crowding distance of each row within one front: ends infinite, the rest scaled per objective by ``rule``."""
    if rule not in CROWDING_RULES:
        raise ValueError(f"Unknown crowding rule {rule!r}. Valid rules: {', '.join(CROWDING_RULES)}.")
    values = _clean(objectives)
    n = len(values)
    distance = np.zeros(n)
    for j in range(values.shape[1]):
        order = np.argsort(values[:, j], kind="stable")
        column = values[order, j]
        gaps = np.full(n, np.inf)
        if n > 2:
            gaps[1:-1] = column[2:] - column[:-2]
        span = column[-1] - column[0] if n else 0.0
        if span > 0 and np.isfinite(span):
            if rule == "nsga2":
                gaps = gaps / span
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    gaps = gaps * abs(1.0 / column[-1] - column[0])
                gaps[np.isnan(gaps)] = 0.0
        distance[order] += gaps
    return distance


def nsga_rank(objectives: np.ndarray, crowding: str = "nsga2") -> np.ndarray:
    """Rank of each individual (0 is best): by front, then by decreasing crowding distance within the front."""
    values = _clean(objectives)
    ranked: list[int] = []
    for front in nondominated_fronts(values):
        crowd = crowding_distance(values[front], crowding)
        order = np.argsort(-crowd, kind="stable")
        ranked.extend(front[i] for i in order)
    rank = np.empty(len(values), dtype=np.int64)
    rank[ranked] = np.arange(len(values))
    return rank

"""nograd's WANN search side by side with the authors' own search code, both scored by nograd's evaluator.

    PYTHONPATH=src python benchmarks/wann_reference.py --reference-dir PATH [--seeds 3] [--generations 250]

``PATH`` is the ``WANNRelease/WANN`` folder of a checkout of google/brain-tokyo-workshop (not part of nograd and
never copied into it: this script imports its ``wann_src`` package from there, with a stand-in for the ``gym``
module it imports but does not use here). Each generation, the reference's ``Wann.ask()`` gives its population
(its ranking, culling, elitism, tournaments and ``topoMutate``, driven by numpy's global RNG, seeded per run), the
networks are converted from the reference's expressed weight matrices (``Ind.wMat``, ``Ind.aVec``) to nograd genomes
and scored by ``nograd.wann.evaluate_swingup`` on the episodes nograd's own search would use, and ``Wann.tell``
gets the [population, 6] mean returns. nograd's search runs the same number of generations with the same seeds and
episodes. Both use the reference's swing-up settings (``p/default_wan.json`` + ``p/swingup.json``: population 192,
3 reps, elite 20%, tournaments of 8). The population statistics are the reference's DataGatherer's: median
fitness, best fitness, median nodes, median connections (the reference's ``nConn``: connections that carry a
signal; nograd's ``Genome.num_active``), averaged over the last 50 generations. Writes the ``wann-reference``
section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import torch

from _report import write_section
from nograd.wann import WANN, evaluate_swingup
from nograd.wann.reference import parse_reference_matrix


def reference_search(reference_dir: Path, seed: int):
    """The reference's Wann object with its swing-up hyperparameters, numpy's global RNG seeded with ``seed``."""
    sys.modules.setdefault("gym", types.SimpleNamespace(Env=object))  # imported by its domain package, unused here
    sys.path.insert(0, str(reference_dir))
    cwd = os.getcwd()
    os.chdir(reference_dir)  # its loadHyp reads paths relative to the WANN folder
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # its `is` comparisons with literals
            from wann_src.wann import Wann, loadHyp, updateHyp

            hyp = loadHyp("p/default_wan.json")
            updateHyp(hyp, "p/swingup.json")
    finally:
        os.chdir(cwd)
    np.random.seed(seed)
    return Wann(hyp), hyp


def to_genome(ind):
    """A reference individual's expressed network (N x N matrix + activations) as a nograd genome."""
    w, a = ind.wMat, ind.aVec
    rows = [",".join(repr(float(v)) for v in list(w[i]) + [a[i]]) for i in range(len(a))]
    return parse_reference_matrix("\n".join(rows), 5, 1)


def run_reference(reference_dir: Path, seed: int, generations: int) -> list[dict[str, float]]:
    wann, hyp = reference_search(reference_dir, seed)
    stats = []
    for g in range(generations):
        pop = wann.ask()
        returns = evaluate_swingup([to_genome(i) for i in pop], seed=seed, generation=g, reps=hyp["alg_nReps"])
        wann.tell(returns.to(torch.float64).mean(dim=2).numpy())
        fitness = [float(i.fitness) for i in pop]
        stats.append(_stats(fitness, [i.node.shape[1] for i in pop], [int(i.nConn) for i in pop]))
    return stats


def run_nograd(seed: int, generations: int) -> list[dict[str, float]]:
    search = WANN(5, 1, population=192, seed=seed)
    stats = []
    for g in range(generations):
        pop = search.ask()
        returns = evaluate_swingup(pop, seed=seed, generation=g, reps=3).to(torch.float64)
        search.tell(returns.mean(dim=(1, 2)), returns.mean(dim=2).max(dim=1).values)
        stats.append(_stats(search.fitness.tolist(), [len(x.nodes) for x in pop], [x.num_active for x in pop]))
    return stats


def _stats(fitness: list[float], nodes: list[int], conns: list[int]) -> dict[str, float]:
    return {
        "median_fitness": statistics.median(fitness),
        "best_fitness": max(fitness),
        "median_nodes": statistics.median(nodes),
        "median_connections": statistics.median(conns),
    }


def summary(stats: list[dict[str, float]], last: int = 50) -> dict[str, float]:
    tail = stats[-last:]
    return {key: statistics.mean(s[key] for s in tail) for key in tail[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-dir", required=True, type=Path, help="WANNRelease/WANN of the authors' code")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--generations", type=int, default=250)
    parser.add_argument("--write", action="store_true", help="write the wann-reference section of docs/benchmarks.md")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    if not (args.reference_dir / "wann_src" / "wann.py").exists():
        sys.exit(f"{args.reference_dir} is not the reference's WANNRelease/WANN folder (no wann_src/wann.py).")
    torch.set_num_threads(1)
    lines = [
        "| search | seed | median fitness | best fitness | median nodes | median connections |",
        "|---|---|---|---|---|---|",
    ]
    totals: dict[str, list[dict[str, float]]] = {"reference (WANNRelease)": [], "nograd": []}
    for seed in range(args.seeds):
        for name, stats in (
            ("reference (WANNRelease)", run_reference(args.reference_dir, seed, args.generations)),
            ("nograd", run_nograd(seed, args.generations)),
        ):
            s = summary(stats)
            totals[name].append(s)
            print(name, seed, {k: round(v, 1) for k, v in s.items()}, flush=True)
            lines.append(
                f"| {name} | {seed} | {s['median_fitness']:.0f} | {s['best_fitness']:.0f} | "
                f"{s['median_nodes']:.1f} | {s['median_connections']:.1f} |"
            )
    for name, rows in totals.items():
        mean = {k: statistics.mean(r[k] for r in rows) for k in rows[0]}
        lines.append(
            f"| **{name}, mean of {len(rows)} seeds** | | **{mean['median_fitness']:.0f}** | "
            f"**{mean['best_fitness']:.0f}** | **{mean['median_nodes']:.1f}** | **{mean['median_connections']:.1f}** |"
        )
    if args.write:
        body = f"""## WANN: nograd's search beside the authors' search code

The reference's own search (google/brain-tokyo-workshop, WANNRelease/WANN `wann_src`: ask/tell, NSGA-II ranking,
culling, elitism, tournaments, topology mutation; swing-up settings: population 192, 3 reps, elite 20%, tournaments
of 8) and nograd's, each for {args.generations} generations per seed, both scored by nograd's evaluator on the same
episodes (the reference's networks converted from its expressed weight matrices). Population statistics averaged
over the last 50 generations; connections are those that carry a signal (the reference's `nConn`). The two
searches draw from different random number generators, so runs differ generation by generation; what must agree is
how populations grow and how fit they get. {args.note}

{chr(10).join(lines)}
"""
        write_section("wann-reference", body)


if __name__ == "__main__":
    main()

"""Seconds per WANN generation on swing-up: population x 6 shared weights x reps x 1000 steps, batched.

    PYTHONPATH=src python benchmarks/wann_speed.py [--population 192] [--reps 3] [--workers 1 2] [--repeat 5]

Prints the median time of one full generation (1000 steps, no early stop, identical genomes scored once) for
networks with no hidden nodes (the first generation) and for grown networks (every genome mutated until it has
``--hidden`` hidden nodes), in float32 and float64, in this process (workers=1) and in pools of worker processes
(``SwingUpPool``, started once before timing), the settings timed in turn. The reference implementation needs
about 45 s per generation at population 192 on two cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import torch

from _report import write_section
from nograd.seeding import addressed_generator
from nograd.wann import WANN, PackedPopulation, SwingUpPool, evaluate_swingup
from nograd.wann.mutation import add_connection, enable_connection, mutate

warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")


def grown_population(population: int, hidden: int, seed: int = 0) -> list:
    """The first generation, each genome then mutated by the search's own roulette until it has ``hidden`` hidden
    nodes (add connection 0.20, add node 0.25, enable 0.05, change activation 0.50), so it grows as in a search."""
    search = WANN(5, 1, population=population, seed=seed)
    genomes = search.ask()
    counters = search.counters
    out = []
    for i, genome in enumerate(genomes):
        g = genome.copy()
        rng = addressed_generator(seed, "bench", i)
        while len(g.hidden) < hidden:
            g, _, changed = mutate(g, rng, counters)
            if not changed and g.num_enabled == 0:  # nothing enabled to split and nothing to connect
                add_connection(g, rng, counters) or enable_connection(g, rng)
        out.append(g)
    return out


def time_generations(
    genomes: list, reps: int, dtype: torch.dtype, repeat: int, pools: dict[int, SwingUpPool | None]
) -> dict[int, float]:
    """Median seconds per generation for each number of workers, the settings timed in turn within each repeat
    (side by side, so a change in background load hits them alike)."""
    times: dict[int, list[float]] = {workers: [] for workers in pools}
    for k in range(repeat):
        for workers, pool in pools.items():
            start = time.perf_counter()
            evaluate_swingup(genomes, seed=0, generation=k, reps=reps, dtype=dtype, early_stop=False, pool=pool)
            times[workers].append(time.perf_counter() - start)
    return {workers: statistics.median(t) for workers, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=192)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2, help="torch threads outside the evaluator")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="1: in this process; N > 1: a pool of N processes"
    )
    parser.add_argument("--dtype", nargs="+", default=["float32", "float64"])
    parser.add_argument("--repeat", type=int, default=5, help="generations timed per setting (the median is shown)")
    parser.add_argument("--write", action="store_true", help="also write the wann-speed section of docs/benchmarks.md")
    parser.add_argument("--note", default="", help="a sentence for the report, e.g. on the machine's load")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    table = [
        "| population | hidden layers | (layer, activation) groups | dtype | workers | s/generation |",
        "|---|---|---|---|---|---|",
    ]
    torch.set_num_threads(args.threads)
    early = WANN(5, 1, population=args.population, seed=0).ask()
    grown = grown_population(args.population, args.hidden)
    rollouts = args.population * 6 * args.reps
    print(
        f"population {args.population}, 6 weights x {args.reps} reps = {rollouts} rollouts x 1000 steps, "
        f"{args.threads} threads, median of {args.repeat}, load average {os.getloadavg()[0]:.2f}"
    )
    pools: dict[int, SwingUpPool | None] = {w: SwingUpPool(w) if w > 1 else None for w in args.workers}
    try:
        for pool in pools.values():  # start the processes (a second or two each) before timing
            if pool is not None:
                evaluate_swingup(early, steps=1, pool=pool)
        for name, genomes in (("early (no hidden nodes)", early), (f"grown ({args.hidden}+ hidden nodes)", grown)):
            conns = sum(g.num_active for g in genomes) / len(genomes)
            packed = PackedPopulation(genomes)
            groups = sum(len(layer.groups) for layer in packed.layers)
            print(
                f"{name}: {conns:.1f} enabled connections per genome, {len(packed.layers)} hidden layers, "
                f"{groups} (layer, activation) groups"
            )
            for dtype in args.dtype:
                seconds = time_generations(genomes, args.reps, getattr(torch, dtype), args.repeat, pools)
                for workers, median in seconds.items():
                    print(f"  {dtype:<8} workers={workers}  {median:6.3f} s/generation", flush=True)
                    table.append(
                        f"| {name}, {conns:.1f} connections | {len(packed.layers)} | {groups} | {dtype} | {workers} | "
                        f"**{median:.3f}** |"
                    )
    finally:
        for pool in pools.values():
            if pool is not None:
                pool.close()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.write:
        body = f"""## WANN: seconds per generation on swing-up (population {args.population})

One generation = {args.population} genomes × 6 shared weights × {args.reps} reps = {rollouts:,} episodes of 1000 steps
(no early stop here; the search stops once every episode has ended), including packing the population.
"early" is a first generation (no hidden nodes), "grown" every genome mutated by the search's own roulette until it
has {args.hidden} hidden nodes (deeper than a typical search population: see the wann-swingup section for a real
run's generations). Median of {args.repeat} generations per row; workers = 1 is this process (one thread), N > 1 a
pool of N processes. The reference (WANNRelease) needs about 45 s per generation at this population on two cores.
Load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after. {args.note}

{chr(10).join(table)}
"""
        write_section("wann-speed", body)


if __name__ == "__main__":
    main()

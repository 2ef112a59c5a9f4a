"""Seconds per WANN generation on swing-up: population x 6 shared weights x reps x 1000 steps, numba vs torch.

    PYTHONPATH=src python benchmarks/wann_speed.py [--population 192] [--reps 3] [--backend torch numba]
        [--workers 1 2] [--repeat 5] [--from-run RUN_DIR ...]

Prints the median time of one full generation (identical genomes scored once) for networks with no hidden nodes
(the first generation) and for grown networks (every genome mutated until it has ``--hidden`` hidden nodes), in
float32 and float64, with each backend of ``evaluate_swingup``: torch in this process (workers=1) and in pools of
worker processes (``SwingUpPool``, started once before timing), all 1000 steps (no early stop); numba on
``--threads`` threads, each episode stopping when it ends, as in a search (the torch evaluator's early stop
waits for every episode of the population to end, which a search population practically never does), and again
with no episode ending early (an infinite track: the same work as the torch rows, the worst case of a population
whose carts all stay on the track). ``--from-run`` adds the last generation of a finished ``nograd wann train
swingup`` run (its checkpoint's population): a real grown population, whose controllers keep many carts on the
track for all 1000 steps. The settings are timed in turn within each repeat; the last column is each
row's speed-up over torch in one process. The reference implementation needs about 45 s per generation at
population 192 on two cores.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
import warnings
from contextlib import contextmanager, nullcontext

import torch

from _report import write_section
from nograd.runs import RunFolder
from nograd.seeding import addressed_generator
from nograd.wann import WANN, Genome, PackedPopulation, SwingUpPool, evaluate_swingup, swingup_kernel
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


def run_population(run_dir: str) -> list[Genome]:
    """The population of the last generation of a WANN run folder (from its checkpoint)."""
    state = RunFolder.open(run_dir).load_checkpoint("last")
    return [Genome.from_dict(g) for g in state["search"]["population"]]


Setting = tuple[str, int]  # (backend, workers): torch with workers processes, or numba on its threads
FULL = "numba-1000"  # numba with no episode ending early: the kernel's cost where every cart stays on the track


@contextmanager
def episodes_never_end():
    """The numba kernel with an infinite track (|x| <= inf): every episode runs all its steps, as the torch rows
    do, so that row compares the same work (a search's episodes end where their carts leave; this is the worst
    case)."""
    saved = swingup_kernel._CONSTANTS
    assert saved.count(swingup_kernel.X_LIMIT) == 1
    index = saved.index(swingup_kernel.X_LIMIT)
    swingup_kernel._CONSTANTS = (*saved[:index], math.inf, *saved[index + 1 :])
    try:
        yield
    finally:
        swingup_kernel._CONSTANTS = saved


def time_generations(
    genomes: list,
    reps: int,
    dtype: torch.dtype,
    repeat: int,
    settings: list[Setting],
    pools: dict[int, SwingUpPool | None],
    threads: int,
) -> dict[Setting, float]:
    """Median seconds per generation for each setting, the settings timed in turn within each repeat (side by
    side, so a change in background load hits them alike)."""
    times: dict[Setting, list[float]] = {setting: [] for setting in settings}
    for k in range(repeat):
        for backend, workers in settings:
            kwargs = {"seed": 0, "generation": k, "reps": reps, "dtype": dtype, "backend": backend}
            if backend == "torch":
                kwargs.update(early_stop=False, pool=pools[workers])
            else:
                kwargs.update(threads=threads, backend="numba")
            with episodes_never_end() if backend == FULL else nullcontext():
                start = time.perf_counter()
                evaluate_swingup(genomes, **kwargs)
                times[(backend, workers)].append(time.perf_counter() - start)
    return {setting: statistics.median(t) for setting, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=192)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2, help="torch threads, and the numba backend's threads")
    parser.add_argument("--backend", nargs="+", default=["torch", "numba"], choices=["torch", "numba"])
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="torch: 1 in this process; N > 1 a pool of N processes"
    )
    parser.add_argument("--dtype", nargs="+", default=["float32", "float64"])
    parser.add_argument("--repeat", type=int, default=5, help="generations timed per setting (the median is shown)")
    parser.add_argument("--from-run", nargs="*", default=[], help="also time the last generation of these WANN runs")
    parser.add_argument("--write", action="store_true", help="also write the wann-speed section of docs/benchmarks.md")
    parser.add_argument("--note", default="", help="a sentence for the report, e.g. on the machine's load")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    table = [
        "| population | hidden layers | (layer, activation) groups | dtype | backend | s/generation | "
        "speed-up over torch, 1 process |",
        "|---|---|---|---|---|---|---|",
    ]
    torch.set_num_threads(args.threads)
    early = WANN(5, 1, population=args.population, seed=0).ask()
    grown = grown_population(args.population, args.hidden)
    rollouts = args.population * 6 * args.reps
    print(
        f"population {args.population}, 6 weights x {args.reps} reps = {rollouts} rollouts x 1000 steps, "
        f"{args.threads} threads, median of {args.repeat}, load average {os.getloadavg()[0]:.2f}"
    )
    settings: list[Setting] = []
    if "torch" in args.backend:
        settings += [("torch", w) for w in args.workers]
    if "numba" in args.backend:
        settings += [("numba", args.threads), (FULL, args.threads)]
    pools: dict[int, SwingUpPool | None] = {w: SwingUpPool(w) if w > 1 else None for b, w in settings if b == "torch"}
    try:
        for pool in pools.values():  # start the processes (a second or two each) before timing
            if pool is not None:
                evaluate_swingup(early, steps=1, pool=pool, backend="torch")
        if "numba" in args.backend:  # compile (or load from the cache) the kernel for each dtype before timing
            for dtype in args.dtype:
                evaluate_swingup(early, steps=1, dtype=getattr(torch, dtype), backend="numba")
        populations = [("early (no hidden nodes)", early), (f"grown ({args.hidden}+ hidden nodes)", grown)]
        for run_dir in args.from_run:
            state = RunFolder.open(run_dir).load_checkpoint("last")
            label = f"a search's generation {state['search']['generation']} (seed {state['search']['hyper']['seed']})"
            populations.append((label, run_population(run_dir)))
        for name, genomes in populations:
            conns = sum(g.num_active for g in genomes) / len(genomes)
            packed = PackedPopulation(genomes)
            groups = sum(len(layer.groups) for layer in packed.layers)
            print(
                f"{name}: {conns:.1f} active connections per genome, {len(packed.layers)} hidden layers, "
                f"{groups} (layer, activation) groups"
            )
            for dtype in args.dtype:
                seconds = time_generations(
                    genomes, args.reps, getattr(torch, dtype), args.repeat, settings, pools, args.threads
                )
                base = seconds.get(("torch", 1))
                for (backend, workers), median in seconds.items():
                    if backend == "torch":
                        label = f"torch, {workers} process" + ("es" if workers > 1 else "")
                    else:
                        label = f"numba, {workers} threads" + (", all 1000 steps" if backend == FULL else "")
                    ratio = f"{base / median:.2f}x" if base else "-"
                    print(f"  {dtype:<8} {label:<36} {median:6.3f} s/generation  {ratio}", flush=True)
                    table.append(
                        f"| {name}, {conns:.1f} connections | {len(packed.layers)} | {groups} | {dtype} | {label} | "
                        f"**{median:.3f}** | {ratio} |"
                    )
    finally:
        for pool in pools.values():
            if pool is not None:
                pool.close()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.write:
        body = f"""## WANN: seconds per generation on swing-up (population {args.population})

One generation = {args.population} genomes × 6 shared weights × {args.reps} reps = {rollouts:,} episodes of at most
1000 steps, including packing (torch) or compiling (numba) the population into arrays. "early" is a first
generation (no hidden nodes), "grown" every genome mutated by the search's own roulette until it has {args.hidden}
hidden nodes (deeper than a typical search population), and "a search's generation" the last population of a real
1024-generation search (wann-swingup section), whose good controllers keep most carts on the track.
Median of {args.repeat} generations per row, the rows timed side by side. torch: the batched tensor evaluator, all
1000 steps (its early stop waits for every episode to end), in this process with one thread or in a pool of N
processes; numba: the compiled kernel on {args.threads} threads (the default backend where numba is installed), each
episode stopping when it ends, as in a search, and with "all 1000 steps" on an infinite track so that no episode
ends early (the torch rows' work; the worst case, where every cart stays on the track). The last column is each
row's speed-up over torch in one process.
The reference (WANNRelease) needs about 45 s per generation at this population on two cores.
Load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after. {args.note}

{chr(10).join(table)}
"""
        write_section("wann-speed", body)


if __name__ == "__main__":
    main()

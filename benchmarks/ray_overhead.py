"""What the Ray backend costs and gains: seconds per generation in this process vs on Ray actors, on one machine.

    python benchmarks/ray_overhead.py [--repeat 15] [--grow 150] [--from-run RUN_DIR] [--write]

Two workloads, each timed as whole generations (ask, score, tell) from the same state, the settings taken in turn
within each repeat so that drift in the machine hits them alike:

- WANN swing-up at population 192 (the paper's settings: 6 shared weights x 3 repetitions x up to 1000 steps): a
  search grown for ``--grow`` generations here (or the search state of a finished ``nograd wann train swingup``
  run, ``--from-run``), one generation scored by the numba kernel on 1 and 2 threads of this process, and by 1 and
  2 Ray actors of one CPU each (``RayScorer``, one chunk per actor).
- Hill climbing with a population of 256 on the addition task (the demo's MLP, 1000 training examples): one step
  scored by the vectorised evaluator on 1 and 2 threads, and by ``RayEvaluator`` on 1 and 2 actors.

Ray's overhead per generation is the Ray time minus the in-process time on the same number of CPUs (1 actor vs 1
thread, 2 actors vs 2 threads), as a share of the Ray generation. From the figures a model projects N workers: a
generation takes ``T(N) = s + C / N + o(N)``, where ``s`` is the driver's serial part (ask, tell, splitting),
``C`` the scoring on one CPU, and ``o(N) = max(o(2), 0) + b (N - 2)`` Ray's overhead: the one measured on 2
actors plus ``b`` per further actor call, ``b`` a round trip of a call that does nothing (16 calls on 2 actors,
per call); the work each call does on its actor (unpacking, compiling its chunk) runs in parallel and is left in
``C / N``. It assumes
chunks of equal cost, workers as fast as this machine's cores, and no network time (all actors were local here);
it is a model, not a measurement.
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import time
from collections.abc import Callable

import torch

from _report import write_section
from nograd.config import resolve_config
from nograd.evaluate import RayEvaluator, VectorizedEvaluator
from nograd.evaluate.ray_pool import RayActorPool
from nograd.optim import build_optimizer
from nograd.runs import RunFolder
from nograd.train import Trainer
from nograd.train_wann import WannTrainer, upgrade_wann_config
from nograd.wann import WANN
from nograd.wann.evaluate import _balanced_chunks, distinct_genomes
from nograd.wann.scorers import RayScorer, SwingUpScorer


def grown_search(generations: int, seed: int = 3) -> WANN:
    """A swing-up search at the paper's settings after ``generations`` generations."""
    trainer = WannTrainer({"task": "swingup", "seed": seed, "champion_retests": 0}, progress=False)
    for _ in range(generations):
        trainer.step()
    return trainer.search


def run_search(run_dir: str) -> WANN:
    """The search state of a finished ``nograd wann train swingup`` run."""
    run = RunFolder.open(run_dir)
    trainer = WannTrainer({**upgrade_wann_config(run.read_config()), "backend": "local"}, progress=False)
    trainer.search.load_state_dict(run.load_checkpoint("last")["search"])
    return trainer.search


class WannRun:
    """A copy of ``search`` that makes generations scored by ``scorer``, timing each (ask, score, tell) and its
    scoring. Every copy makes the same generations whatever its scorer, so the settings time the same work."""

    def __init__(self, search: WANN, scorer: Callable, threads: int):
        self.search, self.scorer, self.threads = copy.deepcopy(search), scorer, threads
        self.seconds: list[float] = []
        self.scoring: list[float] = []

    def generation(self, timed: bool = True) -> None:
        torch.set_num_threads(self.threads)
        started = time.perf_counter()
        genomes = self.search.ask()
        before = time.perf_counter()
        returns = self.scorer(genomes, 0, self.search.generation, 3).double()
        after = time.perf_counter()
        self.search.tell(returns.mean(dim=(1, 2)), returns.mean(dim=2).max(dim=1).values)
        if timed:
            self.seconds.append(time.perf_counter() - started)
            self.scoring.append(after - before)


class HillClimbRun:
    """Hill climbing from the same weights and seed, each step scored by ``evaluator``, timed (ask, score, tell)."""

    def __init__(self, trainer: Trainer, evaluator, start: list[torch.Tensor], threads: int):
        with torch.no_grad():
            for p, w in zip(trainer.model.parameters(), start):
                p.copy_(w)
        method = {k: v for k, v in trainer.config["method"].items() if k != "name"}
        self.optimizer = build_optimizer("hillclimb", trainer.model.parameters(), seed=0, **method)
        self.evaluator, self.threads, self.k = evaluator, threads, 0
        self.seconds: list[float] = []
        self.serial: list[float] = []

    def generation(self, timed: bool = True) -> None:
        torch.set_num_threads(self.threads)
        self.evaluator.set_step(self.k)
        started = time.perf_counter()
        self.optimizer.step(self.evaluator)
        if timed:
            self.seconds.append(time.perf_counter() - started)
        self.k += 1


def run_rows(make: dict[str, Callable[[], object]], steps: int, warmup: int = 2) -> dict[str, float]:
    """Median seconds per generation of each setting, run one after another (each starts its workers first)."""
    out = {}
    for name, factory in make.items():
        run, close = factory()
        for _ in range(warmup):
            run.generation(timed=False)
        for _ in range(steps):
            run.generation()
        close()
        out[name] = statistics.median(run.seconds)
    torch.set_num_threads(2)
    return out


def _noop(payload: object, k: int) -> int:
    return k


def round_trip(repeat: int = 50) -> float:
    """Seconds per actor call that does nothing: 16 calls on 2 actors, per call."""
    pool = RayActorPool(2, None)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        pool.map(_noop, [(k,) for k in range(16)])
        times.append((time.perf_counter() - started) / 16)
    pool.close()
    return statistics.median(times)


def _with_chunks(make: Callable, size: int) -> tuple:
    run, close = make()
    run.evaluator.chunk_size = size
    return run, close


def model_rows(local1: float, serial: float, work: float, over2: float, per_call: float, population: int) -> list[str]:
    """Projected seconds per generation and throughput on N workers: ``T(N) = s + C / N + o(N)`` with
    ``o(N) = max(o(2), 0) + b (N - 2)`` (see the module docstring)."""
    rows = []
    for n in (1, 2, 4, 8, 16, 32, 64):
        over = max(0.0, over2) + per_call * (n - 2)
        total = serial + work / n + over
        rows.append(f"| {n} | {total:.4f} | {population / total:,.0f} | {local1 / total:.1f}x | {over / total:.0%} |")
    return rows


def table(rows: dict[str, float]) -> list[str]:
    lines = [
        "| setting | s/generation | vs in-process on as many CPUs | Ray's overhead | share of the Ray generation |"
    ]
    lines.append("|---|---|---|---|---|")
    for name, seconds in rows.items():
        if name.startswith("Ray"):
            base = rows["in-process, 1 thread" if "1 actor" in name else "in-process, 2 threads"]
            over = seconds - base
            lines.append(
                f"| {name} | {seconds:.4f} | {seconds / base:.2f}x | {over * 1000:+.1f} ms | {over / seconds:.0%} |"
            )
        else:
            lines.append(f"| {name} | {seconds:.4f} | | | |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--grow", type=int, default=150, help="generations to grow the swing-up search first")
    parser.add_argument("--from-run", help="time generations from this swing-up run's last search state instead")
    parser.add_argument("--population", type=int, default=256, help="hill climbing's population")
    parser.add_argument("--write", action="store_true", help="write the section of docs/benchmarks.md")
    parser.add_argument("--note", default="", help="a line about the machine's state, for the docs")
    args = parser.parse_args()

    import ray

    torch.set_num_threads(2)
    search = run_search(args.from_run) if args.from_run else grown_search(args.grow)
    kind = f"the last search state of {args.from_run}" if args.from_run else f"grown for {args.grow} generations"
    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    init_seconds = time.perf_counter() - started

    # -- WANN swing-up ------------------------------------------------------------------------------------------
    local = SwingUpScorer(steps=1000, dtype=torch.float32, kernel="numba")
    probe = RayScorer(local, workers=1)
    started = time.perf_counter()
    probe.start()
    actor_seconds = time.perf_counter() - started
    genomes = search.ask()
    distinct = len(distinct_genomes(genomes)[0])
    assert torch.equal(probe(genomes, 0, 0, 3), local(genomes, 0, 0, 3)), "Ray and local returns differ"
    probe.close()

    def wann_setting(workers: int | None, threads: int) -> Callable[[], tuple[WannRun, Callable]]:
        def make() -> tuple[WannRun, Callable]:
            scorer = local if workers is None else RayScorer(local, workers=workers)
            scorer.start()
            return WannRun(search, scorer, threads), scorer.close

        return make

    local1 = WannRun(search, local, 1)  # kept: its scoring times give the driver's serial part
    wann = run_rows(
        {
            "in-process, 1 thread": lambda: (local1, lambda: None),
            "in-process, 2 threads": wann_setting(None, 2),
            "Ray, 1 actor": wann_setting(1, 1),
            "Ray, 2 actors": wann_setting(2, 2),
        },
        args.repeat,
    )
    dedupe = []
    for _ in range(10):
        started = time.perf_counter()
        distinct_genomes(genomes)
        dedupe.append(time.perf_counter() - started)
    # serial on the driver: ask, tell, and the search for identical genomes (scoring's first step, here or on Ray)
    wann_serial = statistics.median(t - s for t, s in zip(local1.seconds, local1.scoring)) + statistics.median(dedupe)
    # side by side: an in-process run and a 2-actor run make their generations in turn
    ray2 = RayScorer(local, workers=2)
    ray2.start()
    side_local, side_ray = WannRun(search, local, 2), WannRun(search, ray2, 2)
    for k in range(args.repeat + 2):
        side_local.generation(timed=k >= 2)
        side_ray.generation(timed=k >= 2)
    chunked: dict[int | None, float] = {}
    for chunk_size in (None, 12):  # 2 chunks (one per actor), then about 16
        ray2.chunk_size = chunk_size
        sweep = WannRun(search, ray2, 2)
        for k in range(args.repeat + 2):
            sweep.generation(timed=k >= 2)
        chunked[chunk_size] = statistics.median(sweep.seconds)
    ray2.close()
    wann_chunks = len(_balanced_chunks(distinct_genomes(search.ask())[0], math.ceil(distinct / 12)))
    wann_per_chunk = (chunked[12] - chunked[None]) / (wann_chunks - 2)
    side = {"local": statistics.median(side_local.seconds), "ray": statistics.median(side_ray.seconds)}
    torch.set_num_threads(2)

    # -- hill climbing on addition ------------------------------------------------------------------------------
    trainer = Trainer(
        resolve_config(
            {
                "task": {"name": "addition", "train_size": 1000},
                "method": {"name": "hillclimb", "population": args.population},
            }
        ),
        progress=False,
    )
    start = [p.detach().clone() for p in trainer.model.parameters()]

    def hc_setting(workers: int | None, threads: int) -> Callable[[], tuple[HillClimbRun, Callable]]:
        def make() -> tuple[HillClimbRun, Callable]:
            if workers is None:
                evaluator = VectorizedEvaluator(trainer.task, trainer.model)
            else:
                evaluator = RayEvaluator(trainer.task, trainer.model, workers=workers)
            evaluator.start()
            return HillClimbRun(trainer, evaluator, start, threads), evaluator.close

        return make

    hc_steps = args.repeat * 10
    hc = run_rows(
        {
            "in-process, 1 thread": hc_setting(None, 1),
            "in-process, 2 threads": hc_setting(None, 2),
            "Ray, 1 actor": hc_setting(1, 1),
            "Ray, 2 actors": hc_setting(2, 2),
        },
        hc_steps,
    )
    torch.set_num_threads(1)
    optimizer = HillClimbRun(trainer, None, start, 1).optimizer
    serial_times = []
    for _ in range(50):
        t = time.perf_counter()
        candidates = optimizer.ask()
        optimizer.tell(torch.rand(len(candidates), dtype=torch.float64), incumbent_loss=1.0)
        serial_times.append(time.perf_counter() - t)
    hc_serial = statistics.median(serial_times)
    hc_chunked = run_rows(
        {
            "2 chunks": hc_setting(2, 2),
            "16 chunks": lambda: _with_chunks(hc_setting(2, 2), args.population // 16),
        },
        hc_steps,
    )
    hc_per_chunk = (hc_chunked["16 chunks"] - hc_chunked["2 chunks"]) / 14
    per_call = round_trip()
    ray.shutdown()

    # -- the report ---------------------------------------------------------------------------------------------
    wann_work = wann["in-process, 1 thread"] - wann_serial
    hc_work = hc["in-process, 1 thread"] - hc_serial
    wann_over2 = wann["Ray, 2 actors"] - wann["in-process, 2 threads"]
    hc_over2 = hc["Ray, 2 actors"] - hc["in-process, 2 threads"]
    side_over = side["ray"] - side["local"]
    model_head = [
        "| workers N | s/generation | individuals/s | speed-up over 1 CPU in-process | Ray's share |",
        "|---|---|---|---|---|",
    ]
    body = "\n".join(
        [
            "## Ray backend: overhead per generation, and a model of N workers",
            "",
            f"A local Ray instance (`ray.init(num_cpus=2)`) on this 2-core machine; every actor holds one CPU and runs "
            f"one thread. Medians of {args.repeat} generations (hill climbing: {hc_steps} steps) after 2 untimed ones, "
            "each setting making the same generations from the same state (ask, score, tell), one setting after the "
            "other; Ray's overhead is the Ray row minus the "
            "in-process row on as many CPUs. One-time costs, not in the rows: `ray.init` "
            f"{init_seconds:.1f} s, the first actor ready (with its numba kernel loaded) {actor_seconds:.1f} s."
            + (f" {args.note}" if args.note else ""),
            "",
            f"**WANN swing-up, population 192** ({distinct} distinct networks, 6 shared weights x 3 repetitions x up "
            f"to 1000 steps; search {kind}; the numba kernel; Ray: one chunk per actor, balanced by cost):",
            "",
            *table(wann),
            "",
            f"Side by side in one loop (in-process and 2 actors in turn, {args.repeat} each): in-process "
            f"{side['local']:.4f} s, Ray {side['ray']:.4f} s, overhead "
            f"{side_over * 1000:+.1f} ms = {side_over / side['ray']:.0%} of the Ray generation. "
            "**Must-show: under 20%.**",
            "",
            f"**Hill climbing, population {args.population}, addition** (the demo's MLP on 1000 examples; "
            "vectorised evaluator; Ray: one chunk per actor):",
            "",
            *table(hc),
            "",
            "A hill-climbing step on addition is a few milliseconds of compute, so a Ray round trip costs more than "
            "the work it spreads: Ray pays where a population's scoring takes tens of milliseconds or more (WANN, "
            "RL environments, large networks), not for the addition demo.",
            "",
            "**Model of N workers** (swing-up; `T(N) = s + C/N + o(N)`, `o(N) = max(o(2), 0) + b (N - 2)`; a model, "
            "not a "
            f"measurement): the driver's serial part s = {wann_serial * 1000:.1f} ms (ask, tell, and finding the "
            f"identical genomes), scoring on one CPU C = {wann_work * 1000:.0f} ms, Ray's overhead on 2 actors "
            f"o(2) = {wann_over2 * 1000:+.1f} ms, and b = {per_call * 1000:.2f} ms per further actor call (a call "
            "that does nothing, 16 on 2 actors). For chunk sizing, on 2 actors a generation took "
            f"{chunked[None]:.4f} s in 2 chunks and {chunked[12]:.4f} s in {wann_chunks} "
            f"({wann_per_chunk * 1000:+.1f} ms per extra chunk, its own packing and compiling included). "
            "It assumes chunks of equal cost (they are balanced by nodes and connections, not by episode length), "
            "workers as fast as these cores, and no network; over a network add the round trip per generation.",
            "",
            *model_head,
            *model_rows(wann["in-process, 1 thread"], wann_serial, wann_work, wann_over2, per_call, 192),
            "",
            f"Hill climbing on addition, the same model: serial part {hc_serial * 1000:.2f} ms (ask, tell), scoring "
            f"on one CPU {hc_work * 1000:.2f} ms, o(2) = {hc_over2 * 1000:+.1f} ms, b as above (on 2 actors a step "
            "took "
            f"{hc_chunked['2 chunks'] * 1000:.1f} ms in 2 chunks, {hc_chunked['16 chunks'] * 1000:.1f} ms in 16: "
            f"{hc_per_chunk * 1000:+.2f} ms per extra chunk):",
            "",
            *model_head,
            *model_rows(hc["in-process, 1 thread"], hc_serial, hc_work, hc_over2, per_call, args.population),
        ]
    )
    print(body)
    if args.write:
        write_section("ray-overhead", body)


if __name__ == "__main__":
    main()

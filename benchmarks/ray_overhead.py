"""What the Ray backend costs and gains: seconds per generation in this process vs on Ray actors, on one machine.

    python benchmarks/ray_overhead.py [--repeat 15] [--grow 150] [--from-run RUN_DIR] [--write]

Two workloads, each timed as whole generations (ask, score, tell) from the same state, the settings taken in turn
within each generation so that drift in the machine hits them alike:

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


def interleaved(runs: dict[str, WannRun | HillClimbRun], steps: int, warmup: int = 2) -> None:
    """Every run makes ``warmup`` untimed and ``steps`` timed generations, the runs in turn within each one, so that
    drift in the machine hits them alike (their workers are all started; only one run works at a time)."""
    for k in range(warmup + steps):
        for run in runs.values():
            run.generation(timed=k >= warmup)
    torch.set_num_threads(2)


def medians(runs: dict[str, WannRun | HillClimbRun]) -> dict[str, float]:
    return {name: statistics.median(run.seconds) for name, run in runs.items()}


def paired(runs: dict[str, WannRun | HillClimbRun], a: str, b: str) -> float:
    """Median over generations of run ``a``'s time minus run ``b``'s on the same generation."""
    return statistics.median(x - y for x, y in zip(runs[a].seconds, runs[b].seconds))


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


def model_rows(local1: float, serial: float, work: float, over2: float, per_call: float, population: int) -> list[str]:
    """Projected seconds per generation and throughput on N workers: ``T(N) = s + C / N + o(N)`` with
    ``o(N) = max(o(2), 0) + b (N - 2)`` (see the module docstring)."""
    rows = []
    for n in (1, 2, 4, 8, 16, 32, 64):
        over = max(0.0, over2) + per_call * (n - 2)
        total = serial + work / n + over
        rows.append(f"| {n} | {total:.4f} | {population / total:,.0f} | {local1 / total:.1f}x | {over / total:.0%} |")
    return rows


def table(rows: dict[str, float], over: dict[str, float]) -> list[str]:
    lines = [
        "| setting | s/generation | vs in-process on as many CPUs | Ray's overhead | share of the Ray generation |"
    ]
    lines.append("|---|---|---|---|---|")
    for name, seconds in rows.items():
        if name in over:
            base = rows["in-process, 1 thread" if "1 actor" in name else "in-process, 2 threads"]
            lines.append(
                f"| {name} | {seconds:.4f} | {seconds / base:.2f}x | {over[name] * 1000:+.1f} ms | "
                f"{over[name] / seconds:.0%} |"
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
    parser.add_argument("--section", default="ray-overhead", help="the section's name in docs/benchmarks.md")
    parser.add_argument("--note", default="", help="a line about the machine's state, for the docs")
    args = parser.parse_args()

    import ray

    torch.set_num_threads(2)
    search = run_search(args.from_run) if args.from_run else grown_search(args.grow)
    kind = f"the last search state of {args.from_run}" if args.from_run else f"grown for {args.grow} generations"
    started = time.perf_counter()
    # 5 logical CPUs on the 2 cores: every setting's actors stay up at once, and only one setting works at a time
    ray.init(num_cpus=5, include_dashboard=False, log_to_driver=False)
    init_seconds = time.perf_counter() - started

    # -- WANN swing-up ------------------------------------------------------------------------------------------
    local = SwingUpScorer(steps=1000, dtype=torch.float32, kernel="numba")
    ray1, ray2, ray2_small = RayScorer(local, workers=1), RayScorer(local, workers=2), RayScorer(local, workers=2)
    started = time.perf_counter()
    ray1.start()
    actor_seconds = time.perf_counter() - started
    ray2.start()
    ray2_small.start()
    genomes = search.ask()
    distinct = len(distinct_genomes(genomes)[0])
    ray2_small.chunk_size = math.ceil(distinct / 16)
    wann_chunks = len(_balanced_chunks(distinct_genomes(genomes)[0], math.ceil(distinct / ray2_small.chunk_size)))
    assert torch.equal(ray2(genomes, 0, 0, 3), local(genomes, 0, 0, 3)), "Ray and local returns differ"
    wann_runs = {
        "in-process, 1 thread": WannRun(search, local, 1),
        "in-process, 2 threads": WannRun(search, local, 2),
        "Ray, 1 actor": WannRun(search, ray1, 1),
        "Ray, 2 actors": WannRun(search, ray2, 2),
        f"Ray, 2 actors, {wann_chunks} chunks": WannRun(search, ray2_small, 2),
    }
    interleaved(wann_runs, args.repeat)
    for scorer in (ray1, ray2, ray2_small):
        scorer.close()
    wann = medians(wann_runs)
    wann_over = {
        "Ray, 1 actor": paired(wann_runs, "Ray, 1 actor", "in-process, 1 thread"),
        "Ray, 2 actors": paired(wann_runs, "Ray, 2 actors", "in-process, 2 threads"),
    }
    wann_per_chunk = paired(wann_runs, f"Ray, 2 actors, {wann_chunks} chunks", "Ray, 2 actors") / (wann_chunks - 2)
    one = wann_runs["in-process, 1 thread"]
    dedupe = []
    for _ in range(10):
        started = time.perf_counter()
        distinct_genomes(genomes)
        dedupe.append(time.perf_counter() - started)
    # serial on the driver: ask, tell, and the search for identical genomes (scoring's first step, here or on Ray)
    wann_serial = statistics.median(t - s for t, s in zip(one.seconds, one.scoring)) + statistics.median(dedupe)

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
    evaluators = {
        "in-process, 1 thread": VectorizedEvaluator(trainer.task, trainer.model),
        "in-process, 2 threads": VectorizedEvaluator(trainer.task, trainer.model),
        "Ray, 1 actor": RayEvaluator(trainer.task, trainer.model, workers=1),
        "Ray, 2 actors": RayEvaluator(trainer.task, trainer.model, workers=2),
        "Ray, 2 actors, 16 chunks": RayEvaluator(
            trainer.task, trainer.model, workers=2, chunk_size=args.population // 16
        ),
    }
    hc_runs = {}
    for name, evaluator in evaluators.items():
        evaluator.start()
        hc_runs[name] = HillClimbRun(trainer, evaluator, start, 1 if "1 " in name else 2)
    hc_steps = args.repeat * 10
    interleaved(hc_runs, hc_steps)
    for evaluator in evaluators.values():
        evaluator.close()
    hc = medians(hc_runs)
    hc_over = {
        "Ray, 1 actor": paired(hc_runs, "Ray, 1 actor", "in-process, 1 thread"),
        "Ray, 2 actors": paired(hc_runs, "Ray, 2 actors", "in-process, 2 threads"),
    }
    hc_per_chunk = paired(hc_runs, "Ray, 2 actors, 16 chunks", "Ray, 2 actors") / 14
    torch.set_num_threads(1)
    optimizer = HillClimbRun(trainer, None, start, 1).optimizer
    serial_times = []
    for _ in range(50):
        t = time.perf_counter()
        candidates = optimizer.ask()
        optimizer.tell(torch.rand(len(candidates), dtype=torch.float64), incumbent_loss=1.0)
        serial_times.append(time.perf_counter() - t)
    hc_serial = statistics.median(serial_times)
    per_call = round_trip()
    ray.shutdown()
    torch.set_num_threads(2)  # as the in-process rows with 2 threads ran; the machine line reports it

    # -- the report ---------------------------------------------------------------------------------------------
    wann_work = wann["in-process, 1 thread"] - wann_serial
    hc_work = hc["in-process, 1 thread"] - hc_serial
    model_head = [
        "| workers N | s/generation | individuals/s | speed-up over 1 CPU in-process | Ray's share |",
        "|---|---|---|---|---|",
    ]
    w2 = wann_over["Ray, 2 actors"]
    body = "\n".join(
        [
            "## Ray backend: overhead per generation, and a model of N workers",
            "",
            "A local Ray instance on this 2-core machine (`ray.init(num_cpus=5)`: logical CPUs, so that every "
            "setting's actors stay up at once); each actor runs one thread. Every setting makes the same generations "
            "from the same state (ask, score, tell), the settings in turn within each generation, so drift hits them "
            f"alike: medians of {args.repeat} generations (hill climbing: {hc_steps} steps) after 2 untimed ones. "
            "Ray's overhead is the median over generations of the Ray setting's time minus the in-process one's on as "
            "many CPUs (1 actor vs 1 thread, 2 actors vs 2 threads), as a share of the Ray generation. One-time "
            f"costs, not in the rows: `ray.init` {init_seconds:.1f} s, the first actor ready (its numba kernel "
            f"loaded) {actor_seconds:.1f} s." + (f" {args.note}" if args.note else ""),
            "",
            f"**WANN swing-up, population 192** ({distinct} distinct networks, 6 shared weights x 3 repetitions x up "
            f"to 1000 steps; search {kind}; the numba kernel; Ray: one chunk per actor, balanced by cost, unless "
            "the row says otherwise):",
            "",
            *table(wann, wann_over),
            "",
            f"**Must-show (overhead under 20% of the generation at population 192):** 2 actors "
            f"{w2 * 1000:+.1f} ms = {w2 / wann['Ray, 2 actors']:.0%}, 1 actor "
            f"{wann_over['Ray, 1 actor'] * 1000:+.1f} ms = {wann_over['Ray, 1 actor'] / wann['Ray, 1 actor']:.0%}.",
            "",
            f"**Hill climbing, population {args.population}, addition** (the demo's MLP on 1000 examples; "
            "vectorised evaluator; Ray: one chunk per actor unless the row says otherwise):",
            "",
            *table(hc, hc_over),
            "",
            "A hill-climbing step on addition is a few milliseconds of compute, so a Ray round trip costs more than "
            "the work it spreads: Ray pays where a population's scoring takes tens of milliseconds or more (WANN, "
            "RL environments, large networks), not for the addition demo.",
            "",
            "**Chunk size.** More chunks than actors cost a round trip each, and on swing-up each chunk also packs "
            f"and compiles its own genomes: on 2 actors, {wann_chunks} chunks cost {wann_per_chunk * 1000:+.1f} ms "
            f"per extra chunk over 2 (hill climbing: 16 chunks, {hc_per_chunk * 1000:+.2f} ms per extra chunk). A "
            f"call that does nothing takes {per_call * 1000:.2f} ms (16 on 2 actors, per call).",
            "",
            "**Model of N workers** (a model, not a measurement): `T(N) = s + C/N + o(N)`, "
            "`o(N) = max(o(2), 0) + b (N - 2)`. Swing-up: the driver's serial part s = "
            f"{wann_serial * 1000:.1f} ms (ask, tell, and finding the identical genomes), scoring on one CPU C = "
            f"{wann_work * 1000:.0f} ms, o(2) = {w2 * 1000:+.1f} ms as measured above, b = {per_call * 1000:.2f} ms "
            "per further actor call. It assumes chunks of equal cost (they are balanced by nodes and connections, not "
            "by episode length), workers as fast as these cores, and no network; over a network add the round trip "
            "per generation.",
            "",
            *model_head,
            *model_rows(wann["in-process, 1 thread"], wann_serial, wann_work, w2, per_call, 192),
            "",
            f"Hill climbing on addition, the same model: s = {hc_serial * 1000:.2f} ms (ask, tell), C = "
            f"{hc_work * 1000:.2f} ms, o(2) = {hc_over['Ray, 2 actors'] * 1000:+.1f} ms:",
            "",
            *model_head,
            *model_rows(
                hc["in-process, 1 thread"], hc_serial, hc_work, hc_over["Ray, 2 actors"], per_call, args.population
            ),
        ]
    )
    print(body)
    if args.write:
        write_section(args.section, body)


if __name__ == "__main__":
    main()

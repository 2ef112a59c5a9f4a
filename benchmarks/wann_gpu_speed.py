"""Seconds per classification scoring of a WANN population of 960 on a GPU, by chunk size (device call of wann-mnist).

    PYTHONPATH=src python benchmarks/wann_gpu_speed.py [--data-dir DIR] [--cpu] [--out FILE]

Scores three Fashion-MNIST-256 populations of 960 genomes (the initial one; 96 genomes grown by 60 and by 200 of
the search's own mutations, ten copies each) with ``evaluate_classification`` on CUDA for chunk limits
(``max_elements``) from 2e7 to 3e9, median of 3 after a warm-up; ``--cpu`` adds the initial population on the CPU.
Writes JSON (default ``benchmarks/results/wann_mnist_gpu_speed.json``); docs/benchmarks.md's ``wann-mnist`` section
quotes it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from nograd.seeding import addressed_generator
from nograd.tasks.wann_images import wann_images
from nograd.wann import WANN
from nograd.wann.activations import CLASSIFY_ACTIVATIONS
from nograd.wann.classify import evaluate_classification
from nograd.wann.evaluate import PackedPopulation
from nograd.wann.mutation import mutate

LIMITS = (20_000_000, 100_000_000, 300_000_000, 1_000_000_000, 3_000_000_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "wann_mnist_gpu_speed.json"))
    args = parser.parse_args()
    out = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "cpus": os.cpu_count()}
    x, y = wann_images("fashion-mnist", "train", args.data_dir)
    xc, yc = x.cuda(), y.cuda()
    search = WANN(256, 10, population=960, p_init_enable=0.05, tournament_size=32, activations=CLASSIFY_ACTIVATIONS)
    early = search.ask()

    def grow(mutations: int) -> list:
        grown = []
        for i, genome in enumerate(early[:96]):
            rng = addressed_generator(0, "grow", i)
            for _ in range(mutations):
                genome, _, _ = mutate(genome, rng, search.counters, activations=CLASSIFY_ACTIVATIONS)
            grown.append(genome)
        return grown * 10

    for name, population in (("early", early), ("grown60", grow(60)), ("grown200", grow(200))):
        row = {
            "hidden": sum(len(g.hidden) for g in population) / len(population),
            "active": sum(g.num_active for g in population) / len(population),
        }
        started = time.perf_counter()
        PackedPopulation(population, shared_inputs=True, device="cuda")
        row["build_s"] = time.perf_counter() - started
        for limit in LIMITS:

            def score(population: list = population, limit: int = limit) -> None:
                evaluate_classification(population, xc, yc, generation=1, max_elements=limit, device="cuda")

            score()
            times = []
            for _ in range(3):
                started = time.perf_counter()
                score()
                times.append(time.perf_counter() - started)
            row[f"eval_s@{limit:.0e}"] = statistics.median(times)
        row["peak_GiB"] = torch.cuda.max_memory_allocated() / 2**30
        out[name] = row
        print(name, json.dumps(row), flush=True)
    if args.cpu:
        started = time.perf_counter()
        evaluate_classification(early, x, y, generation=1)
        out["cpu_early_eval_s"] = time.perf_counter() - started
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

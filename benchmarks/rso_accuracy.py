"""RSO accuracy: Fashion-MNIST with the paper's MNIST net, test accuracy after each cycle, next to Adam.

Every run goes through the real trainer. Weight updates are counted as the paper counts them: accepted moves.
Optionally also the real MNIST test set (shared/data/mnist-test) as a seeded 50/50 sanity split.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from _report import ROOT, write_section
from nograd.runs import RunFolder
from nograd.train import train


def rso_runs(task: dict, cycles: int, seeds: list[int], out: str, reuse: list[str] = ()) -> list[list[dict]]:
    """RSO runs for ``seeds``; finished run folders in ``reuse`` stand in for the seeds they were run with."""
    runs, done = [], set()
    for folder in reuse:
        run = RunFolder.open(folder)
        config = run.read_config()
        if config["task"]["name"] == task["name"] and config["method"]["name"] == "rso":
            runs.append(run.read_metrics())
            done.add(config["seed"])
            print("reusing", folder, [round(r["test_acc"], 4) for r in runs[-1]], flush=True)
    for seed in seeds:
        if seed in done:
            continue
        config = {
            "task": task,
            "model": {"name": "rso-mnist"},
            "method": {"name": "rso", "cycles": cycles},
            "seed": seed,
        }
        trainer = train(config, out=out, progress=True)
        runs.append(trainer.run.read_metrics())
        print(task["name"], "rso seed", seed, [round(r["test_acc"], 4) for r in runs[-1]], flush=True)
    return runs


def adam_runs(task: dict, epochs: int, seeds: list[int], out: str, train_size: int) -> list[list[dict]]:
    runs = []
    steps_per_epoch = train_size // 128
    for seed in seeds:
        config = {
            "task": {**task, "batch_size": 128},
            "model": {"name": "rso-mnist"},
            "method": {"name": "adam", "lr": 1e-3},
            "budget": {"steps": epochs * steps_per_epoch},
            "log_every": steps_per_epoch,
            "seed": seed,
        }
        trainer = train(config, out=out, progress=True)
        runs.append(trainer.run.read_metrics())
        print(task["name"], "adam seed", seed, [round(r["test_acc"], 4) for r in runs[-1]], flush=True)
    return runs


def table(runs: list[list[dict]], label: str, unit: str) -> str:
    rows = []
    for i in range(1, min(len(r) for r in runs)):
        accs = [r[i]["test_acc"] for r in runs]
        accepted = statistics.median(r[i]["accepted"] for r in runs)
        secs = statistics.median(r[i]["wall_seconds"] for r in runs)
        rows.append(
            f"| {label} | {unit} {i} | **{statistics.median(accs):.2%}** | "
            f"{', '.join(f'{a:.2%}' for a in accs)} | {accepted:,.0f} | {secs / 60:.1f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=5000, help="RSO minibatch (the paper: 5000)")
    parser.add_argument("--adam-epochs", type=int, default=5)
    parser.add_argument(
        "--reuse", nargs="*", default=[], help="finished RSO run folders to report instead of rerunning"
    )
    parser.add_argument("--mnist-cycles", type=int, default=None, help="cycles for the MNIST sanity split")
    parser.add_argument("--mnist-test-dir", default=str(ROOT.parent / "shared" / "data" / "mnist-test"))
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    fashion = {"name": "fashion-mnist", "batch_size": args.batch_size}
    parts = []
    with tempfile.TemporaryDirectory() as out:
        rso = rso_runs(fashion, args.cycles, seeds, out, args.reuse)
        adam = adam_runs({"name": "fashion-mnist"}, args.adam_epochs, seeds, out, 60_000)
        parts.append(table(rso, f"RSO, minibatch {args.batch_size}", "cycle"))
        parts.append(table(adam, "Adam lr 1e-3, batch 128", "epoch"))
        if Path(args.mnist_test_dir).is_dir():
            mnist = {
                "name": "mnist",
                "data_dir": args.mnist_test_dir,
                "split_test": 0.5,
                "batch_size": min(args.batch_size, 1000),
            }
            cycles = args.mnist_cycles or args.cycles
            runs = rso_runs(mnist, cycles, seeds[:1], out)
            parts.append(table(runs, f"RSO ({cycles} cycles), MNIST test-set split", "cycle"))
    body = f"""## RSO accuracy: Fashion-MNIST, the paper's MNIST net

Test accuracy on the full Fashion-MNIST test set (10k) after each RSO cycle (one update per weight, 12,016 weights
and BatchNorm parameters, σ annealed over {args.cycles} cycles), median over seeds {seeds}, trained on the full 60k;
Adam on the same net as the reference, through the same trainer. "Accepted" counts weight updates as the paper
does (moves to w ± Δ, cumulative). The MNIST rows are a sanity split: the real MNIST test set split 50/50
(seeded), 5000 to train, 5000 to test.

| method | after | median test accuracy | per seed | accepted updates | minutes |
|---|---|---|---|---|---|
{chr(10).join(parts)}
"""
    write_section("rso-accuracy", body)


if __name__ == "__main__":
    main()

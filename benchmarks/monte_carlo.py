"""Monte Carlo training (Whitelam et al. 2022): aMC and Metropolis next to Adam on the paper's MLP.

Fashion-MNIST (full 60k/10k) and scikit-learn's digits, the 784→64→64→64→64→10 tanh/LayerNorm MLP (``mc-mlp``; on
digits its input layer has 64 inputs). aMC and Metropolis get the same budget of loss evaluations (one evaluation
is one forward pass of one weight vector on the step's training batch); Adam gets its own budget, stated beside it.
Every run goes through the real trainer. Per-run rows also go to ``benchmarks/results/monte_carlo.json``.

Run folders can stand in for runs (``--reuse``): the long Fashion-MNIST runs can be made one at a time
with ``nograd train`` and reported here. ``--long`` folders are reported as their own rows (one seed on a longer
budget, e.g. the issue's 30-minute figure), beside the median-over-seeds rows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import torch
import yaml

from _report import ROOT, write_section
from nograd.runs import RunFolder
from nograd.train import train

RESULTS = ROOT / "benchmarks" / "results" / "monte_carlo.json"
PLATEAU_NOTE = """
`plateau` is not in the paper (`AdaptiveMC`'s docstring): σ also shrinks by 0.95 (and μ resets) whenever a running
average of the kept weights' minibatch loss, over about that many steps, has not fallen 0.5% below its last low for
that many steps. On minibatches of 5000 the paper's rule alone never shrank σ (the acceptance stayed near 40%, so no
streak of 100 rejections came) and test accuracy stood at about 80% from step 15k to 18k.
"""


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs, values read as YAML (``plateau=2000``, ``beta=null``)."""
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        out[key] = yaml.safe_load(value)
    return out


def describe_budget(budget: dict[str, Any], batch: int | None) -> str:
    examples = "the full training set" if batch is None else f"minibatches of {batch}"
    if budget.get("evaluations"):
        return f"{budget['evaluations']:,} loss evaluations on {examples}"
    if budget.get("seconds"):
        return f"{budget['seconds'] / 60:g} minutes of wall time on {examples}"
    return f"{budget['steps']:,} steps on {examples}"


def run_row(dataset: str, method: str, config: dict[str, Any], rows: list[dict], budget: str) -> dict[str, Any]:
    last = rows[-1]
    return {
        "dataset": dataset,
        "method": method,
        "seed": config["seed"],
        "test_acc": last["test_acc"],
        "best_logged_test_acc": max(r["test_acc"] for r in rows),
        "train_acc": last["train_acc"],
        "evaluations": int(last["evaluations"]),
        "examples": int(last["examples"]),
        "wall_seconds": last["wall_seconds"],
        "budget": budget,
        "batch_size": config["task"].get("batch_size"),
        "options": {k: v for k, v in config["method"].items() if k != "name"},
        "threads": torch.get_num_threads(),
        "accuracy_curve": [(int(r["evaluations"]), round(r["test_acc"], 4)) for r in rows],
    }


def reuse_key(config: dict[str, Any]) -> tuple:
    """Which run a folder stands in for: task, method, seed and budget."""
    budget = {k: v for k, v in config["budget"].items() if v is not None}  # the trainer fills in the unset ones
    return (config["task"]["name"], config["method"]["name"], config["seed"], json.dumps(budget, sort_keys=True))


def run(dataset: str, label: str, config: dict[str, Any], out: str, reuse: dict) -> dict[str, Any]:
    key = reuse_key(config)
    if key in reuse:
        folder = reuse[key]
        run_config, rows = folder.read_config(), folder.read_metrics()
        print("reusing", folder.path, flush=True)
    else:
        trainer = train(config, out=out, progress=False)
        run_config, rows = trainer.config, trainer.run.read_metrics()
    budget = describe_budget(run_config["budget"], run_config["task"].get("batch_size"))
    if key in reuse and not (reuse[key].path / "summary.json").exists():
        budget += f" (stopped at {int(rows[-1]['evaluations']):,}: not finished)"
    row = run_row(dataset, label, run_config, rows, budget)
    print(json.dumps(row), flush=True)
    return row


def table(rows: list[dict]) -> str:
    lines = [
        "| dataset | method | median test accuracy | per seed | loss evaluations | examples read | minutes | budget |",
        "|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["method"]), []).append(r)
    for (dataset, method), runs in groups.items():
        accs = [r["test_acc"] for r in runs]
        lines.append(
            f"| {dataset} | {method} | **{statistics.median(accs):.2%}** | {', '.join(f'{a:.2%}' for a in accs)} | "
            f"{statistics.median(r['evaluations'] for r in runs):,.0f} | "
            f"{statistics.median(r['examples'] for r in runs):,.0f} | "
            f"{statistics.median(r['wall_seconds'] for r in runs) / 60:.1f} | {runs[0]['budget']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fashion-seeds", type=int, default=3)
    parser.add_argument("--digits-seeds", type=int, default=3)
    parser.add_argument("--fashion-evaluations", type=int, default=20_000, help="aMC and Metropolis budget")
    parser.add_argument("--fashion-batch", type=int, default=5000)
    parser.add_argument("--digits-evaluations", type=int, default=10_000)
    parser.add_argument("--adam-epochs", type=int, default=5, help="Adam on Fashion-MNIST, batch 128")
    parser.add_argument(
        "--fashion-amc", nargs="*", default=["plateau=1000"], help="aMC options on Fashion-MNIST, key=value"
    )
    parser.add_argument("--skip-fashion", action="store_true")
    parser.add_argument(
        "--fashion-methods", nargs="*", default=["amc", "metropolis", "adam"], help="methods to run on Fashion-MNIST"
    )
    parser.add_argument("--note", default="", help="a sentence for the report, e.g. on the machine's load")
    parser.add_argument("--reuse", nargs="*", default=[], help="run folders to report instead of rerunning")
    parser.add_argument("--long", nargs="*", default=[], help="finished run folders reported as one-seed rows")
    parser.add_argument(
        "--digits-from-results", action="store_true", help="keep the digits rows of the results file, do not rerun"
    )
    parser.add_argument("--out", default=None, help="keep the run folders here (default: a temporary folder)")
    args = parser.parse_args()
    amc_options = parse_options(args.fashion_amc)
    reuse = {}
    for path in args.reuse:
        folder = RunFolder.open(path)
        reuse[reuse_key(folder.read_config())] = folder

    model = {"name": "mc-mlp"}
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or scratch
        if args.digits_from_results:
            rows += [r for r in json.loads(RESULTS.read_text()) if r["dataset"] == "digits"]
        for seed in range(0 if args.digits_from_results else args.digits_seeds):
            digits = {"name": "digits", "batch_size": None}
            mc_budget = {"evaluations": args.digits_evaluations}
            for method in ("amc", "metropolis"):
                config = {
                    "task": digits,
                    "model": model,
                    "method": {"name": method},
                    "budget": mc_budget,
                    "seed": seed,
                }
                rows.append(run("digits", method, config, out, reuse))
            config = {
                "task": {"name": "digits", "batch_size": 128},
                "model": model,
                "method": {"name": "adam", "lr": 1e-3},
                "budget": {"steps": 50 * (1438 // 128)},
                "log_every": 1438 // 128,
                "seed": seed,
            }
            rows.append(run("digits", "adam", config, out, reuse))
        if not args.skip_fashion:
            for seed in range(args.fashion_seeds):
                task = {"name": "fashion-mnist", "batch_size": args.fashion_batch}
                for method, options in (("amc", amc_options), ("metropolis", {})):
                    if method not in args.fashion_methods:
                        continue
                    config = {
                        "task": task,
                        "model": model,
                        "method": {"name": method, **options},
                        "budget": {"evaluations": args.fashion_evaluations},
                        "log_every": 1000,
                        "seed": seed,
                    }
                    rows.append(run("fashion-mnist", method, config, out, reuse))
                if "adam" not in args.fashion_methods:
                    continue
                steps_per_epoch = 60_000 // 128
                config = {
                    "task": {"name": "fashion-mnist", "batch_size": 128},
                    "model": model,
                    "method": {"name": "adam", "lr": 1e-3},
                    "budget": {"steps": args.adam_epochs * steps_per_epoch},
                    "log_every": steps_per_epoch,
                    "seed": seed,
                }
                rows.append(run("fashion-mnist", "adam", config, out, reuse))
        for path in args.long:
            folder = RunFolder.open(path)
            config = folder.read_config()
            budget = describe_budget(config["budget"], config["task"].get("batch_size"))
            row = run_row(
                "fashion-mnist", f"{config['method']['name']}, longer budget", config, folder.read_metrics(), budget
            )
            rows.append(row)
            print(json.dumps(row), flush=True)

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=1) + "\n")
    amc_text = ", ".join(f"`{k}={v}`" for k, v in amc_options.items())
    amc_text = f"on Fashion-MNIST also {amc_text}" if amc_text else "the paper's settings"
    body = f"""## Monte Carlo training: aMC and Metropolis vs Adam (Whitelam et al. 2022)

The paper's MLP (`mc-mlp`: 4 hidden layers of 64, Linear → LayerNorm → tanh, weights N(0, 1e-3²), 63,626
parameters on Fashion-MNIST). aMC with σ₀ = 1e-3, ε = 1e-3, n_reset = 100, decay 0.95 ({amc_text}); Metropolis with
σ = 1e-3 at zero temperature; both on the same budget of loss evaluations. On minibatches both score the kept
weights again on every step's batch (two evaluations a step). Adam: lr 1e-3, batch 128, one evaluation per step
(its backward pass not counted). Test accuracy at the end of the budget on the full test set; median over seeds
(Fashion-MNIST: {args.fashion_seeds} seed(s), digits: {args.digits_seeds}). Rows marked "longer budget" are one seed
each on the budget in their last column: aMC was given 28 minutes of wall time on the quiet machine (2 threads,
nothing else running) and Metropolis the number of loss evaluations aMC made in them. Minutes are each run's wall
clock and include the metric evaluations of the logged rows (this invocation: {torch.get_num_threads()} torch
thread(s)). {args.note}

{table(rows)}
{PLATEAU_NOTE if "plateau" in amc_options else ""}"""
    write_section("monte-carlo", body)
    print(f"wrote {Path(RESULTS).relative_to(ROOT)}")


if __name__ == "__main__":
    main()

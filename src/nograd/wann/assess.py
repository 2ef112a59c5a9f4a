"""How a WANN champion does with different weights: the five columns of the paper's table (Gaier & Ha 2019,
Table 1 for swing-up, Table 2 for MNIST), each a mean and standard deviation over ``trials`` draws.

Swing-up (returns over 1000-step episodes):

- random individual weights: every connection its own weight from U(-2, 2), drawn anew each trial;
- random shared weight: one weight from U(-2, 2) per trial;
- tuned shared weight: the best of ``sweep`` weights evenly spaced over [-2, 2] (default 401: a step of 0.01),
  picked on separate tuning episodes, then measured on the trials. The step matters because a tuned champion's
  return is a narrow, jagged peak in the weight: the paper's swing-up champion measures 707.5 at the best of 41
  values (step 0.1) and 723.9 ± 14.2 at the best of 401, the paper's 723 ± 16;
- tuned individual weights: CMA-ES over every connection's weight from the tuned shared weight
  (``nograd.wann.tune``), selected on its own episodes, then measured on the trials;
- ensemble: does not apply to a controller.

Trial t starts from ``swingup_initial_states(seed, -1, trials)[t]`` (generation -1: evaluation), tuning episodes
from generation -2, and every weight draw is addressed by (seed, 'assess', column, trial).

Classification (accuracy on the test images): random individual and random shared weight as above, one accuracy
per trial; tuned shared weight picked on the training images' accuracy; tuned individual weights by Adam on the
exported module (``nograd.wann.export``) from the tuned shared weight, on minibatches of training images; ensemble:
the softmax outputs of the six shared weights (-2, -1, -0.5, 0.5, 1, 2) averaged, as the paper's "ensemble weights"
column. The three tuned/ensemble columns are one number each (no trials). Without a training split on disk, or for
a run searched on the test split (``--data-split test``), the test split is cut into two fixed halves
(``nograd.tasks.wann_images.halve_test_split``): the first, the one the search saw, tunes; the second measures.
``device='cuda'`` computes the classification columns on a GPU: the same draws and minibatches (made on the CPU),
results equal up to the GPU's rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from nograd._validation import unknown_name_error
from nograd.envs.swingup import swingup_initial_states
from nograd.errors import ConfigError, DatasetError, RunFolderError
from nograd.seeding import addressed_generator
from nograd.wann.evaluate import SHARED_WEIGHTS, evaluate_swingup
from nograd.wann.export import GenomeModule
from nograd.wann.genome import Genome
from nograd.wann.tune import SIGMAS, rollout_weights, tune_swingup_weights

__all__ = [
    "assess_swingup",
    "assess_classification",
    "format_table",
    "eval_wann",
    "EVAL_TASKS",
    "PAPER_SWINGUP",
    "PAPER_MNIST",
    "SWEEP",
    "classification_data",
    "locate_champion",
    "tuned_genome",
]

#: Shared weights tried over [-2, 2] for the tuned shared weight column: a step of 0.01.
SWEEP = 401
#: The paper's rows (Gaier & Ha 2019): swing-up returns, MNIST-256 test accuracy in percent.
PAPER_SWINGUP = {
    "random_individual_weights": "57 ± 121",
    "random_shared_weight": "515 ± 58",
    "tuned_shared_weight": "723 ± 16",
    "tuned_individual_weights": "932 ± 6",
    "ensemble_shared_weights": "—",
}
PAPER_MNIST = {
    "random_individual_weights": "—",
    "random_shared_weight": "82.0 ± 18.7%",
    "tuned_shared_weight": "91.9%",
    "tuned_individual_weights": "94.2%",
    "ensemble_shared_weights": "91.6%",
}
COLUMNS = (
    ("random_individual_weights", "random individual weights"),
    ("random_shared_weight", "random shared weight"),
    ("tuned_shared_weight", "tuned shared weight"),
    ("tuned_individual_weights", "tuned individual weights"),
    ("ensemble_shared_weights", "ensemble of shared weights"),
)
EVAL_TASKS = ("swingup", "mnist256", "fashion-mnist256", "digits")
_DATASET = {"mnist256": "mnist", "fashion-mnist256": "fashion-mnist", "digits": "digits"}


def _stats(values: Tensor) -> dict[str, float]:
    values = torch.as_tensor(values).to(torch.float64)
    return {"mean": float(values.mean()), "sd": float(values.std(unbiased=False)), "trials": int(values.numel())}


def _uniform(count: int, *address: int | str) -> Tensor:
    return torch.rand(count, generator=addressed_generator(*address), dtype=torch.float64) * 4 - 2


# -- swing-up -----------------------------------------------------------------------------------------------------
def assess_swingup(
    genome: Genome,
    trials: int = 100,
    sweep: int = SWEEP,
    seed: int = 0,
    tune_generations: int = 100,
    tune_population: int = 32,
    tune_reps: int = 8,
    tune_sigma: float | str | tuple[float, ...] = SIGMAS,
    callback: Callable[[int, float, float], None] | None = None,
) -> dict[str, Any]:
    """The four swing-up columns for ``genome`` as {column: {mean, sd, trials}}, plus the tuned weights.

    ``tune_generations=0`` skips the CMA-ES (the tuned individual weights column is then None).
    """
    starts = swingup_initial_states(seed, -1, trials)
    # random shared weight: trial t's weight is draws[t]; run every weight on every start, keep the diagonal
    draws = _uniform(trials, seed, "assess", "shared", 0)
    grid = evaluate_swingup(
        [genome], seed=seed, generation=-1, reps=trials, weights=draws.tolist(), dtype=torch.float64
    )
    random_shared = grid[0].diagonal()
    # tuned shared weight: pick on tuning episodes (generation -2), measure on the trials
    values = torch.linspace(-2.0, 2.0, sweep, dtype=torch.float64).tolist()
    tuning = evaluate_swingup([genome], seed=seed, generation=-2, reps=trials, weights=values, dtype=torch.float64)
    best = values[int(tuning[0].mean(dim=1).argmax())]
    tuned = evaluate_swingup([genome], seed=seed, generation=-1, reps=trials, weights=[best], dtype=torch.float64)[0, 0]
    # random individual weights: trial t has its own weight vector and its own start
    module = GenomeModule(genome, dtype=torch.float64)
    C = len(module.connections)
    individual = torch.stack([_uniform(C, seed, "assess", "individual", t) for t in range(trials)])
    random_individual = rollout_weights(module, individual, starts.unsqueeze(1))[:, 0]
    result: dict[str, Any] = {
        "task": "swingup",
        "random_individual_weights": _stats(random_individual),
        "random_shared_weight": _stats(random_shared),
        "tuned_shared_weight": _stats(tuned),
        "tuned_shared_weight_value": best,
        "tuned_individual_weights": None,
        "ensemble_shared_weights": None,
        "connections": genome.num_active,
        "hidden_nodes": len(genome.hidden),
        "paper": dict(PAPER_SWINGUP),
    }
    if tune_generations > 0 and C > 0:
        tuning_result = tune_swingup_weights(
            genome,
            best,
            generations=tune_generations,
            population=tune_population,
            reps=tune_reps,
            sigma=parse_sigmas(tune_sigma),
            seed=seed,
            callback=callback,
        )
        weights = torch.tensor(tuning_result["weights"], dtype=torch.float64).view(1, C)
        measured = rollout_weights(module, weights, starts)[0]
        result["tuned_individual_weights"] = _stats(measured)
        result["tuning"] = {
            "method": "CMA-ES",
            "generations": tune_generations,
            "population": tune_population,
            "reps": tune_reps,
            "sigma": list(parse_sigmas(tune_sigma)),
            "phases": tuning_result["phases"],
            "episodes": tuning_result["episodes"],
            "selection_return": tuning_result["selection_return"],
            "start_selection_return": tuning_result["start_selection_return"],
            "connections": tuning_result["connections"],
            "weights": tuning_result["weights"],
        }
    return result


# -- classification -------------------------------------------------------------------------------------------------
def _predict(module: GenomeModule, weights: Tensor, x: Tensor, chunk: int | None = None) -> Tensor:
    """Logits [N, n_outputs] of ``module`` with ``weights`` [C] on ``x`` [N, n_inputs], in chunks of images
    (default 4096 on the CPU; 65536 elsewhere)."""
    if chunk is None:
        chunk = 4096 if x.device.type == "cpu" else 65536
    weights = weights.to(x.device)
    with torch.no_grad():
        matrices = module.matrices(weights.to(module.weight.dtype))
        return torch.cat([module.compute(x[k : k + chunk], matrices) for k in range(0, x.shape[0], chunk)])


def _accuracy(logits: Tensor, labels: Tensor) -> float:
    return float((logits.argmax(dim=-1) == labels).to(torch.float64).mean())


def assess_classification(
    genome: Genome,
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    trials: int = 100,
    sweep: int = SWEEP,
    seed: int = 0,
    adam_steps: int = 2000,
    adam_lr: float = 0.01,
    adam_batch: int = 256,
    callback: Callable[[int, float, float], None] | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """The five classification columns for ``genome``: test accuracies (fractions) as {mean, sd, trials}.

    ``device`` holds the module and the images (the draws stay on the CPU)."""
    device = torch.device(device)
    module = GenomeModule(genome, dtype=torch.float32).to(device)
    C = len(module.connections)
    x_train, y_train = train[0].to(device, torch.float32), train[1].to(device)
    x_test, y_test = test[0].to(device, torch.float32), test[1].to(device)
    if x_test.shape[1] != genome.n_inputs or x_train.shape[1] != genome.n_inputs:
        raise ConfigError(f"The images have {x_test.shape[1]} pixels but the genome has {genome.n_inputs} inputs.")
    ones = torch.ones(C, device=device)
    shared_draws = _uniform(trials, seed, "assess", "shared", 0)
    random_shared = [_accuracy(_predict(module, float(w) * ones, x_test), y_test) for w in shared_draws]
    random_individual = [
        _accuracy(_predict(module, _uniform(C, seed, "assess", "individual", t).float(), x_test), y_test)
        for t in range(trials)
    ]
    values = torch.linspace(-2.0, 2.0, sweep, dtype=torch.float64).tolist()
    train_acc = [_accuracy(_predict(module, w * ones, x_train), y_train) for w in values]
    best = values[max(range(sweep), key=lambda k: (train_acc[k], -abs(values[k])))]
    tuned_shared = _accuracy(_predict(module, best * ones, x_test), y_test)
    probs = sum(torch.softmax(_predict(module, w * ones, x_test).double(), dim=-1) for w in SHARED_WEIGHTS)
    ensemble = _accuracy(probs, y_test)
    # tuned individual weights: Adam on the module from the tuned shared weight
    adam = {"method": "Adam", "steps": adam_steps, "lr": adam_lr, "batch": adam_batch, "start_weight": best}
    tuned_individual = tuned_shared
    if adam_steps > 0 and C > 0:
        with torch.no_grad():
            module.weight.fill_(best)
        optimizer = torch.optim.Adam(module.parameters(), lr=adam_lr)
        rng = addressed_generator(seed, "assess", "adam")
        skipped = 0
        for step in range(adam_steps):
            idx = torch.randint(0, x_train.shape[0], (min(adam_batch, x_train.shape[0]),), generator=rng).to(device)
            loss = torch.nn.functional.cross_entropy(module(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            if not torch.isfinite(loss):
                skipped += 1
                continue
            loss.backward()
            optimizer.step()
            if callback is not None:
                callback(step, float(loss.detach()), math.nan)
        tuned_individual = _accuracy(_predict(module, module.weight.detach(), x_test), y_test)
        adam.update(
            skipped_steps=skipped,
            train_accuracy=_accuracy(_predict(module, module.weight.detach(), x_train), y_train),
            connections=[list(c) for c in module.connections],
            weights=module.weight.detach().double().tolist(),
        )
    one = {"sd": 0.0, "trials": 1}
    return {
        "random_individual_weights": _stats(torch.tensor(random_individual)),
        "random_shared_weight": _stats(torch.tensor(random_shared)),
        "tuned_shared_weight": {"mean": tuned_shared, **one},
        "tuned_shared_weight_value": best,
        "tuned_shared_weight_train_accuracy": max(train_acc),
        "tuned_individual_weights": {"mean": tuned_individual, **one} if adam_steps > 0 and C > 0 else None,
        "ensemble_shared_weights": {"mean": ensemble, **one},
        "ensemble_weights": list(SHARED_WEIGHTS),
        "tuning": adam,
        "connections": genome.num_active,
        "hidden_nodes": len(genome.hidden),
        "train_images": int(x_train.shape[0]),
        "test_images": int(x_test.shape[0]),
        "paper": dict(PAPER_MNIST),
        "unit": "accuracy",
    }


def classification_data(
    task: str, data_dir: str | None = None, data_split: str = "train"
) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor], str]:
    """(tuning images, measuring images, note) for a WANN classification task: the train split tunes and the test
    split measures; for a search made on the test split (``data_split='test'``), or without a training split on
    disk (e.g. only MNIST's test files), the test split's fixed halves (``halve_test_split``): the first (the one
    such a search saw) tunes, the second measures."""
    from nograd.tasks.wann_images import halve_test_split, wann_images

    name = _DATASET[task]
    test = wann_images(name, "test", data_dir)
    if data_split != "test":
        try:
            return wann_images(name, "train", data_dir), test, "train split tunes, test split measures"
        except DatasetError:
            pass
    tune, measure = halve_test_split(*test)
    found = "the search used the test split" if data_split == "test" else "no train split found"
    note = (
        f"{found}: the first half of the test split ({len(tune[1])} images) tunes, "
        f"the other half ({len(measure[1])}, unseen by the search) measures"
    )
    return tune, measure, note


# -- the table and the command ----------------------------------------------------------------------------------------
def _cell(stats: dict[str, float] | None, percent: bool) -> str:
    if stats is None:
        return "—"
    mean, sd = stats["mean"], stats["sd"]
    if not math.isfinite(mean):
        return "nan"
    if percent:
        return f"{100 * mean:.1f} ± {100 * sd:.1f}%" if stats["trials"] > 1 else f"{100 * mean:.1f}%"
    return f"{mean:.0f} ± {sd:.0f}"


def format_table(result: dict[str, Any]) -> str:
    """The five columns as rows: this champion next to the paper's row (swing-up, or MNIST-256 for images)."""
    percent = result.get("unit") == "accuracy"
    paper = result.get("paper", PAPER_SWINGUP)
    reference = "paper (MNIST-256)" if percent else "paper (swing-up)"
    names = dict(COLUMNS)
    names["tuned_shared_weight"] = f"tuned shared weight ({result['tuned_shared_weight_value']:+.2f})"
    rows = [(names[key], _cell(result.get(key), percent), paper[key]) for key, _ in COLUMNS]
    width = max(len(name) for name, _, _ in rows)
    lines = [f"{'':<{width}}  {'this champion':>16}  {reference:>18}"]
    lines += [f"{name:<{width}}  {value:>16}  {ref:>18}" for name, value, ref in rows]
    return "\n".join(lines)


def _task_of(genome: Genome, task: str | None) -> str:
    if task is not None:
        if task not in EVAL_TASKS:
            raise unknown_name_error("WANN task", task, EVAL_TASKS)
        shape = (5, 1) if task == "swingup" else (64 if task == "digits" else 256, 10)
        if (genome.n_inputs, genome.n_outputs) != shape:
            raise ConfigError(
                f"Task {task!r} needs a genome with {shape[0]} inputs and {shape[1]} outputs. "
                f"This one has {genome.n_inputs} and {genome.n_outputs}."
            )
        return task
    shape = (genome.n_inputs, genome.n_outputs)
    if shape == (5, 1):
        return "swingup"
    if shape == (64, 10):
        return "digits"
    if shape == (256, 10):
        raise ConfigError("A 256-input genome may be mnist256 or fashion-mnist256: pass --task.")
    raise ConfigError(f"No WANN task has genomes with {shape[0]} inputs and {shape[1]} outputs.")


def locate_champion(source: str | Path) -> tuple[Path, dict[str, Any] | None]:
    """(champion genome file, the run's config or None) for a WANN run folder or a genome file."""
    import yaml

    source = Path(source)
    if not source.exists():
        raise RunFolderError(f"{source} does not exist: pass a WANN run folder or a champion .json file.")
    folder = source if source.is_dir() else source.parent
    config = None
    if (folder / "config.yaml").is_file():
        try:
            config = yaml.safe_load((folder / "config.yaml").read_text())
        except yaml.YAMLError:
            config = None
        if not isinstance(config, dict):
            raise RunFolderError(f"{folder / 'config.yaml'} does not hold a config mapping.")
    if source.is_dir():
        if not (source / "champion.json").is_file():
            if config is not None and config.get("task") not in EVAL_TASKS:
                task = config.get("task")
                task = task.get("name") if isinstance(task, dict) else task
                raise RunFolderError(f"{source} is not a WANN run folder (its task is {task!r}, no champion.json).")
            raise RunFolderError(f"{source} is not a WANN run folder: it has no champion.json.")
        return source / "champion.json", config
    return source, config


def parse_sigmas(value: float | str | tuple[float, ...] | list[float]) -> tuple[float, ...]:
    """The tuner's initial steps from a number, a sequence or a comma-separated string ('0.5,0.1,0.02')."""
    try:
        if isinstance(value, str):
            sigmas = tuple(float(v) for v in value.split(","))
        elif isinstance(value, (int, float)):
            sigmas = (float(value),)
        else:
            sigmas = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        sigmas = ()
    if not sigmas or not all(s > 0 for s in sigmas):
        raise ConfigError(f"The '--tune-sigma' option must be positive numbers separated by commas. Got {value!r}.")
    return sigmas


def eval_wann(
    source: str | Path,
    task: str | None = None,
    trials: int = 100,
    seed: int = 0,
    sweep: int = SWEEP,
    tune_generations: int = 100,
    tune_population: int = 32,
    tune_reps: int = 8,
    tune_sigma: float | str | tuple[float, ...] = SIGMAS,
    adam_steps: int = 2000,
    adam_lr: float = 0.01,
    adam_batch: int = 256,
    data_dir: str | None = None,
    callback: Callable[[int, float, float], None] | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Score the champion of a WANN run folder (or a genome file): the five columns, as ``assess_*`` return them,
    plus 'task', 'genome', 'seed' and 'device'. Writes nothing. ``device`` ('cpu' or 'cuda') serves the image
    tasks; swing-up refuses 'cuda'."""
    from nograd.train_wann import check_wann_device

    if trials < 2:
        raise ConfigError(f"The '--trials' option must be at least 2. Got {trials} instead.")
    if sweep < 2:
        raise ConfigError(f"The '--sweep' option must be at least 2. Got {sweep} instead.")
    for name, value in (("tune_generations", tune_generations), ("adam_steps", adam_steps)):
        if value < 0:
            raise ConfigError(f"The '--{name.replace('_', '-')}' option must be at least 0. Got {value} instead.")
    for name, value in (("tune_population", tune_population), ("tune_reps", tune_reps), ("adam_batch", adam_batch)):
        if value < (2 if name == "tune_population" else 1):
            raise ConfigError(f"The '--{name.replace('_', '-')}' option is too small. Got {value}.")
    tune_sigma = parse_sigmas(tune_sigma)
    genome_file, config = locate_champion(source)
    genome = Genome.load(genome_file)
    if task is None and config is not None and config.get("task") in EVAL_TASKS:
        task = config["task"]
    task = _task_of(genome, task)
    device = check_wann_device(device, task)
    if task == "swingup":
        result = assess_swingup(
            genome, trials, sweep, seed, tune_generations, tune_population, tune_reps, tune_sigma, callback
        )
    else:
        if data_dir is None and config is not None:
            data_dir = config.get("data_dir")
        split = config.get("data_split", "train") if config is not None else "train"
        train, test, note = classification_data(task, data_dir, split)
        result = assess_classification(
            genome, train, test, trials, sweep, seed, adam_steps, adam_lr, adam_batch, callback, device
        )
        result["data"] = note
    result.update(task=task, genome=str(genome_file), seed=seed, device=device)
    return result


def tuned_genome(genome: Genome, result: dict[str, Any]) -> Genome | None:
    """A copy of ``genome`` whose active connections carry the tuned individual weights of ``result`` (None if
    there are none): ``to_module(tuned, weight=None)`` is then the tuned network."""
    tuning = result.get("tuning") or {}
    if "weights" not in tuning:
        return None
    weights = dict(zip(map(tuple, tuning["connections"]), tuning["weights"]))
    out = genome.copy()
    active = {(c.src, c.dst) for c in out.active_conns()}
    for k, c in enumerate(out.conns):
        if (c.src, c.dst) in active and (c.src, c.dst) in weights:
            out.with_conn(k, weight=float(weights[(c.src, c.dst)]))
    return out

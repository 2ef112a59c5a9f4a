"""The ``nograd`` command. Argument parsing only: everything it does is a call into the library."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import yaml

from nograd.errors import ConfigError, NogradError

__all__ = ["main", "cli", "parse_overrides"]

EXIT_USAGE = 2


def parse_overrides(items: tuple[str, ...]) -> dict[str, Any]:
    """``("method.sigma=0.05", "task.train_size=1000")`` → nested dict; values are read as YAML scalars/lists."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(
                f"An override must look like section.key=value (e.g. method.sigma=0.05). Got {item!r} instead."
            )
        try:
            value = yaml.safe_load(raw) if raw != "" else None
        except yaml.YAMLError:
            value = raw
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"Override {item!r} conflicts with an earlier override of '{part}'.")
        node[leaf] = value
    return out


def _load_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist.")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"Config file {path} is not valid YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"Config file {path} must hold a mapping of sections (task, method, budget, ...).")
    return data


class _Cli(click.Group):
    """Every usage error and every NogradError is one line on stderr and exit code 2, never a traceback."""

    def main(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.NoArgsIsHelpError as err:  # `nograd` alone: help, not an error
            click.echo(err.ctx.get_help() if err.ctx else str(err))
            sys.exit(0)
        except click.UsageError as err:
            click.echo(f"nograd: error: {err.format_message()}", err=True)
            sys.exit(EXIT_USAGE)
        except click.exceptions.Abort:
            click.echo("nograd: aborted", err=True)
            sys.exit(130)
        except NogradError as err:
            click.echo(f"nograd: error: {err}", err=True)
            sys.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            click.echo(
                "nograd: interrupted; the last checkpoint is saved (resume with `nograd resume RUN_DIR`)", err=True
            )
            sys.exit(130)


#: ``--ray-address``, the same for every command that can run on Ray.
_RAY_ADDRESS = click.option(
    "--ray-address",
    help="With --backend ray: the cluster to join (auto: the one this machine belongs to; HOST:PORT; default: "
    "RAY_ADDRESS, else a local Ray instance).",
)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nograd")
def cli() -> None:
    """Train neural networks without backpropagation."""


@cli.command(context_settings={"ignore_unknown_options": False})
@click.argument("task", required=False)
@click.argument("overrides", nargs=-1)
@click.option("-m", "--method", help="Training method (see `nograd methods`). Default: hillclimb.")
@click.option("--model", "model_name", help="Model (default: the task's; e.g. mlp, rso-mnist, rso-cifar10).")
@click.option("-b", "--budget", help="When to stop: '200k' evaluations, '500 steps', '30s', '2min'.")
@click.option("-s", "--seed", type=int, help="Seed of the data split, the initial weights and the method.")
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Folder for run folders. Default: runs.")
@click.option(
    "-c",
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML config file; options and KEY=VALUE overrides win over it.",
)
@click.option("--device", help="cpu (default) or cuda.")
@click.option(
    "--backend",
    help="Population evaluation: vectorized (default; in this process), serial, or ray (on Ray actors: "
    'pip install "nograd[ray]").',
)
@_RAY_ADDRESS
@click.option("--workers", type=int, help="With --backend ray: Ray actors (default: one per free CPU).")
@click.option(
    "--chunk-size",
    type=int,
    help="Candidates scored in one batched pass (with ray: per actor call; default: the population over the actors).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def train(
    task: str | None,
    overrides: tuple[str, ...],
    method: str | None,
    model_name: str | None,
    budget: str | None,
    seed: int | None,
    out: str | None,
    config_file: Path | None,
    device: str | None,
    backend: str | None,
    ray_address: str | None,
    workers: int | None,
    chunk_size: int | None,
    quiet: bool,
) -> None:
    """Train TASK (default: addition) and save a run folder.

    OVERRIDES are section.key=value pairs, e.g. method.sigma=0.05 task.train_size=1000 model.hidden=[8,8].
    """
    from nograd.config import deep_merge, parse_budget
    from nograd.train import train as run_training

    if task is not None and "=" in task:  # `nograd train method.sigma=0.1`: an override, not a task
        overrides, task = (task, *overrides), None
    config = _load_config_file(config_file) if config_file else {}
    config = deep_merge(config, parse_overrides(overrides))
    flags: dict[str, Any] = {}
    if task is not None:
        flags["task"] = {"name": task}
    if method is not None:
        flags["method"] = {"name": method}
    if model_name is not None:
        flags["model"] = {"name": model_name}
    if budget is not None:
        flags["budget"] = parse_budget(budget)
    for key, value in (
        ("seed", seed),
        ("out", out),
        ("device", device),
        ("backend", backend),
        ("ray_address", ray_address),
        ("workers", workers),
        ("chunk_size", chunk_size),
    ):
        if value is not None:
            flags[key] = value
    if "method" in flags and config.get("method", {}).get("name") not in (None, method):
        config["method"] = {}  # options of another method from the config file do not apply
    if "model" in flags and config.get("model", {}).get("name") not in (None, model_name):
        config["model"] = {}
    if "budget" in flags:
        config.pop("budget", None)
    trainer = run_training(deep_merge(config, flags), progress=not quiet)
    _print_summary(trainer.summary())


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--backend",
    help="Score populations elsewhere from now on: vectorized, serial or ray (a WANN run: local or ray). "
    "Results do not change.",
)
@_RAY_ADDRESS
@click.option("--workers", type=int, help="Ray actors (a WANN run: also its local worker processes).")
@click.option("--chunk-size", type=int, help="Candidates (WANN: genomes) per batched pass or actor call.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def resume(
    run_dir: Path,
    backend: str | None,
    ray_address: str | None,
    workers: int | None,
    chunk_size: int | None,
    quiet: bool,
) -> None:
    """Continue an interrupted run (of `nograd train` or `nograd wann train`) from its last checkpoint."""
    from nograd.runs import RunFolder
    from nograd.train import resume as resume_training
    from nograd.train_wann import is_wann_config

    changes = {"backend": backend, "ray_address": ray_address, "workers": workers, "chunk_size": chunk_size}
    if is_wann_config(RunFolder.open(run_dir).read_config()):
        _wann_resume(run_dir, quiet, **changes)
        return
    trainer = resume_training(run_dir, progress=not quiet, **changes)
    _print_summary(trainer.summary())


@cli.command()
def methods() -> None:
    """List the training methods."""
    from nograd.optim import METHODS

    width = max(map(len, METHODS))
    for spec in METHODS.values():
        click.echo(f"{spec.name:<{width}}  {spec.summary}")


@cli.command()
def tasks() -> None:
    """List the tasks: supervised ones for `nograd train`, WANN ones for `nograd wann train`."""
    from nograd.tasks import TASKS
    from nograd.train_wann import WANN_TASK_SUMMARIES

    width = max(map(len, [*TASKS, *WANN_TASK_SUMMARIES]))
    click.echo("Supervised tasks (nograd train TASK):")
    for cls in TASKS.values():
        click.echo(f"  {cls.name:<{width}}  {cls.summary}")
    click.echo("")
    click.echo("WANN tasks (nograd wann train TASK):")
    for name, summary in WANN_TASK_SUMMARIES.items():
        click.echo(f"  {name:<{width}}  {summary}")


@cli.group()
def wann() -> None:
    """Weight agnostic neural networks (Gaier & Ha 2019): search topologies that work with one shared weight."""


@wann.command("train")
@click.argument("task", required=False)
@click.option("-g", "--generations", type=int, help="Generations to run. Default: the task's (swingup: 1024).")
@click.option("-p", "--population", type=int, help="Genomes per generation. Default: the task's (swingup: 192).")
@click.option("--reps", type=int, help="Rollouts per shared weight. Default: the task's (swingup: 3).")
@click.option("--p-init-enable", type=float, help="Chance each initial connection is enabled (swingup: 0.5).")
@click.option("--tournament-size", type=int, help="Tournament size (swingup: 8).")
@click.option(
    "--crowding",
    type=click.Choice(["reference", "nsga2"]),
    help="Crowding distance within a front: the authors' code (reference, default) or NSGA-II's normalised one.",
)
@click.option(
    "--expression",
    type=click.Choice(["reference", "genes"]),
    help="How genomes are expressed: as the authors' code (reference, default: a disabled connection between two "
    "hidden nodes still works) or as the genes say (genes).",
)
@click.option(
    "--champion-retests",
    type=int,
    help="Fresh evaluations (x reps) a generation's best must win on to become champion (default 20; 0: none).",
)
@click.option("-s", "--seed", type=int, help="Seed of every random draw of the search and the rollouts.")
@click.option(
    "--device",
    help="cpu (default) or cuda (cuda:N): where the image tasks (mnist256, fashion-mnist256, digits) score their "
    "populations. Swing-up and gym tasks are CPU-bound by design (small networks stepped one time step at a time) "
    "and refuse cuda. With --resume: continue on this device.",
)
@click.option("--dtype", help="float32 (default) or float64 for the rollouts.")
@click.option("--steps", type=int, help="Steps per episode (swingup: 1000; gym tasks: the environment's time limit).")
@click.option(
    "--kernel",
    type=click.Choice(["auto", "numba", "torch"]),
    help="Swing-up scoring: numba (a compiled kernel on all torch threads), torch (batched tensor ops) or auto "
    "(default: numba where it is installed).",
)
@click.option(
    "--backend",
    type=click.Choice(["local", "ray"]),
    help='Where populations are scored: local (default, this process) or ray (Ray actors; pip install "nograd[ray]"). '
    "Results do not depend on it.",
)
@_RAY_ADDRESS
@click.option(
    "--workers",
    type=int,
    help="With --backend ray: Ray actors (default: one per free CPU). Local swing-up with --kernel torch: worker "
    "processes (default 1). Results do not depend on it.",
)
@click.option(
    "--chunk-size",
    type=int,
    help="With --backend ray: about this many genomes per actor call (default: one chunk per actor).",
)
@click.option("--batch", type=int, help="Classification: images per rollout (default 1000).")
@click.option("--data-dir", help="Classification: folder with the dataset files.")
@click.option(
    "--data-split",
    help="Classification: train (default) or test: search on the first of two fixed halves of the test split (for a "
    "copy with only the test files), the half `nograd wann eval` tunes on; the other half is left unseen, for "
    "measuring.",
)
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Folder for run folders. Default: runs.")
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(path_type=Path),
    help="Continue this WANN run folder from its last checkpoint (with -g: up to that many generations).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def wann_train(
    task: str | None,
    generations: int | None,
    population: int | None,
    reps: int | None,
    p_init_enable: float | None,
    tournament_size: int | None,
    crowding: str | None,
    expression: str | None,
    champion_retests: int | None,
    seed: int | None,
    device: str | None,
    dtype: str | None,
    steps: int | None,
    kernel: str | None,
    backend: str | None,
    ray_address: str | None,
    workers: int | None,
    chunk_size: int | None,
    batch: int | None,
    data_dir: str | None,
    data_split: str | None,
    out: str | None,
    resume_dir: Path | None,
    quiet: bool,
) -> None:
    """Search WANN topologies for TASK and save a run folder.

    TASK: swingup (the default), mnist256, fashion-mnist256, digits, biped (BipedalWalker-v3; needs
    pip install "nograd[box2d]") or gym:<EnvId> for any gymnasium environment (e.g. gym:CartPole-v1; needs
    pip install "nograd[gym]").

    Shows generation, best and mean fitness and the champion's connections; saves the champion genome
    (champion.json) after each improvement and a checkpoint after every generation.
    """
    from nograd.train_wann import train_wann

    if resume_dir is not None:
        given = (task, population, reps, p_init_enable, tournament_size, seed, dtype, steps, out, batch, kernel)
        if any(v is not None for v in (*given, crowding, expression, champion_retests)):
            raise ConfigError(
                "--resume continues a run with its own config; only -g/--generations, --device, --backend, "
                "--ray-address, --workers and --chunk-size may change."
            )
        _wann_resume(
            resume_dir,
            quiet,
            generations=generations,
            device=device,
            backend=backend,
            ray_address=ray_address,
            workers=workers,
            chunk_size=chunk_size,
        )
        return
    config = {
        "task": task,
        "generations": generations,
        "population": population,
        "reps": reps,
        "p_init_enable": p_init_enable,
        "tournament_size": tournament_size,
        "crowding": crowding,
        "expression": expression,
        "champion_retests": champion_retests,
        "seed": seed,
        "device": device,
        "dtype": dtype,
        "steps": steps,
        "kernel": kernel,
        "backend": backend,
        "ray_address": ray_address,
        "workers": workers,
        "chunk_size": chunk_size,
        "batch": batch,
        "data_dir": data_dir,
        "data_split": data_split,
        "out": out,
    }
    try:
        trainer = train_wann({k: v for k, v in config.items() if v is not None}, progress=not quiet)
    except KeyboardInterrupt:
        click.echo("nograd: interrupted; resume with `nograd resume RUN_DIR`", err=True)
        sys.exit(130)
    _print_wann_summary(trainer.summary())


def _wann_resume(run_dir: Path, quiet: bool, **changes: Any) -> None:
    from nograd.train_wann import resume_wann

    try:
        trainer = resume_wann(run_dir, progress=not quiet, **changes)
    except KeyboardInterrupt:
        click.echo("nograd: interrupted; resume with `nograd resume RUN_DIR`", err=True)
        sys.exit(130)
    _print_wann_summary(trainer.summary())


def _print_wann_summary(summary: dict[str, Any]) -> None:
    click.echo(
        f"{summary['task']} by WANN (seed {summary['seed']}): champion mean fitness {summary['champion_fitness']:.2f} "
        f"over the shared weights, {summary['champion_connections']} connections, {summary['champion_hidden']} hidden "
        f"nodes, after {summary['generations']} generations in {summary['wall_seconds']:.1f}s"
    )
    click.echo(f"run folder: {summary['run_dir']}")


@wann.command("eval")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-n", "--trials", type=int, default=100, show_default=True, help="Trials per random-weight column.")
@click.option("-s", "--seed", type=int, default=0, show_default=True, help="Seed of the trials, draws and tuning.")
@click.option("--task", help="swingup, mnist256, fashion-mnist256 or digits. Default: the run's, or from the genome.")
@click.option(  # 401 = nograd.wann.assess.SWEEP (not imported here: it would load torch before --help)
    "--sweep", type=int, default=401, show_default=True, help="Shared weights tried over [-2, 2] (401: a step of 0.01)."
)
@click.option(
    "--tune-generations",
    type=int,
    default=100,
    show_default=True,
    help="Swing-up: CMA-ES generations per initial step (0: skip).",
)
@click.option("--tune-population", type=int, default=32, show_default=True, help="Swing-up: CMA-ES population.")
@click.option("--tune-reps", type=int, default=8, show_default=True, help="Swing-up: episodes per weight vector.")
@click.option(
    "--tune-sigma",
    default="0.5,0.1,0.02",
    show_default=True,
    help="Swing-up: CMA-ES initial steps, one run each, each run from the best point of the ones before.",
)
@click.option("--adam-steps", type=int, default=2000, show_default=True, help="Images: Adam steps (0: skip).")
@click.option("--adam-lr", type=float, default=0.01, show_default=True, help="Images: Adam learning rate.")
@click.option("--adam-batch", type=int, default=256, show_default=True, help="Images: Adam minibatch size.")
@click.option("--data-dir", help="Images: folder with the dataset files. Default: the run's.")
@click.option(
    "--device",
    default="cpu",
    show_default=True,
    help="Images: cpu or cuda (cuda:N) for the sweeps, the random-weight trials and the Adam tuning. Swing-up runs "
    "on the CPU only.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def wann_eval(
    source: Path,
    trials: int,
    seed: int,
    task: str | None,
    sweep: int,
    tune_generations: int,
    tune_population: int,
    tune_reps: int,
    tune_sigma: str,
    adam_steps: int,
    adam_lr: float,
    adam_batch: int,
    data_dir: str | None,
    device: str,
    quiet: bool,
) -> None:
    """Score a WANN champion (a run folder, or a genome .json) as the paper's table does: random individual
    weights, random shared weight, tuned shared weight, tuned individual weights (swing-up: CMA-ES; images: Adam on
    the exported module) and, for images, the ensemble of shared weights. Images are measured on the test split;
    a run searched on the test split (--data-split test), or a dataset with only its test files, is tuned on the
    first of the split's two fixed halves (the one the search saw) and measured on the other.

    A run folder gets eval.json (every number, the tuned weights) and champion-tuned.json (the genome with its
    tuned weights in the connection genes: nograd.wann.export.to_module(genome, weight=None)).
    """
    import json

    from tqdm.auto import tqdm

    from nograd.runs import atomic_write_text
    from nograd.wann import Genome
    from nograd.wann.assess import eval_wann, format_table, tuned_genome

    bars: list = []  # made on the first tuning generation, so a bad argument prints its error alone

    def progress(step: int, best: float, mean: float) -> None:
        if not bars:
            bars.append(
                tqdm(
                    total=None,
                    disable=quiet,
                    desc="tuning",
                    unit="gen",
                    dynamic_ncols=True,
                    mininterval=0.5,
                    leave=False,
                )
            )
        bars[0].update(1)
        bars[0].set_postfix(best=f"{best:.3g}", refresh=False)

    try:
        result = eval_wann(
            source,
            task=task,
            trials=trials,
            seed=seed,
            sweep=sweep,
            tune_generations=tune_generations,
            tune_population=tune_population,
            tune_reps=tune_reps,
            tune_sigma=tune_sigma,
            adam_steps=adam_steps,
            adam_lr=adam_lr,
            adam_batch=adam_batch,
            data_dir=data_dir,
            callback=progress,
            device=device,
        )
    finally:
        for bar in bars:
            bar.close()
    click.echo(
        f"{result['task']} champion: {result['connections']} connections, {result['hidden_nodes']} hidden nodes; "
        f"{trials} trials per random column"
    )
    if "data" in result:
        click.echo(f"data: {result['data']}")
    click.echo(format_table(result))
    folder = source if source.is_dir() else None
    out = folder / "eval.json" if folder else source.with_name(f"{source.stem}.eval.json")
    atomic_write_text(json.dumps(result, indent=2) + "\n", out)
    click.echo(f"wrote {out}")
    tuned = tuned_genome(Genome.load(result["genome"]), result)
    if tuned is not None:
        tuned_file = folder / "champion-tuned.json" if folder else source.with_name(f"{source.stem}-tuned.json")
        tuned.save(tuned_file)
        click.echo(f"wrote {tuned_file}")


@wann.command("draw")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Picture file (.png, .svg, .pdf)."
)
def wann_draw(source: Path, output: Path | None) -> None:
    """Draw a genome (a champion.json, or a WANN run folder) to a picture, nodes coloured by activation."""
    from nograd.wann import Genome
    from nograd.wann.draw import SWINGUP_LABELS, draw_genome

    genome_file = source / "champion.json" if source.is_dir() else source
    genome = Genome.load(genome_file)
    output = output or genome_file.with_suffix(".png")
    labels = SWINGUP_LABELS if (genome.n_inputs, genome.n_outputs) == (5, 1) else None
    click.echo(f"wrote {draw_genome(genome, output, labels)}")


def _print_summary(summary: dict[str, Any]) -> None:
    if "test_acc" not in summary:
        click.echo(f"run folder: {summary.get('run_dir')}")
        return
    click.echo(
        f"{summary['task']} by {summary['method']} (seed {summary['seed']}): "
        f"held-out accuracy {summary['test_acc']:.2%}, train accuracy {summary['train_acc']:.2%}, "
        f"train loss {summary['train_loss']:.3g} after {summary['evaluations']:,} evaluations "
        f"in {summary['wall_seconds']:.1f}s"
    )
    if "kept_fraction" in summary:
        click.echo(f"supermask: keeps {summary['kept_fraction']:.2%} of the frozen random weights")
    click.echo(f"run folder: {summary['run_dir']}")


def main() -> None:
    cli(prog_name="nograd")


if __name__ == "__main__":
    main()

"""The WANN trainer: search + batched evaluation + run folder, one generation at a time, resumable exactly.

    runs/<time>-<task>-wann/
        config.yaml               every option, written before generation 0
        metrics.csv               one row per generation (see ``WANN_COLUMNS``)
        checkpoints/last.pt       search state (population, fitness, counters) and trainer counters, atomically
        champion.json             the genome with the best mean fitness so far, rewritten after each improvement

Tasks: swing-up and classification are vectorised natively (swing-up by default in the compiled numba kernel;
``kernel``: auto, numba or torch, see ``nograd.wann.evaluate.evaluate_swingup``; "auto" is written to config.yaml
as the kernel it picked; runs made before the option resume with torch, and runs whose config calls it ``backend``
read it as the kernel); ``biped`` (BipedalWalker-v3) and
``gym:<EnvId>`` run any gymnasium environment through ``nograd.envs.gym_adapter`` (optional extras ``nograd[gym]``,
``nograd[box2d]``). The image tasks can score their populations on a GPU (``device: cuda``); swing-up and the gym
tasks are CPU-bound by design (small networks stepped one time step at a time, or a gymnasium environment) and
refuse it.

Where the population is scored (``nograd.wann.scorers``): ``backend: local`` (default) in this process (swing-up's
torch kernel in ``workers`` processes), or ``backend: ray`` on Ray actors (``ray_address``: a cluster, "auto", or
none for a local Ray instance; ``workers`` actors, default one per free CPU; ``chunk_size`` genomes per actor call,
default one chunk per actor). Results do not depend on the backend, the workers or the chunks, so a run may resume
on another one. When no Ray actor is left the run writes its checkpoint and stops with a ``WorkerError`` that says
how to resume.

Every random draw is addressed by (seed, generation, ...), so a run resumed from ``last.pt`` makes exactly the
generations an uninterrupted run makes (on the same device: a GPU's kernels may round differently from the CPU's).

``last.pt`` holds the state after a finished generation. Writing it costs little for swing-up but seconds for an
image task's population of 960 genomes of 2570 connection genes each (more than the generation itself on a GPU),
so it is written after a generation only once the time since the last write is ``CHECKPOINT_RATIO`` times what that
write took (at most about 1/20 of the run is spent on it), and always at the end and on Ctrl-C or SIGTERM, from a
snapshot of the last finished generation. A run killed outright resumes from its last write: the generations after
it are made again, the same ones.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import math
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from tqdm.auto import tqdm

from nograd._validation import Interval, Options, check_unknown_keys, unknown_name_error, validate_params
from nograd.errors import CheckpointError, ConfigError, RunFolderError, WorkerError, run_stopped
from nograd.runs import RunFolder
from nograd.runtime import install_sigterm_handler, restore_sigterm_handler
from nograd.tasks.wann_images import halve_test_split, wann_images
from nograd.wann import WANN, Genome
from nograd.wann.activations import CLASSIFY_ACTIVATIONS, CONTROL_ACTIVATIONS
from nograd.wann.evaluate import BACKENDS as KERNELS
from nograd.wann.evaluate import resolve_backend
from nograd.wann.genome import EXPRESSIONS
from nograd.wann.ranking import CROWDING_RULES
from nograd.wann.scorers import ClassifyScorer, GymScorer, RayScorer, Scorer, SwingUpScorer

if TYPE_CHECKING:
    from nograd.envs.gym_adapter import GymEvaluator

__all__ = [
    "WannTrainer",
    "WANN_TASKS",
    "GYM_TASK_DEFAULTS",
    "WANN_TASK_SUMMARIES",
    "WANN_COLUMNS",
    "train_wann",
    "resume_wann",
    "resolve_wann_config",
    "upgrade_wann_config",
    "is_wann_config",
    "gym_env_id",
    "check_wann_device",
]

CHECKPOINT_FORMAT = "nograd-wann-train-v1"
#: A checkpoint is written once the time since the last one is this many times what the last one took to write.
CHECKPOINT_RATIO = 20.0
#: The tasks that may run on a GPU (``device: cuda``).
GPU_TASKS = ("mnist256", "fashion-mnist256", "digits")

#: Per-task settings of the reference (``WANNRelease/WANN/p/swingup.json`` and ``p/mnist256.json`` over
#: ``default_wan.json``). The classification tasks run on nograd's dataset loaders: ``mnist256`` and
#: ``fashion-mnist256`` resize 28x28 images to 16x16, ``digits`` keeps scikit-learn's 64 pixels.
_CLASSIFY = {"population": 960, "generations": 4096, "reps": 1, "p_init_enable": 0.05, "tournament_size": 32}
WANN_TASKS: dict[str, dict[str, Any]] = {
    "swingup": {"population": 192, "generations": 1024, "reps": 3, "p_init_enable": 0.5, "tournament_size": 8},
    "mnist256": dict(_CLASSIFY),
    "fashion-mnist256": dict(_CLASSIFY),
    "digits": dict(_CLASSIFY),
    # BipedalWalker-v3 through the gymnasium adapter (needs the box2d extra); reference ``p/biped.json``.
    "biped": {"population": 480, "generations": 2048, "reps": 4, "p_init_enable": 0.25, "tournament_size": 16},
}
#: Settings of ``gym:<EnvId>``, any other gymnasium environment: a small control task's search, swing-up-like.
GYM_TASK_DEFAULTS: dict[str, Any] = {
    "population": 64,
    "generations": 256,
    "reps": 2,
    "p_init_enable": 0.5,
    "tournament_size": 8,
}
#: One line per WANN task, for ``nograd tasks``.
WANN_TASK_SUMMARIES: dict[str, str] = {
    "swingup": "cart-pole swing-up, vectorised natively (population 192, 1024 generations)",
    "mnist256": "MNIST at 16x16, vectorised natively (population 960, 4096 generations)",
    "fashion-mnist256": "Fashion-MNIST at 16x16, vectorised natively (population 960, 4096 generations)",
    "digits": "scikit-learn digits, 8x8, vectorised natively (population 960, 4096 generations)",
    "biped": 'BipedalWalker-v3 via gymnasium, pip install "nograd[box2d]" (population 480, 2048 generations)',
    "gym:<EnvId>": 'any gymnasium environment, e.g. gym:CartPole-v1, pip install "nograd[gym]" (population 64)',
}
_GYM_PREFIX = "gym:"
_GYM_ENVS = {"biped": "BipedalWalker-v3"}
_DATASET = {"mnist256": "mnist", "fashion-mnist256": "fashion-mnist", "digits": "digits"}

DEFAULTS: dict[str, Any] = {
    "task": "swingup",
    "seed": 0,
    "device": "cpu",
    "dtype": "float32",
    "steps": 1000,
    "kernel": "auto",
    "backend": "local",
    "ray_address": None,
    "workers": None,
    "chunk_size": None,
    "batch": 1000,
    "data_dir": None,
    "data_split": "train",
    "champion_retests": 20,
    "crowding": "reference",
    "expression": "reference",
    "out": "runs",
}

WANN_COLUMNS = (
    "generation",
    "rollouts",
    "wall_seconds",
    "generation_seconds",
    "best_fitness",
    "mean_fitness",
    "best_max_fitness",
    "champion_fitness",
    "champion_connections",
    "mean_connections",
    "mean_hidden",
    "max_hidden",
)

_CONSTRAINTS = {
    "seed": Interval(int, 0, None),
    "population": Interval(int, 2, None),
    "generations": Interval(int, 1, None),
    "reps": Interval(int, 1, None),
    "p_init_enable": Interval(float, 0, 1),
    "tournament_size": Interval(int, 1, None),
    "steps": Interval(int, 1, 1000),
    "kernel": Options(KERNELS),
    "backend": Options(("local", "ray")),
    "workers": Interval(int, 1, None, allow_none=True),
    "chunk_size": Interval(int, 1, None, allow_none=True),
    "dtype": Options(("float32", "float64")),
    "batch": Interval(int, 1, None),
    "champion_retests": Interval(int, 0, None),
    "crowding": Options(CROWDING_RULES),
    "expression": Options(EXPRESSIONS),
    "data_split": Options(("train", "test")),
}


def gym_env_id(task: str) -> str | None:
    """The gymnasium environment id of a WANN task (``biped``, ``gym:<EnvId>``), or None for a native task."""
    if task.startswith(_GYM_PREFIX):
        return task[len(_GYM_PREFIX) :]
    return _GYM_ENVS.get(task)


def check_wann_device(device: Any, task: str | None = None) -> str:
    """``device`` as a string ('cpu', 'cuda' or 'cuda:N'); a ConfigError unless it is one of those, CUDA is there,
    and ``task`` (when given) may run on it."""
    try:
        dev = torch.device(device) if isinstance(device, str) else None
    except (RuntimeError, TypeError, ValueError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"The 'device' option of wann must be 'cpu' or 'cuda' (or 'cuda:N'). Got {device!r} instead.")
    if dev.type == "cuda":
        if task is not None and task not in GPU_TASKS:
            raise ConfigError(
                f"Task {task!r} runs on the CPU only (device 'cuda' serves the image tasks: {', '.join(GPU_TASKS)}); "
                "swing-up and gym tasks step small networks and environments one time step at a time."
            )
        if not torch.cuda.is_available():
            raise ConfigError(
                f"The device {device!r} was asked for, but this machine has no CUDA GPU (torch.cuda.is_available() "
                "is False): pass --device cpu."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(
                f"The device {device!r} was asked for, but this machine has {torch.cuda.device_count()} GPU(s)."
            )
    return str(dev)


def _task_settings(task: str) -> dict[str, Any]:
    if task in WANN_TASKS:
        settings = dict(WANN_TASKS[task])
    elif task.startswith(_GYM_PREFIX) and len(task) > len(_GYM_PREFIX):
        settings = dict(GYM_TASK_DEFAULTS)
    else:
        raise unknown_name_error("WANN task", task, [*WANN_TASKS, f"{_GYM_PREFIX}<EnvId>"])
    if gym_env_id(task) is not None:
        settings["steps"] = None  # the environment's own time limit
    return settings


def resolve_wann_config(config: dict[str, Any]) -> dict[str, Any]:
    """Fill in the task's reference settings and the defaults; validate every value."""
    task = config.get("task") or DEFAULTS["task"]
    settings = _task_settings(task)
    resolved = {**DEFAULTS, **settings, **{k: v for k, v in config.items() if v is not None}}
    resolved["task"] = task
    check_unknown_keys("wann train", resolved, [*DEFAULTS, *settings])
    constraints = dict(_CONSTRAINTS)
    if gym_env_id(task) is not None:  # any length up to the environment's time limit; None: that limit
        constraints["steps"] = Interval(int, 1, None, allow_none=True)
    validate_params("wann train", resolved, constraints)
    resolved["device"] = check_wann_device(resolved["device"], task)
    if task == "swingup":  # "auto" becomes the kernel it picks here, so a resumed run keeps scoring the same way
        resolved["kernel"] = resolve_backend(resolved["kernel"], getattr(torch, resolved["dtype"]))
    _check_backend(resolved)
    resolved["out"] = str(resolved["out"])
    return resolved


def _check_backend(config: dict[str, Any]) -> None:
    address = config["ray_address"]
    if address is not None and not (isinstance(address, str) and address):
        raise ConfigError(f"ray_address must be an address such as 'auto' or 'HOST:6379'. Got {address!r} instead.")
    if config["backend"] == "ray":
        if config["device"] != "cpu":
            raise ConfigError(f"The ray backend scores on the workers' CPUs; drop --device {config['device']}.")
    elif address is not None:
        raise ConfigError("--ray-address sets up the ray backend; add --backend ray.")


def upgrade_wann_config(config: dict[str, Any]) -> dict[str, Any]:
    """A run's saved config in today's keys: the swing-up kernel was ``backend`` (and torch before that option),
    the crowding and expression options came later (their earlier behaviour: nsga2, genes)."""
    config = dict(config)
    config.setdefault("expression", "genes")
    config.setdefault("crowding", "nsga2")
    if "kernel" not in config:
        old = config.get("backend")
        config["kernel"] = old if old in KERNELS else "torch"
        if old in KERNELS:
            del config["backend"]
    return config


def is_wann_config(config: dict[str, Any]) -> bool:
    """Whether a run folder's config is a WANN run's (a supervised run's task is a section, a WANN run's a name)."""
    return isinstance(config.get("task"), str) and "tournament_size" in config


def build_scorer(
    config: dict[str, Any],
    data: tuple[torch.Tensor, torch.Tensor] | None = None,
    gym: GymEvaluator | None = None,
) -> Scorer:
    """The scorer of a resolved config, here or on Ray actors (``backend: ray``); ``data``: an image task's images
    and labels; ``gym``: a gym task's environment."""
    dtype = getattr(torch, config["dtype"])
    ray = config["backend"] == "ray"
    local: Scorer
    if gym is not None:
        local = GymScorer(gym, config["steps"], dtype)
    elif data is None:  # on Ray the actors are the workers: each scores its chunks in its own process
        local = SwingUpScorer(config["steps"], dtype, config["kernel"], 1 if ray else config["workers"] or 1)
    else:
        local = ClassifyScorer(*data, config["batch"], dtype, config["device"])
    if ray:
        return RayScorer(local, config["ray_address"], config["workers"], config["chunk_size"])
    return local


class WannTrainer:
    """Run the WANN search of ``config`` (see ``resolve_wann_config``) into ``run`` (or keep no files)."""

    def __init__(self, config: dict[str, Any], run: RunFolder | None = None, progress: bool = True):
        self.config = cfg = resolve_wann_config(config)
        self.run, self.progress = run, progress
        self.data: tuple[torch.Tensor, torch.Tensor] | None = None
        self.gym: GymEvaluator | None = None
        env_id = gym_env_id(cfg["task"])
        if env_id is not None:  # any gymnasium environment (the optional gym / box2d extras)
            from nograd.envs.gym_adapter import GymEvaluator

            self.gym = GymEvaluator(env_id)
            n_in, n_out, activations = self.gym.n_inputs, self.gym.n_outputs, CONTROL_ACTIVATIONS
        elif cfg["task"] == "swingup":
            n_in, n_out, activations = 5, 1, CONTROL_ACTIVATIONS
        else:  # classification: 10 outputs, no step activation (reference h_act=[1,3,...,10])
            inputs, labels = wann_images(_DATASET[cfg["task"]], cfg["data_split"], cfg["data_dir"])
            if cfg["data_split"] == "test":  # the half that `nograd wann eval` tunes on; the other half measures
                inputs, labels = halve_test_split(inputs, labels)[0]
            self.data = inputs.to(cfg["device"]), labels.to(cfg["device"])
            n_in, n_out, activations = inputs.shape[1], 10, CLASSIFY_ACTIVATIONS
        self.search = WANN(
            n_in,
            n_out,
            population=cfg["population"],
            p_init_enable=float(cfg["p_init_enable"]),
            tournament_size=cfg["tournament_size"],
            crowding=cfg["crowding"],
            expression=cfg["expression"],
            activations=activations,
            seed=cfg["seed"],
        )
        #: scores populations: here or on Ray actors; worker processes and actors start on first use
        self.scorer = build_scorer(cfg, self.data, self.gym)
        self.elapsed = 0.0
        self.rollouts = 0
        self.champion: Genome | None = None
        self.champion_fitness = -math.inf
        self.last_row: dict[str, Any] = {}
        self._snapshot: tuple[WANN, dict[str, Any]] | None = None  # the last finished generation, not yet written
        self._saved_at = -math.inf  # perf_counter() when the last checkpoint was written, and its cost
        self._save_seconds = 0.0

    # -- state --------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return _state_dict(*self._capture())

    def _capture(self) -> tuple[WANN, dict[str, Any]]:
        """The state as it is now, cheaply: a shallow copy of the search (a generation replaces its population,
        fitness and genome objects and mutates none of them, only the counters, copied here) and of the trainer's
        counters. Serialised only when written (``_state_dict``)."""
        search = copy.copy(self.search)
        search.counters = dataclasses.replace(self.search.counters)
        trainer = {
            "elapsed": self.elapsed,
            "rollouts": self.rollouts,
            "champion": self.champion,  # replaced on improvement, never changed in place
            "champion_fitness": self.champion_fitness,
            "last_row": dict(self.last_row),
        }
        return search, trainer

    def _write_checkpoint(self) -> None:
        """Write the snapshot of the last finished generation, if it is not written yet."""
        if self.run is None or self._snapshot is None:
            return
        started = time.perf_counter()
        self.run.save_checkpoint("last", _state_dict(*self._snapshot))
        self._snapshot = None
        self._saved_at = time.perf_counter()
        self._save_seconds = self._saved_at - started

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"Not a nograd WANN checkpoint (format {state.get('format')!r}).")
        try:
            self.search.load_state_dict(state["search"])
            trainer = state["trainer"]
            self.elapsed, self.rollouts = float(trainer["elapsed"]), int(trainer["rollouts"])
            champion = trainer["champion"]
            self.champion = None if champion is None else Genome.from_dict(champion)
            self.champion_fitness = float(trainer["champion_fitness"])
            self.last_row = dict(trainer["last_row"])
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"The WANN checkpoint does not match this run's config: {err!r}") from None

    @property
    def generation(self) -> int:
        """Generations evaluated so far."""
        return self.search.generation

    # -- the loop -------------------------------------------------------------------------------------------------
    def _returns(self, genomes: list[Genome], generation: int, reps: int) -> torch.Tensor:
        """[P, W, R] returns of ``genomes``; episodes (or image batches) addressed by (seed, generation, rep)."""
        return self.scorer(genomes, self.config["seed"], generation, reps)

    def step(self) -> dict[str, Any]:
        """Ask, evaluate and tell one generation; returns its metrics row."""
        cfg = self.config
        started = time.perf_counter()
        generation = self.search.generation
        genomes = self.search.ask()
        returns = self._returns(genomes, generation, cfg["reps"])
        returns = returns.to(torch.float64)
        mean = returns.mean(dim=(1, 2))
        best_weight = returns.mean(dim=2).max(dim=1).values
        self.search.tell(mean, best_weight)
        self.rollouts += returns.numel()
        ranked = torch.nan_to_num(mean, nan=-math.inf)
        best = int(ranked.argmax())
        improved = float(ranked[best]) > self.champion_fitness
        if improved and cfg["champion_retests"] > 0:
            # As the reference does (wann_train.py: checkBest): a generation's best earned its score on a few shared
            # episodes, and the best of 192 noisy scores is optimistic; it becomes champion only if its score on
            # fresh episodes (champion_retests x reps per shared weight, addressed by generation -3 - g, apart
            # from the search's and from `wann eval`'s -1 and -2) beats the champion's own re-tested score.
            retest = self._returns([genomes[best]], -3 - generation, cfg["champion_retests"] * cfg["reps"])
            self.rollouts += retest.numel()
            score = float(torch.nan_to_num(retest.to(torch.float64).mean(), nan=-math.inf))
            improved = score > self.champion_fitness
            if improved:
                self.champion, self.champion_fitness = genomes[best].copy(), score
        elif improved:
            self.champion, self.champion_fitness = genomes[best].copy(), float(ranked[best])
        seconds = time.perf_counter() - started
        self.elapsed += seconds
        connections = [g.num_active for g in genomes]
        hidden = [len(g.hidden) for g in genomes]
        row = {
            "generation": generation,
            "rollouts": self.rollouts,
            "wall_seconds": round(self.elapsed, 4),
            "generation_seconds": round(seconds, 4),
            "best_fitness": float(ranked[best]),
            "mean_fitness": float(torch.nanmean(mean)),
            "best_max_fitness": float(torch.nan_to_num(best_weight, nan=-math.inf).max()),
            "champion_fitness": self.champion_fitness,
            "champion_connections": self.champion.num_active if self.champion is not None else 0,
            "mean_connections": sum(connections) / len(connections),
            "mean_hidden": sum(hidden) / len(hidden),
            "max_hidden": max(hidden),
        }
        self.last_row = row
        if self.run is not None:
            if improved and self.champion is not None:
                self.champion.save(self.run.path / "champion.json")
            _append_row(self.run.path / "metrics.csv", row)
            self._snapshot = self._capture()
            if time.perf_counter() - self._saved_at >= CHECKPOINT_RATIO * self._save_seconds:
                self._write_checkpoint()
        return row

    def fit(self) -> dict[str, Any]:
        """Run the remaining generations. Ctrl-C (or SIGTERM) keeps the last finished generation's checkpoint."""
        total = self.config["generations"]
        if self.run is not None and self.generation == 0:
            self.run.write_config(self.config)
        bar = tqdm(
            total=total,
            initial=self.generation,
            unit="gen",
            disable=not self.progress,
            desc=f"{self.config['task']}/wann",
            dynamic_ncols=True,
            mininterval=0.5,
        )
        previous_handler = install_sigterm_handler()
        failure: WorkerError | None = None
        try:
            while self.generation < total:
                try:
                    row = self.step()
                except WorkerError as err:  # no worker left: keep what is finished, say how to go on
                    failure = err
                    break
                bar.update(1)
                bar.set_postfix(
                    best=f"{row['best_fitness']:.1f}",
                    mean=f"{row['mean_fitness']:.1f}",
                    champ=f"{row['champion_fitness']:.1f}",
                    conns=f"{row['champion_connections']}",
                    s_gen=f"{row['generation_seconds']:.2f}",
                    refresh=False,
                )
        finally:
            bar.close()
            restore_sigterm_handler(previous_handler)
            self.close()
            self._write_checkpoint()
        if failure is not None and self.generation == 0:
            raise WorkerError(f"{failure} The run stopped in its first generation: start it again.") from failure
        if failure is not None:
            run_dir = None if self.run is None else self.run.path
            raise run_stopped(failure, f"generation {self.generation - 1}", run_dir, "local") from failure
        return self.summary()

    def close(self) -> None:
        """Stop the evaluation worker processes or Ray actors, if any (a later ``step`` starts them again)."""
        self.scorer.close()

    def summary(self) -> dict[str, Any]:
        return {
            "task": self.config["task"],
            "seed": self.config["seed"],
            "generations": self.generation,
            "champion_fitness": self.champion_fitness,
            "champion_connections": None if self.champion is None else self.champion.num_active,
            "champion_hidden": None if self.champion is None else len(self.champion.hidden),
            "wall_seconds": round(self.elapsed, 2),
            "rollouts": self.rollouts,
            "run_dir": None if self.run is None else str(self.run.path),
        }


def _state_dict(search: WANN, trainer: dict[str, Any]) -> dict[str, Any]:
    champion = trainer["champion"]
    trainer = {**trainer, "champion": None if champion is None else champion.to_dict()}
    return {"format": CHECKPOINT_FORMAT, "search": search.state_dict(), "trainer": trainer}


def _append_row(path: Path, row: dict[str, Any]) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=WANN_COLUMNS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)


def _truncate_rows(path: Path, generations: int) -> None:
    """Keep the rows of the first ``generations`` generations: a resumed run writes the later ones again."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if int(r["generation"]) < generations]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=WANN_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def train_wann(config: dict[str, Any], progress: bool = True) -> WannTrainer:
    """Resolve ``config``, make a run folder under its ``out`` and run the search."""
    resolved = resolve_wann_config(config)
    trainer = WannTrainer(resolved, None, progress=progress)
    trainer.scorer.start()  # join the Ray cluster, if any: a bad address fails before a run folder is made
    trainer.run = RunFolder.create(resolved["out"], re.sub(r"[^A-Za-z0-9._-]+", "-", resolved["task"]), "wann")
    trainer.fit()
    return trainer


#: What a resumed WANN run may change: none of these changes a result (the device only in the last bits).
RESUME_CHANGES = ("generations", "workers", "device", "backend", "ray_address", "chunk_size")


def resume_wann(run_dir: str | Path, progress: bool = True, **changes: Any) -> WannTrainer:
    """Continue the WANN run in ``run_dir`` from its last checkpoint.

    ``changes`` (None: keep the run's): more ``generations``; other ``workers``, ``backend`` (local or ray),
    ``ray_address`` or ``chunk_size``, which change no result; another ``device``: a GPU's scores may differ from
    the CPU's in their last bits, so the generations after the switch may differ from an uninterrupted run's. Runs
    made before the ``device`` option ran on the CPU."""
    unknown = set(changes) - set(RESUME_CHANGES)
    if unknown:
        raise ConfigError(f"A resumed WANN run may change only {', '.join(RESUME_CHANGES)}. Got {sorted(unknown)}.")
    changes = {k: v for k, v in changes.items() if v is not None}
    run = RunFolder.open(run_dir)
    config = {**upgrade_wann_config(run.read_config()), **changes}
    if changes.get("backend") == "local":
        config["ray_address"] = None
    trainer = WannTrainer(config, run, progress=progress)
    if not run.checkpoint_path("last").exists():
        raise RunFolderError(f"Run folder {run.path} has no checkpoints/last.pt to resume from.")
    trainer.load_state_dict(run.load_checkpoint("last"))
    _truncate_rows(run.path / "metrics.csv", trainer.generation)
    if changes:
        run.write_config(trainer.config)
    trainer.scorer.start()
    trainer.fit()
    return trainer

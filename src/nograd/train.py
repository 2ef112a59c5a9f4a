"""The trainer: glue between a task, a model, an evaluator, a method and a run folder.

It owns the budget, the progress bar, the metrics rows, the checkpoints and resume. Everything a step depends
on is in the checkpoint (weights, optimizer state with its RNG address and counters, evaluator counters), and
minibatches are addressed by step, so a resumed run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from nograd.config import resolve_config
from nograd.errors import CheckpointError, ConfigError, RunFolderError, WorkerError, run_stopped
from nograd.evaluate import build_evaluator
from nograd.models import build_model
from nograd.models.batchnorm import has_batchnorm, recalibrate_batchnorm
from nograd.optim import build_optimizer, get_method
from nograd.report import plot_learning_curve
from nograd.runs import RunFolder
from nograd.runtime import install_sigterm_handler, restore_sigterm_handler, tune_allocator
from nograd.supermask import MaskedLayer, kept_fraction
from nograd.tasks import build_task

__all__ = ["Trainer", "train", "resume"]

CHECKPOINT_FORMAT = "nograd-train-v1"


class Trainer:
    """Train ``config`` (see ``nograd.config``) into ``run`` (a RunFolder, or None to keep no files)."""

    def __init__(self, config: dict[str, Any], run: RunFolder | None = None, progress: bool = True):
        self.config = resolve_config(config)
        self.run = run
        self.progress = progress
        cfg = self.config
        tune_allocator()
        torch.manual_seed(cfg["seed"])  # the model's initial weights
        self.task = build_task(cfg["task"]["name"], seed=cfg["seed"], device=cfg["device"], **_options(cfg["task"]))
        self.model = build_model(
            cfg["model"]["name"], self.task.input_shape, self.task.num_outputs, **_options(cfg["model"])
        ).to(cfg["device"])
        if torch.device(cfg["device"]).type == "cpu" and any(
            isinstance(m, torch.nn.Conv2d) for m in self.model.modules()
        ):
            # Channels-last convolutions are about 1.6× faster on the CPU (measured on the RSO MNIST net).
            self.model = self.model.to(memory_format=torch.channels_last)
            if hasattr(self.task, "use_channels_last"):
                self.task.use_channels_last()
        self.method = get_method(cfg["method"]["name"])
        self.evaluator = build_evaluator(
            cfg["backend"], self.task, self.model, cfg["chunk_size"], cfg["ray_address"], cfg["workers"]
        )
        if not self.method.uses_gradients:
            for p in self.model.parameters():
                p.requires_grad_(False)
        self.optimizer = build_optimizer(
            self.method.name, self.model.parameters(), seed=cfg["seed"], **_options(cfg["method"])
        )
        self.step = 0
        self.elapsed = 0.0  # wall seconds spent training, summed over sessions
        self.best_train_loss = math.inf
        self.finished = False
        self.last_metrics: dict[str, Any] = {}
        #: Called after every step with the trainer; tests use it to simulate a crash.
        self.on_step: Callable[[Trainer], None] | None = None

    # -- state --------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "evaluator": self.evaluator.state_dict(),
            "trainer": {
                "step": self.step,
                "elapsed": self.elapsed,
                "best_train_loss": self.best_train_loss,
                "finished": self.finished,
                "last_metrics": self.last_metrics,
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"Not a nograd training checkpoint (format {state.get('format')!r}).")
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.evaluator.load_state_dict(state["evaluator"])
            trainer = state["trainer"]
            self.step, self.elapsed = int(trainer["step"]), float(trainer["elapsed"])
            self.best_train_loss, self.finished = float(trainer["best_train_loss"]), bool(trainer["finished"])
            self.last_metrics = dict(trainer["last_metrics"])
        except (KeyError, RuntimeError, ValueError) as err:
            raise CheckpointError(f"The checkpoint does not match this run's config: {err}") from None

    # -- the loop -----------------------------------------------------------------------------------------
    def _budget_left(self, started: float) -> bool:
        if getattr(self.optimizer, "finished", False):
            return False
        budget = self.config["budget"]
        seconds = self.elapsed + (time.perf_counter() - started)
        return not (
            (budget["steps"] is not None and self.step >= budget["steps"])
            or (budget["evaluations"] is not None and self.evaluator.evaluations >= budget["evaluations"])
            or (budget["seconds"] is not None and seconds >= budget["seconds"])
        )

    def _closure(self) -> Callable[[], float]:
        return self.evaluator.loss_and_backward if self.method.uses_gradients else self.evaluator

    def _progress_bar(self) -> tqdm:
        budget = self.config["budget"]
        if budget["evaluations"] is not None:
            total, unit, done = budget["evaluations"], "eval", self.evaluator.evaluations
        elif budget["steps"] is not None:
            total, unit, done = budget["steps"], "step", self.step
        elif budget["seconds"] is not None:
            total, unit, done = budget["seconds"], "s", self.elapsed
        else:  # a method that runs to completion: count its steps
            total, unit, done = getattr(self.optimizer, "total_steps", None), "step", self.step
        bar = tqdm(
            total=total,
            initial=done,
            unit=unit,
            unit_scale=True,
            disable=not self.progress,
            desc=f"{self.config['task']['name']}/{self.method.name}",
            dynamic_ncols=True,
            leave=True,
            mininterval=0.5,
        )
        bar.kind = unit  # type: ignore[attr-defined]
        return bar

    def fit(self) -> dict[str, Any]:
        """Train until the budget is spent; returns the final metrics. Ctrl-C saves a checkpoint first."""
        if self.finished:
            return self.summary()
        if self.run is not None and self.step == 0:
            self.run.write_config(self.config)
        interrupted = False
        failure: WorkerError | None = None
        previous_handler = install_sigterm_handler()
        started = time.perf_counter()
        bar = self._progress_bar()
        try:
            if self.step == 0 and not self.last_metrics:
                self._log(started)
                self._checkpoint(started)
            closure = self._closure()
            while self._budget_left(started):
                before = (self.evaluator.evaluations, self.step, time.perf_counter())
                self.evaluator.set_step(self.step)
                self.optimizer.step(closure)
                self.step += 1
                events = getattr(self.optimizer, "events", frozenset())
                if _every(self.step, self.config["log_every"]) or "cycle" in events:
                    self._log(started, bar)
                if _every(self.step, self.config["checkpoint_every"]) or "layer" in events:
                    self._checkpoint(started)
                if "layer" in events:
                    self._describe_position(bar)
                bar.update(
                    {
                        "eval": self.evaluator.evaluations - before[0],
                        "step": self.step - before[1],
                        "s": time.perf_counter() - before[2],
                    }[bar.kind]
                )
                if self.on_step is not None:
                    self.on_step(self)
            if self.last_metrics.get("step") != self.step:
                self._log(started, bar)
            self.finished = True
        except KeyboardInterrupt:
            interrupted = True
        except WorkerError as err:
            # No worker left mid-step: the step changed nothing yet (a method's state moves only in ``tell``, the
            # evaluator counts after scoring), so the checkpoint holds the last finished step.
            failure = err
        finally:
            bar.close()
            restore_sigterm_handler(previous_handler)
            self.evaluator.close()
        self._checkpoint(started)
        if interrupted:
            raise KeyboardInterrupt
        if failure is not None:
            run_dir = None if self.run is None else self.run.path
            raise run_stopped(failure, f"step {self.step}", run_dir, "vectorized") from failure
        if self.run is not None:
            self.run.write_summary(self.summary())
            plot_learning_curve(self.run, title=f"{self.config['task']['name']} by {self.method.name}")
        return self.summary()

    def _describe_position(self, bar: tqdm) -> None:
        """For methods that walk the network (RSO): which cycle and tensor come next."""
        stats = self.optimizer.stats() if hasattr(self.optimizer, "stats") else {}
        if "tensor" in stats and not getattr(self.optimizer, "finished", False):
            names = {id(p): n for n, p in self.model.named_parameters()}
            tensor = self.optimizer.order[stats["tensor"]]  # type: ignore[attr-defined]
            bar.set_description(
                f"{self.config['task']['name']}/{self.method.name} cycle {stats['cycle'] + 1} "
                f"{names.get(id(tensor), '?')}",
                refresh=False,
            )

    def _log(self, started: float, bar: tqdm | None = None) -> None:
        if not self.method.uses_gradients and has_batchnorm(self.model) and hasattr(self.task, "calibration_batches"):
            recalibrate_batchnorm(self.model, self.task.calibration_batches())
        metrics = self.task.metrics(self.model)
        stats = self.optimizer.stats() if hasattr(self.optimizer, "stats") else {}
        step_size = stats.get("step_size", self.optimizer.param_groups[0].get("lr"))
        row = {
            "step": self.step,
            "evaluations": self.evaluator.evaluations,
            "examples": self.evaluator.examples,
            "accepted": stats.get("accepted", self.step if self.method.uses_gradients else None),
            "wall_seconds": round(self.elapsed + time.perf_counter() - started, 4),
            "step_size": step_size,
            **metrics,
        }
        self.last_metrics = row
        if self.run is not None:
            self.run.append_metrics(row)
            if metrics["train_loss"] < self.best_train_loss:
                self.best_train_loss = metrics["train_loss"]
                self.run.save_checkpoint(
                    "best", {"format": "nograd-weights-v1", "model": self.model.state_dict(), "metrics": row}
                )
        else:
            self.best_train_loss = min(self.best_train_loss, metrics["train_loss"])
        if bar is not None:
            bar.set_postfix(
                loss=f"{metrics['train_loss']:.3g}",
                train=f"{metrics['train_acc']:.1%}",
                test=f"{metrics['test_acc']:.1%}",
                refresh=False,
            )

    def _checkpoint(self, started: float) -> None:
        if self.run is None:
            return
        elapsed, self.elapsed = self.elapsed, self.elapsed + time.perf_counter() - started
        self.run.save_checkpoint("last", self.state_dict())
        self.elapsed = elapsed  # the session's own clock keeps counting from ``started``

    def summary(self) -> dict[str, Any]:
        summary = {
            "task": self.config["task"]["name"],
            "method": self.method.name,
            "seed": self.config["seed"],
            "finished": self.finished,
            **self.last_metrics,
            "run_dir": str(self.run.path) if self.run is not None else None,
        }
        if any(isinstance(m, MaskedLayer) for m in self.model.modules()):
            summary["kept_fraction"] = kept_fraction(self.model)  # a supermask: how much of the net it keeps
        return summary


def _every(step: int, interval: int | None) -> bool:
    return interval is not None and step % interval == 0


def _options(section: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in section.items() if k != "name"}


def train(config: dict[str, Any], out: str | Path | None = None, progress: bool = True) -> Trainer:
    """Resolve ``config``, make a run folder under ``out`` (default: the config's ``out``) and train."""
    resolved = resolve_config(config)
    trainer = Trainer(resolved, None, progress=progress)
    trainer.evaluator.start()  # join the Ray cluster, if any: a bad address fails before a run folder is made
    trainer.run = RunFolder.create(out or resolved["out"], resolved["task"]["name"], resolved["method"]["name"])
    trainer.fit()
    return trainer


#: What a resumed run may change: where its populations are scored, which changes no result.
RESUME_CHANGES = ("backend", "ray_address", "workers", "chunk_size")


def resume(run_dir: str | Path, progress: bool = True, **changes: Any) -> Trainer:
    """Continue the run in ``run_dir`` from its last checkpoint to the end of its budget; ``changes`` (None: keep
    the run's) move its population scoring to another backend, cluster, number of workers or chunk size."""
    unknown = set(changes) - set(RESUME_CHANGES)
    if unknown:
        raise ConfigError(f"A resumed run may change only {', '.join(RESUME_CHANGES)}. Got {sorted(unknown)}.")
    changes = {k: v for k, v in changes.items() if v is not None}
    if changes.get("backend") == "local":  # as a WANN run says it: this process
        changes["backend"] = "vectorized"
    run = RunFolder.open(run_dir)
    config = {**run.read_config(), **changes}
    if changes.get("backend") not in (None, "ray"):  # leaving Ray: its options go with it
        config["ray_address"] = config["workers"] = None
    trainer = Trainer(config, run, progress=progress)
    if not run.checkpoint_path("last").exists():
        raise RunFolderError(f"Run folder {run.path} has no checkpoints/last.pt to resume from.")
    state = run.load_checkpoint("last")
    trainer.load_state_dict(state)
    run.truncate_metrics(trainer.step)
    if changes:
        run.write_config(trainer.config)
    trainer.evaluator.start()
    trainer.fit()
    return trainer

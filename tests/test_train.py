import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from nograd.config import parse_budget, resolve_config
from nograd.errors import CheckpointError, ConfigError, RunFolderError
from nograd.runs import METRIC_COLUMNS, RunFolder
from nograd.train import Trainer, resume, train


def _config(method: str, **extra) -> dict:
    config = {
        "task": {"name": "addition", "train_size": 100},
        "method": {"name": method, **({"population": 4} if method in ("random", "hillclimb") else {})},
        "budget": {"steps": 60},
        "log_every": 10,
        "seed": 1,
    }
    config.update(extra)
    return config


def _weights(trainer: Trainer) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in trainer.model.parameters()])


def test_run_folder_has_config_metrics_checkpoints_and_plot(tmp_path):
    trainer = train(_config("hillclimb"), out=tmp_path, progress=False)
    run = trainer.run.path
    assert run.parent == tmp_path and run.name.endswith("-addition-hillclimb")
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["method"]["sigma"] == 0.1 and config["model"]["hidden"] == [2, 2]  # resolved defaults
    with (run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == METRIC_COLUMNS
    assert [int(r["step"]) for r in rows] == [0, 10, 20, 30, 40, 50, 60]
    assert int(rows[-1]["evaluations"]) == 60 * 4 + 1
    for name in ("checkpoints/last.pt", "checkpoints/best.pt", "learning_curve.png", "summary.json"):
        assert (run / name).is_file(), name
    assert trainer.summary()["finished"] and float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])


@pytest.mark.parametrize("method", ["hillclimb", "random", "adam", "sgd", "metropolis", "amc"])
def test_resume_after_a_crash_ends_with_the_same_weights(tmp_path, method):
    reference = train(_config(method), out=tmp_path / "a", progress=False)

    crashing = Trainer(_config(method), RunFolder.create(tmp_path / "b", "addition", method), progress=False)

    def crash(trainer):
        if trainer.step == 37:  # after the checkpoint at step 30, before the next one
            raise RuntimeError("simulated crash")

    crashing.on_step = crash
    with pytest.raises(RuntimeError, match="simulated crash"):
        crashing.fit()
    resumed = resume(crashing.run.path, progress=False)
    assert torch.equal(_weights(resumed), _weights(reference))
    a, b = reference.run.read_metrics(), resumed.run.read_metrics()
    assert [r["step"] for r in a] == [r["step"] for r in b]  # rows after the checkpoint were written once
    assert [r["train_loss"] for r in a] == [r["train_loss"] for r in b]
    assert b[-1]["evaluations"] == a[-1]["evaluations"]


def test_resume_of_a_finished_run_changes_nothing(tmp_path):
    trainer = train(_config("hillclimb"), out=tmp_path, progress=False)
    again = resume(trainer.run.path, progress=False)
    assert torch.equal(_weights(again), _weights(trainer)) and again.step == trainer.step


def test_killed_process_resumes_to_the_same_weights(tmp_path):
    """A real SIGKILL mid-run (no handler runs), then `nograd resume`."""
    args = [
        "train",
        "addition",
        "--method",
        "hillclimb",
        "--budget",
        "3000 steps",
        "--seed",
        "2",
        "-q",
        "task.train_size=100",
        "log_every=10",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "nograd.cli.main"]
    subprocess.run([*cli, *args, "--out", str(tmp_path / "full")], check=True, env=env, capture_output=True)

    proc = subprocess.Popen(
        [*cli, *args, "--out", str(tmp_path / "killed")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        metrics = list((tmp_path / "killed").glob("*/metrics.csv"))
        if metrics and len(metrics[0].read_text().splitlines()) > 20:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL  # it really was killed midway
    run_dir = next((tmp_path / "killed").iterdir())
    assert not (run_dir / "summary.json").exists()
    subprocess.run([*cli, "resume", str(run_dir), "-q"], check=True, env=env, capture_output=True)

    def final(run):
        return torch.load(next(run.iterdir()) / "checkpoints" / "last.pt", weights_only=True)["model"]

    full, resumed = final(tmp_path / "full"), final(tmp_path / "killed")
    assert all(torch.equal(full[k], resumed[k]) for k in full)


def test_corrupt_and_missing_run_folders(tmp_path):
    with pytest.raises(RunFolderError, match="does not exist"):
        resume(tmp_path / "nope", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunFolderError, match="has no config.yaml"):
        resume(tmp_path / "empty", progress=False)
    trainer = train(_config("hillclimb"), out=tmp_path / "runs", progress=False)
    last = trainer.run.checkpoint_path("last")
    last.write_bytes(last.read_bytes()[:100])  # truncated
    with pytest.raises(CheckpointError, match="is corrupt or not a nograd checkpoint"):
        resume(trainer.run.path, progress=False)
    last.unlink()
    with pytest.raises(RunFolderError, match="no checkpoints/last.pt"):
        resume(trainer.run.path, progress=False)
    trainer.run.config_path.write_text("task: [unclosed")
    with pytest.raises(RunFolderError, match="not valid YAML"):
        resume(trainer.run.path, progress=False)


def test_checkpoints_load_with_weights_only(tmp_path):
    trainer = train(_config("hillclimb"), out=tmp_path, progress=False)
    state = torch.load(trainer.run.checkpoint_path("last"), weights_only=True)  # safe deserialisation
    assert state["format"] == "nograd-train-v1" and state["trainer"]["finished"]


def test_budget_parsing():
    assert parse_budget("200k")["evaluations"] == 200_000
    assert parse_budget("500 steps")["steps"] == 500
    assert parse_budget("30s")["seconds"] == 30.0 and parse_budget("2min")["seconds"] == 120.0
    for bad in ("abc", "0", "-5", "10 parsecs"):
        with pytest.raises(ConfigError, match="budget"):
            parse_budget(bad)


def test_seconds_budget_stops(tmp_path):
    trainer = train(_config("hillclimb", budget={"seconds": 0.5}), out=tmp_path, progress=False)
    assert trainer.summary()["finished"] and trainer.step > 0


@pytest.mark.parametrize(
    "config, pattern",
    [
        ({"task": {"name": "nope"}}, "Unknown task 'nope'"),
        ({"method": {"name": "nope"}}, "Unknown method 'nope'"),
        ({"model": {"name": "resnet"}}, "Unknown model 'resnet'"),
        ({"model": {"hidden": 3}}, "'hidden' parameter of MLP must be a list"),
        ({"model": {"activation": "swish"}}, "'activation' parameter of MLP must be one of"),
        ({"budget": {"evaluations": -1}}, "'evaluations' parameter of the budget"),
        ({"budget": {"epochs": 3}}, "Unknown option 'epochs' for the budget"),
        ({"seed": "one"}, "'seed' parameter of the run config"),
        ({"backend": "gpu"}, "Unknown backend 'gpu'"),
        ({"device": "tpu9"}, "'device' parameter"),
        ({"colour": "red"}, "Unknown option 'colour' for the run config"),
        ({"method": "hillclimb"}, "'method' section of the config must be a mapping"),
    ],
)
def test_bad_configs(config, pattern):
    with pytest.raises(ConfigError, match=pattern):
        Trainer(config, progress=False)


def test_default_config_is_the_addition_demo():
    config = resolve_config({})
    assert config["task"]["name"] == "addition" and config["method"]["name"] == "hillclimb"
    assert config["budget"]["evaluations"] > 0


def test_cuda_request_without_gpu_is_clear():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        resolve_config({"device": "cuda"})


def test_run_folder_names_do_not_collide(tmp_path):
    a, b = RunFolder.create(tmp_path, "t", "m"), RunFolder.create(tmp_path, "t", "m")
    assert a.path != b.path and Path(b.path).is_dir()


def test_minibatch_tasks_reevaluate_the_kept_weights_unless_told_otherwise():
    config = resolve_config({"task": {"name": "addition", "batch_size": 10}})
    assert config["method"]["reevaluate"] is True
    config = resolve_config(
        {"task": {"name": "addition", "batch_size": 10}, "method": {"name": "hillclimb", "reevaluate": False}}
    )
    assert config["method"]["reevaluate"] is False
    assert resolve_config({})["method"]["reevaluate"] is False  # full batch: the stored loss stays valid


def test_sigterm_raises_keyboard_interrupt_until_the_handler_is_restored():
    import os
    import signal
    import threading
    import time

    from nograd.runtime import install_sigterm_handler, restore_sigterm_handler

    before = signal.getsignal(signal.SIGTERM)
    previous = install_sigterm_handler()
    try:
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler runs (and raises) as soon as the signal arrives
    finally:
        restore_sigterm_handler(previous)
    assert signal.getsignal(signal.SIGTERM) == before
    # outside the main thread nothing is installed, and restoring nothing is a no-op
    results = []
    thread = threading.Thread(target=lambda: results.append(install_sigterm_handler()))
    thread.start()
    thread.join()
    assert results == [None] and signal.getsignal(signal.SIGTERM) == before
    restore_sigterm_handler(None)

"""The Ray backend on a local Ray instance (2 CPUs): the same results as in-process evaluation, also when actors
die mid-generation, and a run that loses every actor stops with its checkpoint written and resumes exactly."""

from __future__ import annotations

import functools
import os
import pickle
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray")

from nograd.errors import ConfigError, MissingExtraError, WorkerError  # noqa: E402
from nograd.evaluate.distributed import _score_chunk  # noqa: E402
from nograd.evaluate.ray_pool import RayActorPool  # noqa: E402
from nograd.runs import RunFolder, load_checkpoint  # noqa: E402
from nograd.train import Trainer, resume, train  # noqa: E402
from nograd.train_wann import WannTrainer, resume_wann, train_wann  # noqa: E402
from nograd.wann import WANN, Genome, evaluate_swingup  # noqa: E402
from nograd.wann.scorers import ClassifyScorer, RayScorer, SwingUpScorer, score_chunk  # noqa: E402

# the helpers below run on the actors: ship them by value (the actors cannot import this test module)
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def dying(function, markers: str, generation: int, deaths: int, *args):
    """``function(*args)``, except that the first ``deaths`` calls scoring ``generation`` end their actor's process
    (as the out-of-memory killer or a lost node would), each after taking a marker file."""
    if args[3] == generation:  # (payload, genomes, seed, generation, reps)
        for k in range(deaths):
            try:
                os.close(os.open(os.path.join(markers, f"death-{k}"), os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                continue
            os._exit(1)
    return function(*args)


def blocking(markers: str, *args):
    """Score a chunk; the first call announces itself (with its actor id) and then waits to be killed."""
    try:
        os.close(os.open(os.path.join(markers, "started"), os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return score_chunk(*args)
    Path(markers, "actor").write_text(ray.get_runtime_context().get_actor_id())
    time.sleep(120)
    raise AssertionError("this actor should have been killed")


def grown_population(generations: int = 10, population: int = 32, seed: int = 5) -> list[Genome]:
    search = WANN(5, 1, population=population, seed=seed)
    for g in range(generations):
        pop = search.ask()
        r = evaluate_swingup(pop, seed=seed, generation=g, reps=1, steps=200).double()
        search.tell(r.mean(dim=(1, 2)), r.mean(dim=2).max(dim=1).values)
    return search.ask()


SWINGUP = SwingUpScorer(steps=300, dtype=torch.float32, kernel="numba")


# -- the pool -----------------------------------------------------------------------------------------------------
def test_chunks_on_actors_equal_one_process():
    genomes = grown_population()
    expected = SWINGUP(genomes, 3, 7, 2).numpy()
    for chunk_size in (None, 5):
        scorer = RayScorer(SWINGUP, workers=2, chunk_size=chunk_size)
        try:
            assert np.array_equal(scorer(genomes, 3, 7, 2).numpy(), expected)
        finally:
            scorer.close()


def test_an_actor_killed_mid_generation_loses_no_chunk_and_changes_no_result(tmp_path):
    genomes = grown_population()
    expected = SWINGUP(genomes, 1, 4, 2).numpy()
    scorer = RayScorer(SWINGUP, workers=2, chunk_size=4)
    scorer.function = functools.partial(blocking, str(tmp_path))
    out: dict[str, torch.Tensor] = {}
    mapper = threading.Thread(target=lambda: out.setdefault("returns", scorer(genomes, 1, 4, 2)))
    mapper.start()
    victim = tmp_path / "actor"
    deadline = time.monotonic() + 60
    while not victim.exists() and time.monotonic() < deadline:  # the victim holds its chunk now
        time.sleep(0.05)
    (actor,) = [a for a in scorer.pool.actors if a._actor_id.hex() == victim.read_text()]
    ray.kill(actor, no_restart=True)
    mapper.join()
    assert np.array_equal(out["returns"].numpy(), expected)
    assert scorer.failures == 1 and scorer.pool.workers == 1
    scorer.close()


def test_no_actor_left_is_a_clear_error():
    pool = RayActorPool(1, SWINGUP)
    ray.kill(pool.actors[0], no_restart=True)
    with pytest.raises(WorkerError, match="No Ray actor is left"):
        pool.map(score_chunk, [(pickle.dumps(grown_population(2, 8)), 0, 0, 1)])
    assert pool.workers == 0


def test_a_failing_function_is_not_taken_for_a_lost_worker():
    with RayActorPool(1, SWINGUP) as pool:
        wrong = Genome.fully_connected(3, 1, [True] * 4)  # 3 inputs: swing-up refuses it on the actor
        with pytest.raises(WorkerError, match="Scoring failed on a Ray actor"):
            pool.map(score_chunk, [(pickle.dumps([wrong]), 0, 0, 1)])
        assert pool.workers == 1


def test_more_workers_than_the_cluster_has_cpus_is_a_clear_error():
    with pytest.raises(ConfigError, match="3 Ray workers of 1 CPU\\(s\\) each need 3 CPUs; the cluster has 2"):
        RayActorPool(3, None)


def test_without_ray_installed_the_error_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(MissingExtraError, match=r"nograd\[ray\]"):
        RayActorPool(1)


def test_image_tasks_score_on_actors_as_here():
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.data[:300] / 16.0, dtype=torch.float32)
    labels = torch.tensor(digits.target[:300])
    search = WANN(64, 10, population=12, p_init_enable=0.05, seed=2)
    genomes = search.ask()
    local = ClassifyScorer(images, labels, batch=100, dtype=torch.float32)
    scorer = RayScorer(local, workers=2, chunk_size=5)
    try:
        assert torch.equal(scorer(genomes, 0, 3, 2), local(genomes, 0, 3, 2))
    finally:
        scorer.close()


# -- WANN runs ------------------------------------------------------------------------------------------------------
WANN_RUN = {"task": "swingup", "population": 24, "generations": 4, "reps": 2, "steps": 200, "seed": 3}


def _same_run(a: Path, b: Path) -> None:
    """Two WANN run folders made the same search: state, champion and every metric but the clock."""
    ca, cb = load_checkpoint(a / "checkpoints/last.pt"), load_checkpoint(b / "checkpoints/last.pt")
    assert ca["search"] == cb["search"]
    assert ca["trainer"]["champion"] == cb["trainer"]["champion"]
    assert ca["trainer"]["champion_fitness"] == cb["trainer"]["champion_fitness"]

    def rows(run: Path) -> list[list[str]]:
        lines = [line.split(",") for line in (run / "metrics.csv").read_text().splitlines()]
        keep = [i for i, name in enumerate(lines[0]) if name not in ("wall_seconds", "generation_seconds")]
        return [[line[i] for i in keep] for line in lines]

    assert rows(a) == rows(b)


@pytest.fixture(scope="module")
def local_wann_run(tmp_path_factory) -> Path:
    return train_wann({**WANN_RUN, "out": str(tmp_path_factory.mktemp("local"))}, progress=False).run.path


def test_a_wann_run_on_two_ray_workers_equals_the_local_run(tmp_path, local_wann_run):
    trainer = train_wann({**WANN_RUN, "backend": "ray", "workers": 2, "out": str(tmp_path)}, progress=False)
    assert trainer.config["backend"] == "ray" and trainer.scorer.pool is None  # closed at the end
    _same_run(trainer.run.path, local_wann_run)


def test_a_wann_run_whose_actor_dies_mid_generation_equals_the_local_run(tmp_path, local_wann_run):
    config = {**WANN_RUN, "backend": "ray", "workers": 2, "chunk_size": 6, "out": str(tmp_path)}
    trainer = WannTrainer(config, RunFolder.create(tmp_path, "swingup", "wann"), progress=False)
    (tmp_path / "markers").mkdir()
    trainer.scorer.function = functools.partial(dying, score_chunk, str(tmp_path / "markers"), 2, 1)
    failures: list[int] = []
    step = trainer.step

    def counted_step():
        row = step()
        failures.append(trainer.scorer.failures)
        return row

    trainer.step = counted_step  # type: ignore[method-assign]
    trainer.fit()
    assert failures == [0, 0, 1, 1]  # one chunk of generation 2 ran again, on the other actor
    _same_run(trainer.run.path, local_wann_run)


def test_a_wann_run_that_loses_every_actor_stops_with_its_checkpoint_and_resumes(tmp_path, local_wann_run):
    config = {**WANN_RUN, "backend": "ray", "workers": 2, "out": str(tmp_path)}
    trainer = WannTrainer(config, RunFolder.create(tmp_path, "swingup", "wann"), progress=False)
    (tmp_path / "markers").mkdir()
    trainer.scorer.function = functools.partial(dying, score_chunk, str(tmp_path / "markers"), 2, 2)
    with pytest.raises(WorkerError, match=r"No Ray actor is left.*after generation 1.*nograd resume"):
        trainer.fit()
    run = trainer.run.path
    assert load_checkpoint(run / "checkpoints/last.pt")["search"]["generation"] == 2
    resumed = resume_wann(run, progress=False)  # on Ray again, with new actors
    assert resumed.generation == 4
    _same_run(run, local_wann_run)


# -- nograd train: hill climbing ------------------------------------------------------------------------------------
HILLCLIMB = {
    "task": {"name": "addition", "train_size": 200},
    "method": {"name": "hillclimb", "population": 32},
    "budget": {"steps": 30},
    "log_every": 10,
    "seed": 4,
}


def _weights(trainer: Trainer) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in trainer.model.parameters()])


@pytest.fixture(scope="module")
def local_hillclimb(tmp_path_factory) -> Trainer:
    return train(HILLCLIMB, out=tmp_path_factory.mktemp("hc"), progress=False)


def test_hill_climbing_on_ray_equals_the_vectorised_run(tmp_path, local_hillclimb):
    trainer = train({**HILLCLIMB, "backend": "ray", "workers": 2, "chunk_size": 10}, out=tmp_path, progress=False)
    assert torch.equal(_weights(trainer), _weights(local_hillclimb))
    assert trainer.evaluator.evaluations == local_hillclimb.evaluator.evaluations
    assert trainer.summary()["train_loss"] == local_hillclimb.summary()["train_loss"]


def test_hill_climbing_that_loses_every_actor_stops_and_resumes_exactly(tmp_path, local_hillclimb):
    config = {**HILLCLIMB, "backend": "ray", "workers": 2}
    trainer = Trainer(config, RunFolder.create(tmp_path, "addition", "hillclimb"), progress=False)
    markers = tmp_path / "markers"
    markers.mkdir()
    trainer.evaluator.function = functools.partial(_at_step, str(markers))
    with pytest.raises(WorkerError, match=r"No Ray actor is left.*after step 17.*nograd resume"):
        trainer.fit()
    assert load_checkpoint(trainer.run.path / "checkpoints/last.pt")["trainer"]["step"] == 17
    resumed = resume(trainer.run.path, progress=False, backend="vectorized")  # go on in this process
    assert torch.equal(_weights(resumed), _weights(local_hillclimb))


def _at_step(markers: str, scorer, step: int, candidates: torch.Tensor) -> torch.Tensor:
    """``_score_chunk``, except that both actors die scoring step 17."""
    if step == 17:
        for k in range(2):
            try:
                os.close(os.open(os.path.join(markers, f"death-{k}"), os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                continue
            os._exit(1)
    return _score_chunk(scorer, step, candidates)


def test_ray_backend_config_errors():
    from nograd.config import resolve_config

    with pytest.raises(ConfigError, match="method 'rso' scores one candidate at a time.*random, hillclimb"):
        resolve_config({"method": {"name": "rso"}, "backend": "ray"})
    with pytest.raises(ConfigError, match="Add --backend ray"):
        resolve_config({"ray_address": "auto"})
    with pytest.raises(ConfigError, match="add --backend ray"):
        train_wann({"ray_address": "auto", "generations": 1, "population": 4})
    with pytest.raises(ConfigError, match="scores on the workers' CPUs; drop --device meta"):
        resolve_config({"backend": "ray", "device": "meta"})

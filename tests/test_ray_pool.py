"""The Ray actor pool: chunks scored on actors equal the in-process scores, also when an actor dies mid-map."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from nograd.evaluate.ray_pool import RayActorPool, WorkerError  # noqa: E402
from nograd.wann import WANN, Genome, evaluate_swingup  # noqa: E402
from nograd.wann.evaluate import swingup_chunk  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def grown_population(generations: int = 12, population: int = 48, seed: int = 5):
    search = WANN(5, 1, population=population, seed=seed)
    for g in range(generations):
        pop = search.ask()
        r = evaluate_swingup(pop, seed=seed, generation=g, reps=1, steps=200).double()
        search.tell(r.mean(dim=(1, 2)), r.mean(dim=2).max(dim=1).values)
    return search.ask()


def chunked(genomes, size, *args):
    return [(genomes[k : k + size], *args) for k in range(0, len(genomes), size)]


def test_chunks_on_actors_equal_one_process(local_ray):
    genomes = grown_population()
    expected = evaluate_swingup(genomes, seed=3, generation=7, reps=2, steps=300, dedupe=False).numpy()
    with RayActorPool(2) as pool:
        parts = pool.map(swingup_chunk, chunked(genomes, 10, 3, 7, 2, (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0), 300))
    assert np.array_equal(np.concatenate(parts), expected)
    assert pool.failures == 0


def test_an_actor_killed_mid_map_loses_no_chunk_and_changes_no_result(local_ray):
    genomes = grown_population()
    args = (1, 4, 40, (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0), 1000)  # 40 reps of 1000 steps: chunks take a while
    expected = evaluate_swingup(genomes, 1, 4, 40, steps=1000, dedupe=False).numpy()
    pool = RayActorPool(2)
    victim = pool.actors[0]
    out: dict[str, list] = {}
    mapper = threading.Thread(
        target=lambda: out.setdefault("parts", pool.map(swingup_chunk, chunked(genomes, 6, *args)))
    )
    mapper.start()
    time.sleep(0.3)  # both actors hold a chunk by now
    ray.kill(victim, no_restart=True)
    mapper.join()
    assert np.array_equal(np.concatenate(out["parts"]), expected)
    assert pool.failures == 1 and pool.workers == 1
    pool.close()


def test_no_actor_left_is_a_clear_error(local_ray):
    pool = RayActorPool(1)
    ray.kill(pool.actors[0], no_restart=True)
    with pytest.raises(WorkerError, match="No Ray actor is left"):
        pool.map(swingup_chunk, chunked(grown_population(2, 8), 4, 0, 0, 1, (1.0,), 50))
    assert pool.workers == 0


def test_a_failing_function_is_not_taken_for_a_lost_worker(local_ray):
    with RayActorPool(1) as pool:
        with pytest.raises(WorkerError, match="Scoring failed"):
            wrong = Genome.fully_connected(3, 1, [True] * 4)  # 3 inputs: swing-up refuses it on the actor
            pool.map(swingup_chunk, [([wrong], 0, 0, 1, (1.0,), 50)])
        assert pool.workers == 1


def test_without_ray_installed_the_error_names_the_extra(monkeypatch):
    import builtins

    from nograd.errors import MissingExtraError

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(MissingExtraError, match=r"nograd\[ray\]"):
        RayActorPool(1)

"""Long-lived Ray actors that score chunks of a population: the distributed half of the evaluation layer.

A ``RayActorPool`` starts its actors once. Each holds the pool's ``payload`` (the task: a dataset, an environment's
settings, a model), put in Ray's object store once and handed to every actor, so a generation ships only its
candidates. ``map(function, chunks)`` runs ``function(payload, *chunk)`` for every chunk on the actors, as many at
once as there are actors, and returns the results in chunk order, so what a caller builds from them does not
depend on which actor ran which chunk (candidates' randomness is addressed by run seed, generation and index, never
by worker).

Fault tolerance: when an actor is lost while it holds a chunk (killed, out of memory, its node lost), the chunk goes
back to the queue and runs again on a live actor; the map completes with the same results. When no actor is left,
``map`` raises ``WorkerError`` so the trainer can write its checkpoint and stop. An exception raised *by the
function* is not a lost worker: it is raised at once as ``WorkerError`` with the actor's message.

Ray is imported lazily and only here (``pip install "nograd[ray]"``). Joining a cluster: ``address`` (or the
``RAY_ADDRESS`` environment variable; ``"auto"`` joins the cluster this machine belongs to); with neither, a local
Ray instance is started with ``num_cpus`` CPUs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from nograd.errors import ConfigError, MissingExtraError, WorkerError

__all__ = ["RayActorPool", "WorkerError", "connect", "import_ray"]

#: Seconds to wait for the actors to start (a cluster that lacks the CPUs never starts them).
READY_TIMEOUT = 120.0


def import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise MissingExtraError(
            'Ray is not installed: pip install "nograd[ray]" to evaluate on Ray (--backend ray).'
        ) from err
    return ray


def connect(address: str | None = None, num_cpus: int | None = None) -> Any:
    """Join the Ray cluster at ``address`` (or ``RAY_ADDRESS``; "auto": the one this machine belongs to), or start a
    local instance with ``num_cpus`` CPUs when neither is given. Does nothing if Ray is already initialised here."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or None
    try:
        if address is None:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = f"the Ray cluster at {address!r}" if address else "a local Ray instance"
        hint = " Start one with `ray start --head`, or leave out --ray-address to start a local one." if address else ""
        raise WorkerError(f"Could not connect to {where}: {str(err).rstrip('.')}.{hint}") from err
    return ray


def _lost_worker_errors(ray: Any) -> tuple[type[BaseException], ...]:
    """Ray's errors for a chunk whose actor, process or node is gone (not an error of the scoring function)."""
    e = ray.exceptions
    return (e.RayActorError, e.WorkerCrashedError, e.NodeDiedError, e.OutOfMemoryError, e.ObjectLostError)


class _Scorer:
    """The actor: holds the payload, runs functions on it with ``threads`` intra-op threads."""

    def __init__(self, payload: Any, threads: int):
        import torch

        torch.set_num_threads(threads)  # the CPUs this actor reserved, no more: more threads would only contend
        self.payload = payload

    def ready(self) -> bool:
        return True

    def run(self, function: Callable[..., Any], *args: Any) -> Any:
        return function(self.payload, *args)


class RayActorPool:
    """Ray actors holding ``payload``; ``map`` scores chunks on them and survives actors dying.

    Args:
        workers: actors to start (default: as many as the cluster's free CPUs hold, ``cpus_per_worker`` each).
        payload: what every scoring call receives first (put in the object store once).
        address: a Ray cluster's address, or "auto"; default: ``RAY_ADDRESS``, else a local instance.
        num_cpus: CPUs of a local instance started here (default: all of this machine's).
        cpus_per_worker: CPUs each actor reserves, and the torch threads it runs (default 1).
        ready_timeout: seconds to wait for the actors to start.
    """

    def __init__(
        self,
        workers: int | None = None,
        payload: Any = None,
        address: str | None = None,
        num_cpus: int | None = None,
        cpus_per_worker: int = 1,
        ready_timeout: float = READY_TIMEOUT,
    ):
        if workers is not None and workers < 1:
            raise ConfigError(f"A Ray pool needs at least one worker. Got {workers}.")
        if cpus_per_worker < 1:
            raise ConfigError(f"cpus_per_worker must be at least 1. Got {cpus_per_worker}.")
        ray = connect(address, num_cpus)
        total = int(ray.cluster_resources().get("CPU", 0))
        if workers is None:
            workers = max(1, int(ray.available_resources().get("CPU", 0)) // cpus_per_worker)
        if workers * cpus_per_worker > total:
            raise ConfigError(
                f"{workers} Ray workers of {cpus_per_worker} CPU(s) each need {workers * cpus_per_worker} CPUs; "
                f"the cluster has {total}. Ask for fewer workers, or add nodes (`ray start --address=...`)."
            )
        self.failures = 0  # chunks that ran again because their actor was lost
        actor = ray.remote(num_cpus=cpus_per_worker, max_restarts=0)(_Scorer)
        payload_ref = ray.put(payload)
        self.actors = [actor.remote(payload_ref, cpus_per_worker) for _ in range(workers)]
        try:
            ray.get([a.ready.remote() for a in self.actors], timeout=ready_timeout)
        except ray.exceptions.GetTimeoutError:
            free = ray.available_resources().get("CPU", 0)
            self.close()
            raise WorkerError(
                f"{workers} Ray actors did not start within {ready_timeout:.0f} s ({free:g} of the cluster's {total} "
                "CPUs are free now): another job holds the CPUs? See `ray status`."
            ) from None
        except _lost_worker_errors(ray) as err:
            self.close()
            raise WorkerError(f"A Ray actor died while starting: {err}") from err

    @property
    def workers(self) -> int:
        return len(self.actors)

    def map(self, function: Callable[..., Any], chunks: Sequence[tuple[Any, ...]]) -> list[Any]:
        """``[function(payload, *chunk) for chunk in chunks]``, run on the actors; results in chunk order."""
        ray = import_ray()
        lost = _lost_worker_errors(ray)
        results: list[Any] = [None] * len(chunks)
        queue = list(range(len(chunks)))
        idle = list(self.actors)
        running: dict[Any, tuple[int, Any]] = {}
        while queue or running:
            while queue and idle:
                index, actor = queue.pop(0), idle.pop(0)
                running[actor.run.remote(function, *chunks[index])] = (index, actor)
            if not running:
                raise WorkerError(
                    f"No Ray actor is left to score {len(queue)} chunk(s) of the population ({self.failures} lost "
                    "with their actors). Check the cluster (`ray status`), then resume the run."
                )
            done, _ = ray.wait(list(running), num_returns=1)
            index, actor = running.pop(done[0])
            try:
                results[index] = ray.get(done[0])
            except lost:
                # the actor is gone with the chunk: drop it, run the chunk again on another one
                self.failures += 1
                self.actors.remove(actor)
                ray.kill(actor)  # an unreachable one may come back: make sure it holds no CPU
                queue.append(index)
                continue
            except ray.exceptions.RayTaskError as err:
                raise WorkerError(f"Scoring failed on a Ray actor: {err}") from err
            idle.append(actor)
        return results

    def close(self) -> None:
        """Stop the actors (the Ray instance stays; ``ray.shutdown()`` ends a local one). Safe to call twice."""
        if not self.actors:
            return
        ray = import_ray()
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []

    def __enter__(self) -> RayActorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

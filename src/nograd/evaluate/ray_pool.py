"""Long-lived Ray actors that score chunks of a population: the distributed half of the evaluation layer.

A ``RayActorPool`` starts ``workers`` actors once. Each holds the pool's ``payload`` (the task: a dataset or an
environment's settings), put in Ray's object store once and handed to every actor, so a generation ships only its
candidates. ``map(function, chunks)`` runs ``function(payload, *chunk)`` for every chunk on the actors, as many at
once as there are actors, and returns the results in chunk order, so what a caller builds from them does not
depend on which actor ran which chunk (candidates' randomness is addressed by run seed, generation and index, never
by worker).

Fault tolerance: when an actor dies while it holds a chunk (killed, out of memory, its node lost), the chunk goes
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

from nograd.errors import MissingExtraError, NogradError

__all__ = ["RayActorPool", "WorkerError"]


class WorkerError(NogradError, RuntimeError):
    """No Ray actor is left to run a chunk, or the scoring function failed on an actor."""


def _ray():
    try:
        import ray
    except ImportError as err:
        raise MissingExtraError('Ray is not installed: pip install "nograd[ray]" to evaluate on Ray.') from err
    return ray


class _Scorer:
    """The actor: holds the payload, runs functions on it."""

    def __init__(self, payload: Any):
        import torch

        torch.set_num_threads(1)  # one CPU per actor: intra-op threads would only contend
        self.payload = payload

    def ready(self) -> bool:
        return True

    def run(self, function: Callable[..., Any], *args: Any) -> Any:
        return function(self.payload, *args)


class RayActorPool:
    """``workers`` Ray actors holding ``payload``; ``map`` scores chunks on them and survives actors dying.

    Args:
        workers: actors to start (each reserves ``cpus_per_worker`` CPUs of the cluster).
        payload: what every scoring call receives first (put in the object store once).
        address: a Ray cluster's address, or "auto"; default: ``RAY_ADDRESS``, else a local instance.
        num_cpus: CPUs of a local instance started here (default: Ray's, all of this machine's).
        cpus_per_worker: CPUs each actor reserves (default 1).
    """

    def __init__(
        self,
        workers: int,
        payload: Any = None,
        address: str | None = None,
        num_cpus: int | None = None,
        cpus_per_worker: float = 1,
    ):
        if workers < 1:
            raise ValueError(f"RayActorPool needs at least one worker. Got {workers}.")
        ray = _ray()
        if not ray.is_initialized():
            address = address or os.environ.get("RAY_ADDRESS") or None
            if address is None:
                ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
        self.failures = 0  # chunks that ran again because their actor died
        actor = ray.remote(num_cpus=cpus_per_worker, max_restarts=0)(_Scorer)
        payload_ref = ray.put(payload)
        self.actors = [actor.remote(payload_ref) for _ in range(workers)]
        ray.get([a.ready.remote() for a in self.actors])

    @property
    def workers(self) -> int:
        return len(self.actors)

    def map(self, function: Callable[..., Any], chunks: Sequence[tuple[Any, ...]]) -> list[Any]:
        """``[function(payload, *chunk) for chunk in chunks]``, run on the actors; results in chunk order."""
        ray = _ray()
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
                    f"No Ray actor is left to score {len(queue)} chunk(s): all {self.failures} failed ones were lost "
                    "with their actors. Check the cluster (`ray status`), then resume the run."
                )
            done, _ = ray.wait(list(running), num_returns=1)
            index, actor = running.pop(done[0])
            try:
                results[index] = ray.get(done[0])
            except ray.exceptions.RayActorError:
                # the actor died with the chunk: drop it, run the chunk again on another one
                self.failures += 1
                self.actors.remove(actor)
                queue.append(index)
                continue
            except ray.exceptions.RayTaskError as err:
                raise WorkerError(f"Scoring failed on a Ray actor: {err}") from err
            idle.append(actor)
        return results

    def close(self) -> None:
        """Stop the actors (the Ray instance stays; ``ray.shutdown()`` ends a local one)."""
        ray = _ray()
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []

    def __enter__(self) -> RayActorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

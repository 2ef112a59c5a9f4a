"""Tuning the individual connection weights of one swing-up genome: batched rollouts of many weight vectors, and
CMA-ES over them.

The WANN paper's fourth column ("tuned weights", 932 ± 6 on swing-up) trains every connection's weight of the
champion's topology. Here that is CMA-ES (Hansen's (μ/μ_w, λ)-CMA-ES, as in his tutorial "The CMA Evolution
Strategy", 2016, with the default parameters) started from the tuned shared weight (every connection = the best
shared weight). The initial step decides what it finds: WANN networks (step, sin(πx) and Gaussian nodes, a
shared weight tuned to a narrow optimum) are so sensitive that at sigma 0.5 no Gaussian step from our champions'
start beats it and CMA-ES drifts about in noise, while on the paper's champion sigma 0.5 finds a far better region
than small steps do. So by default the tuner runs CMA-ES once per initial step of ``SIGMAS`` (0.5, 0.1, 0.02;
``generations`` each), each run from the best point so far, and keeps a run's pick only if it beats that point on
the selection episodes. Each generation scores all λ weight vectors on the same ``reps`` start
states (common random numbers, drawn fresh each generation and addressed by (seed, 'swingup-tune', generation,
rep; runs after the first use 'swingup-tune-<run>'); at the end of a run the means and the best vectors of its
last five generations are scored again on ``select_reps`` separate episodes (address 'swingup-select', the same
for every run and for the starting point) and the best of those is the run's pick, so the pick is not the
luckiest draw of one generation. 128 selection episodes by default: finalists differ by less than one episode's
spread (returns vary by 50-90 between starts), so with 32 the best of a dozen finalists could beat the start by
chance; on the authors' search's champion (seed 0) such a pick measured 460 against the start's 515. The caller
measures the final point on its own trials.

``rollout_weights`` runs one genome with a population of weight vectors. By default (``backend="auto"``, where numba
is installed) that is the compiled swing-up kernel of ``nograd.wann.swingup_kernel`` with every connection's own
weight (``rollouts(..., edge_weights=...)``): each episode runs to its end in one compiled loop, the K × R episodes
in blocks on ``threads`` threads, so a generation costs a fraction of what stepping the batch as tensor ops costs
and tuning a grown champion with the defaults takes seconds, not minutes. ``backend="torch"`` (and the fallback
without numba) is the batched tensor path: ``GenomeModule.matrices`` turns [K, C] weights into per-layer [K,
earlier, layer] matrices once, and each time step is one batched matrix product per layer plus the cart-pole
physics for all K × R episodes. The two agree up to rounding. The CMA-ES's own small matrices are worked on one
torch thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nograd.envs.swingup import MAX_STEPS, START_MEAN, START_STD, BatchedSwingUp
from nograd.seeding import address_seed, addressed_generator
from nograd.wann.evaluate import resolve_backend
from nograd.wann.export import GenomeModule, active_connections
from nograd.wann.genome import Genome

__all__ = ["rollout_weights", "CMAES", "tune_swingup_weights", "addressed_starts", "SIGMAS"]

SIGMAS = (0.5, 0.1, 0.02)
"""The default initial steps of the tuner's successive CMA-ES runs."""


def addressed_starts(seed: int, key: str, generation: int, reps: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """[reps, 4] swing-up start states drawn as ``swingup_initial_states`` draws them, under address ``key``."""
    states = torch.empty(reps, 4, dtype=torch.float64)
    for r in range(reps):
        noise = torch.randn(4, generator=addressed_generator(seed, key, generation, r), dtype=torch.float64)
        states[r] = torch.tensor(START_MEAN, dtype=torch.float64) + START_STD * noise
    return states.to(dtype)


def rollout_weights(
    genome: Genome | GenomeModule,
    weights: Tensor,
    states: Tensor,
    steps: int = MAX_STEPS,
    dtype: torch.dtype = torch.float64,
    early_stop: bool = True,
    backend: str = "auto",
    threads: int | None = None,
) -> Tensor:
    """Swing-up returns [K, R] of the genome with each of the weight vectors ``weights`` [K, C] (C = enabled
    connections, in genome order) from start states ``states``: [R, 4] (every vector from every start) or
    [K, R, 4] (each vector its own starts), in ``dtype``. Episode (k, r) returns what ``evaluate_plain(genome,
    1.0, start, conn_weights=dict(zip(connections, weights[k])))`` returns, up to rounding.

    ``backend`` as in ``evaluate_swingup`` (``resolve_backend``): "numba" runs every episode to its end in the
    compiled kernel of ``nograd.wann.swingup_kernel`` with per-connection weights, on ``threads`` threads (default
    ``torch.get_num_threads()``; the result does not depend on it), and ignores ``early_stop``; "torch" steps all
    K × R episodes together as batched matrix products (``early_stop``: stop once every episode has ended,
    checked every 64 steps); "auto" (default): numba where it is installed and ``dtype`` is float32 or float64.
    The two agree up to rounding, not bit for bit."""
    module = genome if isinstance(genome, GenomeModule) else None
    if module is None:
        genome.validate()
    connections = module.connections if module is not None else active_connections(genome)
    weights = torch.as_tensor(weights).to(dtype)
    if weights.ndim != 2 or weights.shape[1] != len(connections):
        raise ValueError(
            f"weights must be [K, {len(connections)}] (one per enabled connection). Got {tuple(weights.shape)}."
        )
    source = module.genome if module is not None else genome
    if (source.n_inputs, source.n_outputs) != (5, 1):
        raise ValueError("Swing-up networks have 5 inputs and 1 output.")
    K = weights.shape[0]
    states = torch.as_tensor(states).detach().to(dtype)
    if states.ndim == 2:
        states = states.unsqueeze(0).expand(K, *states.shape)
    if states.ndim != 3 or states.shape[0] != K or states.shape[2] != 4:
        raise ValueError(f"states must be [R, 4] or [{K}, R, 4]. Got {tuple(states.shape)}.")
    if resolve_backend(backend, dtype) == "numba":
        from nograd.wann import swingup_kernel

        np_dtype = np.float32 if dtype == torch.float32 else np.float64
        threads = torch.get_num_threads() if threads is None else threads
        compiled = swingup_kernel.compile_population([source])
        ones = np.ones(K, dtype=np_dtype)  # no shared weight: the connections' own weights only
        out = swingup_kernel.rollouts(
            compiled, ones, states.numpy(), steps, np_dtype, threads, edge_weights=weights.detach().numpy()
        )
        return torch.from_numpy(out[0])
    module = module if module is not None else GenomeModule(genome, dtype=dtype)
    R = states.shape[1]
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: intra-op threads only contend
    try:
        with torch.no_grad():
            matrices = module.matrices(weights)
            values = module.new_values(K, R, dtype=dtype)
            env = BatchedSwingUp(states.contiguous())
            inputs, obs = values[..., 1:6], env.obs.permute(1, 2, 0)
            for t in range(steps):
                inputs.copy_(obs)
                action = module.fill(values, matrices)[..., 0]
                env.step(action)
                if early_stop and t % 64 == 63 and bool(env.dead.all()):
                    break
            return env.returns.clone()
    finally:
        torch.set_num_threads(torch_threads)


class CMAES:
    """(μ/μ_w, λ)-CMA-ES maximising a fitness, with ask/tell; all draws from one ``torch.Generator``."""

    def __init__(self, mean: Tensor, sigma: float, population: int | None = None, seed: int = 0):
        self.mean = torch.as_tensor(mean, dtype=torch.float64).clone()
        n = self.n = self.mean.numel()
        if n < 1:
            raise ValueError("CMA-ES needs at least one dimension.")
        self.sigma = float(sigma)
        self.lam = population or 4 + int(3 * math.log(n))
        if self.lam < 2:
            raise ValueError("CMA-ES needs a population of at least 2.")
        self.mu = self.lam // 2
        w = math.log(self.mu + 0.5) - torch.log(torch.arange(1, self.mu + 1, dtype=torch.float64))
        self.weights = w / w.sum()
        self.mueff = float(1.0 / (self.weights**2).sum())
        mueff = self.mueff
        self.cc = (4 + mueff / n) / (n + 4 + 2 * mueff / n)
        self.cs = (mueff + 2) / (n + mueff + 5)
        self.c1 = 2 / ((n + 1.3) ** 2 + mueff)
        self.cmu = min(1 - self.c1, 2 * (mueff - 2 + 1 / mueff) / ((n + 2) ** 2 + mueff))
        self.damps = 1 + 2 * max(0.0, math.sqrt((mueff - 1) / (n + 1)) - 1) + self.cs
        self.chi_n = math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n))
        self.pc = torch.zeros(n, dtype=torch.float64)
        self.ps = torch.zeros(n, dtype=torch.float64)
        self.C = torch.eye(n, dtype=torch.float64)
        self.B = torch.eye(n, dtype=torch.float64)
        self.D = torch.ones(n, dtype=torch.float64)
        self.generation = 0
        self.rng = torch.Generator().manual_seed(seed)

    def ask(self) -> Tensor:
        """[λ, n] candidates: mean + sigma B D z with z ~ N(0, I)."""
        z = torch.randn(self.lam, self.n, generator=self.rng, dtype=torch.float64)
        return self.mean + self.sigma * (z * self.D) @ self.B.T

    def tell(self, candidates: Tensor, fitness: Tensor) -> None:
        """Update from the candidates of ``ask`` and their fitness (higher is better; NaN is worst)."""
        fitness = torch.nan_to_num(torch.as_tensor(fitness, dtype=torch.float64), nan=-math.inf)
        order = torch.argsort(fitness, descending=True, stable=True)[: self.mu]
        y = (candidates[order].to(torch.float64) - self.mean) / self.sigma  # [mu, n]
        y_w = self.weights @ y
        self.mean = self.mean + self.sigma * y_w
        inv_sqrt_c = self.B @ torch.diag(1 / self.D) @ self.B.T
        cs, cc, mueff = self.cs, self.cc, self.mueff
        self.ps = (1 - cs) * self.ps + math.sqrt(cs * (2 - cs) * mueff) * (inv_sqrt_c @ y_w)
        self.generation += 1
        ps_norm = float(self.ps.norm())
        hsig = ps_norm / math.sqrt(1 - (1 - cs) ** (2 * self.generation)) / self.chi_n < 1.4 + 2 / (self.n + 1)
        self.pc = (1 - cc) * self.pc + (math.sqrt(cc * (2 - cc) * mueff) * y_w if hsig else 0.0)
        rank_mu = (y.T * self.weights) @ y
        decay = 1 - self.c1 - self.cmu + (0.0 if hsig else self.c1 * cc * (2 - cc))
        self.C = decay * self.C + self.c1 * torch.outer(self.pc, self.pc) + self.cmu * rank_mu
        self.sigma *= math.exp((cs / self.damps) * (ps_norm / self.chi_n - 1))
        self.C = (self.C + self.C.T) / 2
        eigenvalues, self.B = torch.linalg.eigh(self.C)
        self.D = eigenvalues.clamp(min=1e-20).sqrt()


def tune_swingup_weights(
    genome: Genome,
    start_weight: float,
    generations: int = 100,
    population: int = 32,
    reps: int = 8,
    sigma: float | tuple[float, ...] | list[float] = SIGMAS,
    select_reps: int = 128,
    seed: int = 0,
    steps: int = MAX_STEPS,
    dtype: torch.dtype = torch.float32,
    callback: Callable[[int, float, float], None] | None = None,
    backend: str = "auto",
    threads: int | None = None,
) -> dict[str, Any]:
    """CMA-ES over the genome's connection weights from all = ``start_weight`` (see the module docstring): one
    run of ``generations`` per initial step in ``sigma``, each from the pick of the runs before.

    Returns {'weights': the chosen [C] vector as a list, 'selection_return': its mean over the selection
    episodes, 'start_selection_return': the starting point's, 'history': per generation (best, mean) training
    return, 'phases': per run {'sigma', 'start_selection_return', 'selection_return', 'pick'} (pick 0: the run's
    start was kept), 'episodes': every episode run (generations and selections), 'connections': [(src, dst),
    ...]}. ``callback(generation, best, mean)`` is called after each generation (numbered across the runs).
    ``backend`` and ``threads`` (default ``torch.get_num_threads()``) are ``rollout_weights``'s; the CMA-ES's
    small matrices are worked on one torch thread meanwhile (more threads only contend: on two busy cores a
    37-dimensional ask and tell took 30 ms on two threads, 1 ms on one).
    """
    torch_threads = torch.get_num_threads()
    threads = torch_threads if threads is None else threads
    torch.set_num_threads(1)  # for the CMA-ES's small matrices; the numba rollouts run on ``threads``
    try:
        sigmas = [float(sigma)] if isinstance(sigma, (int, float)) else [float(s) for s in sigma]
        if not sigmas or not all(s > 0 for s in sigmas):
            raise ValueError(f"sigma must be a positive number or a non-empty list of them. Got {sigma!r}.")
        module = GenomeModule(genome, dtype=dtype)
        C = len(module.connections)
        x = torch.full((C,), float(start_weight), dtype=torch.float64)
        if C == 0:
            return {"weights": [], "selection_return": math.nan, "start_selection_return": math.nan, "history": []}
        select_starts = addressed_starts(seed, "swingup-select", 0, select_reps, dtype)

        def select(pool: Tensor) -> Tensor:
            returns = rollout_weights(module, pool, select_starts, steps, dtype, backend=backend, threads=threads)
            return returns.to(torch.float64).mean(dim=1)

        history: list[tuple[float, float]] = []
        phases: list[dict[str, Any]] = []
        x_return = float(select(x.view(1, -1))[0])
        start_return = x_return
        episodes = select_reps
        for p, s in enumerate(sigmas):
            es = CMAES(x, s, population, seed=address_seed(seed, "cmaes", p) if p else address_seed(seed, "cmaes"))
            finalists = []
            for g in range(generations):
                if g >= generations - 5 and g > 0:
                    finalists.append(es.mean.clone())
                candidates = es.ask()
                key = "swingup-tune" if p == 0 else f"swingup-tune-{p}"
                starts = addressed_starts(seed, key, g, reps, dtype)
                returns = rollout_weights(module, candidates, starts, steps, dtype, backend=backend, threads=threads)
                returns = returns.to(torch.float64).mean(dim=1)
                fitness = torch.nan_to_num(returns, nan=-math.inf)
                best = int(fitness.argmax())
                history.append((float(fitness[best]), float(returns.nanmean())))
                if g >= generations - 5:
                    finalists.append(candidates[best])
                es.tell(candidates, fitness)
                episodes += es.lam * reps
                if callback is not None:
                    callback(len(history) - 1, *history[-1])
            finalists.append(es.mean.clone())
            selection = torch.nan_to_num(select(torch.stack(finalists)), nan=-math.inf)
            episodes += len(finalists) * select_reps
            pick = int(selection.argmax())
            phase = {"sigma": s, "start_selection_return": x_return, "selection_return": x_return, "pick": 0}
            if float(selection[pick]) > x_return:  # elitist: a run's pick replaces its start only if it beats it
                x, x_return = finalists[pick], float(selection[pick])
                phase.update(selection_return=x_return, pick=pick + 1)
            phases.append(phase)
        return {
            "weights": x.tolist(),
            "selection_return": x_return,
            "start_selection_return": start_return,
            "history": history,
            "phases": phases,
            "episodes": episodes,
            "connections": [list(c) for c in module.connections],
        }
    finally:
        torch.set_num_threads(torch_threads)

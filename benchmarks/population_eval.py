"""Population evaluation: vectorised (one batched pass) against a Python loop over candidates, side by side.

(a) the addition network on its training set, (b) an MLP 784-32-10 on a batch of 1000 examples; λ = 64.
Both as evaluations/second and as a fraction of this machine's measured fp32 matmul rate.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from _report import matmul_gflops, median_time, write_section
from nograd.evaluate import SerialEvaluator, VectorizedEvaluator
from nograd.models import MLP
from nograd.tasks import AdditionTask, ClassificationTask


class RandomImages(ClassificationTask):
    """MNIST-shaped random data: the speed of evaluation does not depend on the pixels."""

    name = "random-images"
    summary = "benchmark stand-in"
    num_outputs = 10

    def __init__(self, n: int = 1000):
        super().__init__(seed=0)
        g = torch.Generator().manual_seed(0)
        x, y = torch.rand(n, 784, generator=g), torch.randint(0, 10, (n,), generator=g)
        self._set_data(x, y, x[:10], y[:10])


def mlp_flops(widths: list[int], batch: int) -> int:
    return sum(2 * batch * a * b for a, b in zip(widths[:-1], widths[1:]))


def measure(task, widths, population, repeats, rounds):
    torch.manual_seed(0)
    model = MLP(widths[0], widths[-1], hidden=widths[1:-1])
    serial, vectorized = SerialEvaluator(task, model), VectorizedEvaluator(task, model)
    candidates = serial.layout.flatten(model.parameters()) + 0.01 * torch.randn(population, serial.layout.numel)
    torch.testing.assert_close(
        serial.evaluate_population(candidates), vectorized.evaluate_population(candidates), rtol=1e-5, atol=1e-7
    )
    loop_t, vec_t, peak = [], [], []
    for _ in range(rounds):  # interleaved, so drifts in machine speed hit both alike
        peak.append(matmul_gflops())
        loop_t.append(median_time(lambda: serial.evaluate_population(candidates), repeats))
        vec_t.append(median_time(lambda: vectorized.evaluate_population(candidates), repeats))
    flops = population * mlp_flops(widths, len(task.train_batch(0)[0]))
    loop, vec, peak_gf = statistics.median(loop_t), statistics.median(vec_t), statistics.median(peak)
    return {
        "loop_eps": population / loop,
        "vec_eps": population / vec,
        "speedup": loop / vec,
        "loop_frac": flops / loop / 1e9 / peak_gf,
        "vec_frac": flops / vec / 1e9 / peak_gf,
        "vec_gflops": flops / vec / 1e9,
        "peak": peak_gf,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--population", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cases = [
        ("addition network 2-2-2-1, 1000 training pairs", AdditionTask(train_size=1000), [2, 2, 2, 1], 30),
        ("MLP 784-32-10, batch 1000", RandomImages(1000), [784, 32, 10], 10),
    ]
    rows = []
    for label, task, widths, repeats in cases:
        r = measure(task, widths, args.population, repeats, args.rounds)
        print(label, {k: round(v, 3) for k, v in r.items()})
        rows.append(
            f"| {label} | {r['loop_eps']:,.0f} | {r['vec_eps']:,.0f} | **{r['speedup']:.1f}×** | "
            f"{r['loop_frac']:.1%} | **{r['vec_frac']:.1%}** ({r['vec_gflops']:.0f} GFLOP/s) |"
        )
    body = f"""## Population evaluation: vectorised vs a Python loop (λ = {args.population})

One batched pass (`VectorizedEvaluator`; for these plain MLPs its written-out batched forward: the first layer as
one GEMM over all candidates' stacked weights, later layers as batched matmuls; other models go through
`torch.func.vmap`) against a Python loop that loads each candidate into the model and runs it
(`SerialEvaluator`), on the same candidates, interleaved over {args.rounds} rounds; medians.
Fraction of peak = the forward pass's matmul FLOPs per second over this machine's measured fp32 matmul rate
({r["peak"]:.0f} GFLOP/s, 2048×2048, measured in the same rounds).

| population of | loop evals/s | vectorised evals/s | speed-up | loop, of peak | vectorised, of peak |
|---|---|---|---|---|---|
{chr(10).join(rows)}
"""
    write_section("population-eval", body)


if __name__ == "__main__":
    main()

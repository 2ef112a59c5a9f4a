"""RSO on the paper's CIFAR-10 net: it builds (56,560 weights), and one whole cycle runs on a small subset.

One RSO cycle visits every weight and BatchNorm parameter once, from the output to the input, scoring w, w+Δ, w−Δ
on a fresh minibatch each. The net is residual, so nograd's fast path resumes each candidate at the searched stage
from the cached outputs of the stages before it (``StagePrefixes``). Per tensor, a few weights are also timed with
the naive evaluator (the whole network for each value) to give the side-by-side ratio.

Real CIFAR-10 is used when its files are found (``--data-dir``, ``$NOGRAD_DATA``, the cache); otherwise the cycle
runs on random images of CIFAR-10's shape and the section says so (it then shows the cycle runs and what it costs,
not what it learns).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from _report import write_section
from nograd.data import find_split
from nograd.evaluate import SerialEvaluator, VectorizedEvaluator
from nograd.models import build_model, count_weights
from nograd.models.batchnorm import recalibrate_batchnorm
from nograd.optim import RSO
from nograd.runtime import tune_allocator
from nograd.tasks import ClassificationTask, build_task


class RandomCifarShaped(ClassificationTask):
    """Random 3×32×32 images with random labels: CIFAR-10's shape when its files are not on the machine."""

    name = "random-cifar-shaped"
    summary = "random images of CIFAR-10's shape"
    num_outputs = 10

    def __init__(self, train: int, test: int, batch_size: int, seed: int = 0):
        super().__init__(seed=seed, batch_size=batch_size, reshuffle=False)
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(train + test, 3, 32, 32, generator=g)
        y = torch.randint(0, 10, (train + test,), generator=g)
        self._set_data(x[:train], y[:train], x[train:], y[train:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-subset", type=int, default=256)
    parser.add_argument("--test-subset", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--naive-sample", type=int, default=3, help="weights per tensor timed with the naive path")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    tune_allocator()
    real = find_split("cifar10", "train", args.data_dir) is not None
    if real:
        task = build_task(
            "cifar10",
            seed=args.seed,
            data_dir=args.data_dir,
            train_subset=args.train_subset,
            test_subset=args.test_subset,
            batch_size=args.batch_size,
            reshuffle=False,
        )
    else:
        task = RandomCifarShaped(args.train_subset, args.test_subset, args.batch_size, args.seed)
    task.use_channels_last()
    torch.manual_seed(args.seed)
    model = build_model("rso-cifar10", (3, 32, 32), 10).to(memory_format=torch.channels_last)
    weights, bn_params = count_weights(model)
    assert weights == 56_560, weights
    for p in model.parameters():
        p.requires_grad_(False)
    naive_model = copy.deepcopy(model)
    evaluator, naive = VectorizedEvaluator(task, model), SerialEvaluator(task, naive_model)
    opt = RSO(model.parameters(), cycles=1, seed=args.seed)
    naive_opt = RSO(naive_model.parameters(), cycles=1, seed=args.seed)
    names = {id(p): n for n, p in model.named_parameters()}
    rows = []
    start = time.perf_counter()
    step = 0
    for t_index, tensor in enumerate(opt.order):
        size = opt._sizes[t_index]
        times = []
        for _ in range(size):
            evaluator.set_step(step)
            t = time.perf_counter()
            opt.step(evaluator)
            times.append(time.perf_counter() - t)
            step += 1
        # the naive path on the first few weights of this tensor, from the same weights and batches
        naive_model.load_state_dict(model.state_dict())
        offset = opt._offsets[t_index]
        naive_times = []
        for k in range(min(args.naive_sample, size)):
            naive_opt._global["weight"] = offset + k
            naive.set_step(offset + k)
            t = time.perf_counter()
            naive_opt.step(naive)
            naive_times.append(time.perf_counter() - t)
        rows.append((names[id(tensor)], size, statistics.median(naive_times), sum(times) / size))
        print(
            f"{rows[-1][0]:30s} {size:6d}  naive {rows[-1][2] * 1e3:8.2f}  nograd {rows[-1][3] * 1e3:8.2f} ms/weight",
            flush=True,
        )
    cycle = time.perf_counter() - start
    accepted = opt.state_dict()["state"][0]["accepted"]
    recalibrate_batchnorm(model, task.calibration_batches())
    metrics = task.metrics(model)
    naive_cycle = sum(size * t for _, size, t, _ in rows)
    table = "\n".join(
        f"| `{name}` | {size:,} | {n * 1e3:.1f} | {f * 1e3:.2f} | {n / f:.1f}× |" for name, size, n, f in rows
    )
    data = (
        f"CIFAR-10, the first {args.train_subset} training images (test: {args.test_subset})"
        if real
        else f"**random images of CIFAR-10's shape** ({args.train_subset} for training, random labels): the "
        "CIFAR-10 files are not on this machine and it has no network, so this shows that the cycle runs and what "
        "it costs, not what it learns"
    )
    body = f"""## RSO: one cycle of the paper's CIFAR-10 net on a small subset

The paper's residual CIFAR-10 net (`rso-cifar10`): {weights:,} weights (as the paper) + {bn_params:,} BatchNorm
parameters. Data: {data}. Minibatch {args.batch_size}, one cycle = every weight once
({opt.weights_per_cycle:,} steps, output to input). *nograd*: each candidate resumes at the searched stage from the
cached outputs of the earlier stages (`StagePrefixes`); *naive*: the whole network for each of w, w+Δ, w−Δ, timed
on the first {args.naive_sample} weights of each tensor from the same weights and batches.

| tensor (visiting order) | weights | naive ms/weight | nograd ms/weight | speed-up |
|---|---|---|---|---|
{table}
| **one cycle** | {opt.weights_per_cycle:,} | **{naive_cycle / 60:.1f} min** (extrapolated) | \
**{cycle / 60:.1f} min** (measured) | **{naive_cycle / cycle:.1f}×** |

Accepted updates in the cycle: {accepted:,} of {opt.weights_per_cycle:,}. After the cycle (BatchNorm statistics
re-estimated): train loss {metrics["train_loss"]:.4f}, train accuracy {100 * metrics["train_acc"]:.2f}%, test
accuracy {100 * metrics["test_acc"]:.2f}%.
"""
    write_section("rso-cifar10", body)


if __name__ == "__main__":
    main()

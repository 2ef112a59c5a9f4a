"""RSO speed on the paper's MNIST net: naive (full network for each of w, w+Δ, w−Δ) vs nograd's RSO.

Both run the same optimizer (``nograd.optim.RSO``) on the same seed and minibatches; they differ only in the
evaluator: ``SerialEvaluator`` runs the whole network once per value, ``VectorizedEvaluator`` runs only the part
of the network the weight reaches. Per tensor, a sample of consecutive weights is timed with each, interleaved;
the cycle time is extrapolated from the per-weight medians and the tensor sizes. Also measured: one forward pass
of the tail (the searched layer to the loss) per weight, the floor for a method that must see the loss.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from _report import write_section
from nograd.evaluate import SerialEvaluator, VectorizedEvaluator
from nograd.models import build_model
from nograd.optim import RSO
from nograd.runtime import tune_allocator
from nograd.tasks import build_task


def time_weights(evaluator, model, opt, start: int, count: int) -> tuple[list[float], list[int]]:
    """Run ``count`` RSO steps from weight ``start``; per-step seconds and the tensor each step changed."""
    opt._global["weight"] = start
    times, accepted = [], []
    for k in range(start, start + count):
        evaluator.set_step(k)
        before = opt._global["accepted"]
        t = time.perf_counter()
        opt.step(evaluator)
        times.append(time.perf_counter() - t)
        accepted.append(opt._global["accepted"] - before)
    return times, accepted


def tail_seconds(model, task, tensor_name: str, step: int, repeats: int = 5) -> float:
    """One forward from the input of the layer that owns ``tensor_name`` to the loss."""
    layer = tensor_name.split(".")[0]
    names = [n for n, _ in model.named_children()]
    x, y = task.train_batch(step)
    with torch.no_grad():
        for name, module in model.named_children():
            if name == layer:
                break
            x = module(x)
        tail = torch.nn.Sequential(*[m for n, m in model.named_children()][names.index(layer) :])
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            task.loss(tail(x), y)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(task, sample: int, seed: int) -> dict:
    torch.manual_seed(seed)
    base = build_model("rso-mnist", task.input_shape, 10).to(memory_format=torch.channels_last)
    for p in base.parameters():
        p.requires_grad_(False)
    models = {"naive": base, "nograd": copy.deepcopy(base)}
    evaluators = {
        "naive": SerialEvaluator(task, models["naive"]),
        "nograd": VectorizedEvaluator(task, models["nograd"]),
    }
    opts = {k: RSO(m.parameters(), cycles=5, seed=seed) for k, m in models.items()}
    names = {id(p): n for n, p in base.named_parameters()}
    order = [names[id(t)] for t in opts["naive"].order]
    batches = len(task.x_train) // task.batch_size
    rows, same, compared = [], 0, 0
    for t_index, name in enumerate(order):
        size, start = opts["naive"]._sizes[t_index], opts["naive"]._offsets[t_index]
        # naive: every weight costs the same; a sample of them.
        naive_times, naive_dec = time_weights(
            evaluators["naive"], models["naive"], opts["naive"], start, min(sample, size)
        )
        # nograd: the first visit of each minibatch builds its caches; time all of those, then a steady sample.
        warm = min(size, batches)
        count = min(size, warm + sample)
        fast_times, fast_dec = time_weights(evaluators["nograd"], models["nograd"], opts["nograd"], start, count)
        steady = statistics.median(fast_times[warm:]) if count > warm else 0.0
        fast_total = sum(fast_times[:warm]) + steady * (size - warm)
        same += sum(a == b for a, b in zip(naive_dec, fast_dec))
        compared += len(naive_dec)
        # keep the two models identical for the next tensor: replay nograd's extra steps on the naive one
        time_weights(
            evaluators["naive"], models["naive"], opts["naive"], start + len(naive_dec), count - len(naive_dec)
        )
        tail = tail_seconds(models["nograd"], task, name, start)
        rows.append((name, size, statistics.median(naive_times), fast_total / size, tail))
        print(
            f"{name:14s} {size:5d} naive {rows[-1][2] * 1e3:8.2f} ms  nograd {rows[-1][3] * 1e3:7.2f} ms/weight "
            f"(steady {steady * 1e3:.2f})  tail {tail * 1e3:7.2f} ms",
            flush=True,
        )
    return {"rows": rows, "same": same, "compared": compared}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--sample", type=int, default=12, help="weights timed per tensor and implementation")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    tune_allocator()
    sections = []
    for batch in args.batches:
        task = build_task("fashion-mnist", seed=0, data_dir=args.data_dir, batch_size=batch, reshuffle=False)
        task.use_channels_last()
        result = measure(task, args.sample, seed=0)
        naive = sum(size * t for _, size, t, _, _ in result["rows"])
        fast = sum(size * t for _, size, _, t, _ in result["rows"])
        tail = sum(size * t for _, size, _, _, t in result["rows"])
        table = "\n".join(
            f"| `{name}` | {size:,} | {n * 1e3:.1f} | {f * 1e3:.2f} | {n / f:.1f}× | {tl * 1e3:.2f} |"
            for name, size, n, f, tl in result["rows"]
        )
        sections.append(f"""### Minibatch {batch}

| tensor (visiting order) | weights | naive ms/weight | nograd ms/weight | speed-up | one tail forward, ms |
|---|---|---|---|---|---|
{table}
| **one cycle (extrapolated)** | 12,016 | **{naive / 60:.1f} min** | **{fast / 60:.1f} min** | \
**{naive / fast:.1f}×** | {tail / 60:.1f} min |

nograd's cycle costs {fast / tail:.2f}× one tail forward per weight. Same accept decisions on
{result["same"]}/{result["compared"]} timed weights (float32; both start from the same weights, seed and batches).
""")
    body = f"""## RSO: one cycle of the paper's MNIST net, naive vs nograd

Fashion-MNIST (28×28) through the paper's MNIST net (six 16-channel convs with BatchNorm, 11,824 weights + 192
BatchNorm parameters). *Naive*: the whole network for each of w, w+Δ, w−Δ (`SerialEvaluator`). *nograd*
(`VectorizedEvaluator`): per minibatch the searched layer's input and output and the next conv's input and output
are cached; each value changes one output channel (one shifted input plane times Δ), the channel-wise layers run on
that channel alone, the next conv's output moves by a one-input-channel convolution, and only the layers after it
run in full, once per value. Caches follow accepted changes channel by channel (or in one pass when many
channels moved since the minibatch was last seen).
Both in one process with the same settings (glibc allocator thresholds raised, channels-last model and data, as
`nograd train` runs). Per tensor: naive, the median of {args.sample} weights × the tensor's size; nograd, every
weight until each minibatch has been seen once (those build the caches: one prefix forward per minibatch and
tensor) plus the median of the next {args.sample} × the remaining weights. "One tail forward" is one forward pass
from the searched layer's input to the loss at this batch size: the cost floor if each weight's three values were
scored together in the time of one pass.

{chr(10).join(sections)}"""
    write_section("rso-speed", body)


if __name__ == "__main__":
    main()

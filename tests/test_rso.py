import math

import pytest
import torch

from nograd.errors import ConfigError
from nograd.evaluate import SerialEvaluator, VectorizedEvaluator
from nograd.models import build_model, count_weights
from nograd.optim import RSO
from nograd.optim.rso import rso_sigma
from nograd.tasks import ClassificationTask


class RandomImages(ClassificationTask):
    name = "random-images"
    summary = "test data"
    num_outputs = 10

    def __init__(self, n=48, size=8, batch_size=16, dtype=torch.float64):
        super().__init__(seed=0, batch_size=batch_size, reshuffle=False)
        g = torch.Generator().manual_seed(0)
        x = torch.randn(n, 1, size, size, generator=g, dtype=dtype)
        y = torch.randint(0, 10, (n,), generator=g)
        self._set_data(x, y, x, y)


def _run_rso(evaluator_cls, weights: int, channels: int = 4, seed: int = 0):
    task = RandomImages()
    torch.manual_seed(seed)
    model = build_model("rso-mnist", (1, 8, 8), 10, channels=channels).double()
    for p in model.parameters():
        p.requires_grad_(False)
    evaluator = evaluator_cls(task, model)
    opt = RSO(model.parameters(), cycles=2, seed=seed)
    decisions = []
    for step in range(weights):
        evaluator.set_step(step)
        before = [p.clone() for p in model.parameters()]
        opt.step(evaluator)
        changed = [not torch.equal(a, b) for a, b in zip(before, model.parameters())]
        decisions.append((changed.index(True) if any(changed) else None, opt.state_dict()["state"][0]["accepted"]))
    return model, decisions


def test_incremental_rso_makes_the_naive_decisions():
    """The fast path (only the reached part of the network runs) accepts exactly what the naive one does, which
    runs the full network for each of w, w+Δ, w−Δ: in float64, over a whole cycle of a 4-channel paper net."""
    weights = count_weights(build_model("rso-mnist", (1, 8, 8), 10, channels=4))
    total = sum(weights)
    naive_model, naive = _run_rso(SerialEvaluator, total)
    fast_model, fast = _run_rso(VectorizedEvaluator, total)
    assert naive == fast
    assert naive[-1][1] > 50  # a real search: many weights moved
    for a, b in zip(naive_model.parameters(), fast_model.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("channels_last", [False, True])
def test_incremental_losses_match_full_forward_on_the_paper_net(channels_last):
    task = RandomImages(n=32, size=28, batch_size=16)
    torch.manual_seed(1)
    model = build_model("rso-mnist", (1, 28, 28), 10).double()
    if channels_last:  # as the trainer runs conv nets on the CPU
        model = model.to(memory_format=torch.channels_last)
        task.use_channels_last()
    naive, fast = SerialEvaluator(task, model), VectorizedEvaluator(task, model)
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for step, (name, p) in enumerate(reversed(list(model.named_parameters()))):
            for ev in (naive, fast):
                ev.set_step(step)
            flat = int(torch.randint(p.numel(), (1,), generator=g))
            index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), p.shape))
            values = p[index] + torch.tensor([0.0, 0.5, -0.5], dtype=p.dtype)
            torch.testing.assert_close(
                fast.evaluate_coordinate(p, index, values),
                naive.evaluate_coordinate(p, index, values),
                rtol=1e-12,
                atol=1e-12,
                msg=name,
            )


def test_visiting_order_sigma_and_annealing():
    model = build_model("rso-mnist", (1, 8, 8), 10, channels=4)
    opt = RSO(model.parameters(), cycles=4)
    names = [n for n, _ in model.named_parameters()]
    order = [names[[id(p) for p in model.parameters()].index(id(t))] for t in opt.order]
    assert order[:4] == ["fc.weight", "bn6.bias", "bn6.weight", "conv6.weight"] and order[-1] == "conv1.weight"
    conv6 = model.conv6.weight
    assert rso_sigma(conv6) == pytest.approx(math.sqrt(2 / (4 * 9)))
    assert rso_sigma(model.bn6.weight) == 0.167
    assert opt.sigma(3, 0) == pytest.approx(rso_sigma(conv6))  # cycle 0: σ
    assert opt.sigma(3, 3) == pytest.approx(rso_sigma(conv6) * (0.1 + 0.9 * 1 / 4))  # last cycle
    assert opt.position(0) == (0, 0, 0) and opt.position(opt.weights_per_cycle + 41) == (1, 1, 1)


def test_ties_keep_the_weight_and_decay_applies():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False))
    opt = RSO(model.parameters(), cycles=1, weight_decay=0.5)
    w0 = float(model[0].weight[0, 0].detach())
    opt.step(lambda: 1.0)  # every value ties: w kept, decayed
    assert float(model[0].weight[0, 0].detach()) == pytest.approx(w0 * 0.5)
    assert opt.state_dict()["state"][0]["accepted"] == 0


def test_events_and_finish():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2, bias=False), torch.nn.Linear(2, 1, bias=False))
    opt = RSO(model.parameters(), cycles=2)
    events = []
    while not opt.finished:
        opt.step(lambda: float(sum(p.abs().sum() for p in model.parameters())))
        events.append(opt.events)
    assert len(events) == 2 * 6
    assert [i for i, e in enumerate(events) if "layer" in e] == [1, 5, 7, 11]
    assert [i for i, e in enumerate(events) if "cycle" in e] == [5, 11]
    assert opt.state_dict()["state"][0]["evaluations"] == 36


@pytest.mark.parametrize("kwargs", [{"cycles": 0}, {"weight_decay": 1.0}, {"bn_sigma": -1.0}])
def test_bad_rso_options(kwargs):
    with pytest.raises(ConfigError, match="parameter of RSO must be"):
        RSO(torch.nn.Linear(2, 2).parameters(), **kwargs)


def test_paper_net_weight_counts():
    assert count_weights(build_model("rso-mnist", (1, 28, 28), 10)) == (11_824, 192)
    assert count_weights(build_model("rso-cifar10", (3, 32, 32), 10))[0] == 56_560


def _rso_config(**extra):
    config = {
        "task": {"name": "digits", "train_subset": 64, "test_subset": 40, "batch_size": 16},
        "model": {"name": "rso-mnist", "channels": 2},
        "method": {"name": "rso", "cycles": 2},
        "seed": 3,
    }
    config.update(extra)
    return config


def test_rso_runs_to_completion_through_the_trainer(tmp_path):
    from nograd.train import train

    trainer = train(_rso_config(), out=tmp_path, progress=False)
    opt = trainer.optimizer
    assert opt.finished and trainer.step == opt.total_steps == 2 * (18 + 5 * 36 + 20 + 6 * 4)
    rows = trainer.run.read_metrics()
    assert [int(r["step"]) for r in rows] == [0, opt.weights_per_cycle, 2 * opt.weights_per_cycle]  # per cycle
    assert trainer.config["task"]["reshuffle"] is False  # the method's task defaults
    assert rows[-1]["evaluations"] == 3 * opt.total_steps


def test_rso_resumes_mid_cycle_to_the_same_weights(tmp_path):
    from nograd.runs import RunFolder
    from nograd.train import Trainer, resume, train

    reference = train(_rso_config(), out=tmp_path / "a", progress=False)
    crashing = Trainer(_rso_config(), RunFolder.create(tmp_path / "b", "digits", "rso"), progress=False)

    def crash(trainer):
        if trainer.step == 150:  # mid-cycle, mid-tensor: the last checkpoint is the end of the previous tensor
            raise RuntimeError("simulated crash")

    crashing.on_step = crash
    with pytest.raises(RuntimeError):
        crashing.fit()
    assert 0 < torch.load(crashing.run.checkpoint_path("last"), weights_only=True)["trainer"]["step"] < 150
    resumed = resume(crashing.run.path, progress=False)
    for a, b in zip(reference.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)


class RandomColourImages(ClassificationTask):
    name = "random-colour-images"
    summary = "test data"
    num_outputs = 10

    def __init__(self, n=24, size=8, batch_size=8):
        super().__init__(seed=0, batch_size=batch_size, reshuffle=False)
        g = torch.Generator().manual_seed(0)
        x = torch.randn(n, 3, size, size, generator=g, dtype=torch.float64)
        y = torch.randint(0, 10, (n,), generator=g)
        self._set_data(x, y, x, y)


def test_residual_net_resumes_from_its_stage_prefix():
    torch.manual_seed(0)
    model = build_model("rso-cifar10", (3, 8, 8), 10).double().train(False)
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64)
    for stage in (0, 3, 4, 9):
        resumed = model(x, start=stage, outputs=model.prefix(x, stage))
        torch.testing.assert_close(resumed, model(x), rtol=0, atol=0)
    with pytest.raises(ValueError, match="needs 3 stage outputs"):
        model(x, start=3, outputs=[])


def test_residual_rso_fast_path_makes_the_naive_decisions():
    """On the paper's residual CIFAR-10 net the fast path runs only the stages from the searched one on; its
    accept decisions equal the naive full-network ones, including after the visit crosses stage boundaries."""
    task = RandomColourImages()
    results = []
    for evaluator_cls in (SerialEvaluator, VectorizedEvaluator):
        torch.manual_seed(0)
        model = build_model("rso-cifar10", (3, 8, 8), 10).double()
        for p in model.parameters():
            p.requires_grad_(False)
        evaluator = evaluator_cls(task, model)
        opt = RSO(model.parameters(), cycles=1, seed=0)
        # fc (320), stage 8's BatchNorm (64) and its first conv weights, then stage 4's projection (BN and conv)
        names = {id(p): n for n, p in model.named_parameters()}
        projection = [names[id(t)] for t in opt.order].index("stages.4.projection.1.bias")
        steps = list(range(420)) + list(range(opt._offsets[projection], opt._offsets[projection] + 80))
        for k, step in enumerate(steps):
            opt._global["weight"] = step
            evaluator.set_step(k)
            opt.step(evaluator)
        results.append((opt.state_dict()["state"][0]["accepted"], [p.clone() for p in model.parameters()]))
    (naive_accepted, naive_params), (fast_accepted, fast_params) = results
    assert naive_accepted == fast_accepted > 100
    for a, b in zip(naive_params, fast_params):
        assert torch.equal(a, b)

"""Metropolis and adaptive Monte Carlo (Whitelam et al. 2022): the acceptance rule, μ and σ, state, the model."""

import inspect
import math

import pytest
import torch

from nograd.errors import ConfigError
from nograd.evaluate import SerialEvaluator, VectorizedEvaluator
from nograd.models import build_model
from nograd.optim import AdaptiveMC, Metropolis, build_optimizer
from nograd.optim.metropolis import metropolis_accepts
from nograd.train import Trainer

from .conftest import quadratic_closure, tiny_model


def _flat(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_zero_temperature_rule():
    for u in (0.0, 0.5, 0.999):
        assert metropolis_accepts(-1.0, None, u) and metropolis_accepts(0.0, None, u)  # ΔL ≤ 0: always
        assert not metropolis_accepts(1e-12, None, u) and not metropolis_accepts(1e-12, math.inf, u)
    assert not metropolis_accepts(math.nan, 1.0, 0.0) and not metropolis_accepts(math.inf, 1.0, 0.0)
    assert metropolis_accepts(0.5, 2.0, math.exp(-1.0) - 1e-9) and not metropolis_accepts(0.5, 2.0, math.exp(-1.0))


@pytest.mark.parametrize("cls", [Metropolis, AdaptiveMC])
def test_zero_temperature_keeps_only_moves_that_do_not_raise_the_loss(cls):
    model = tiny_model()
    opt = cls(model.parameters(), sigma=0.1, seed=0)
    opt.ask()
    opt.tell(torch.tensor([1.0]), incumbent_loss=1.0)  # ΔL = 0: kept
    assert opt.best_loss == 1.0 and opt.stats()["accepted"] == 1
    kept = _flat(model).clone()
    opt.ask()
    opt.tell(torch.tensor([1.0 + 1e-9], dtype=torch.float64))  # ΔL > 0: refused, the weights stay
    assert torch.equal(_flat(model), kept) and opt.best_loss == 1.0
    opt.ask()
    opt.tell(torch.tensor([float("nan")]))
    assert torch.equal(_flat(model), kept) and opt.stats()["accepted"] == 1


def test_finite_temperature_accepts_uphill_moves_with_the_metropolis_probability():
    model = tiny_model()
    beta, delta, n = 2.0, 0.5, 3000
    opt = Metropolis(model.parameters(), sigma=0.01, beta=beta, seed=4)
    for _ in range(n):
        opt.ask()
        opt.tell(torch.tensor([delta]), incumbent_loss=0.0)
    rate = opt.stats()["accepted"] / n
    assert rate == pytest.approx(math.exp(-beta * delta), abs=0.03)  # e^-1 = 0.368; 3 std ≈ 0.026


def test_metropolis_moves_are_centred_normal_with_std_sigma():
    model = torch.nn.Linear(100, 100)
    opt = Metropolis(model.parameters(), sigma=0.05, seed=1)
    before = opt.flat_params().clone()
    move = opt.ask()[0] - before
    assert abs(float(move.mean())) < 0.005 and float(move.std()) == pytest.approx(0.05, rel=0.03)


def test_amc_mean_follows_accepted_moves():
    model = tiny_model()
    opt = AdaptiveMC(model.parameters(), sigma=0.1, epsilon=0.25, seed=0)
    assert torch.equal(opt.mu, torch.zeros_like(opt.mu))
    x0 = opt.flat_params().clone()
    move1 = opt.ask()[0] - x0
    opt.tell(torch.tensor([0.0]), incumbent_loss=1.0)  # accepted: μ ← μ + ε_rate·(ε − μ) = ε_rate·ε
    torch.testing.assert_close(opt.mu, 0.25 * move1)
    x1 = opt.flat_params().clone()
    move2 = opt.ask()[0] - x1  # drawn from N(μ, σ²)
    torch.testing.assert_close((move2 - opt.mu).std(), torch.tensor(0.1), rtol=0.6, atol=0)
    mu1 = opt.mu.clone()
    opt.tell(torch.tensor([-1.0]))
    torch.testing.assert_close(opt.mu, mu1 + 0.25 * (move2 - mu1))
    mu2 = opt.mu.clone()
    opt.ask()
    opt.tell(torch.tensor([5.0]))  # refused: μ unchanged
    assert torch.equal(opt.mu, mu2)


def test_amc_shrinks_sigma_and_resets_mu_after_n_reset_rejections():
    model = tiny_model()
    opt = AdaptiveMC(model.parameters(), sigma=0.1, n_reset=5, sigma_decay=0.5, seed=0)
    opt.ask()
    opt.tell(torch.tensor([0.0]), incumbent_loss=1.0)
    mu = opt.mu.clone()
    assert mu.abs().sum() > 0
    for _ in range(4):  # a streak of 4 refusals, then an accept: the streak restarts
        opt.ask()
        opt.tell(torch.tensor([9.0]))
    assert opt.state_dict()["state"][0]["rejected_in_a_row"] == 4
    opt.ask()
    opt.tell(torch.tensor([-1.0]))
    assert opt.state_dict()["state"][0]["rejected_in_a_row"] == 0 and opt.sigma_scale == 1.0
    for _ in range(5):
        assert opt.sigma_scale == 1.0 and opt.mu.abs().sum() > 0
        opt.ask()
        opt.tell(torch.tensor([9.0]))
    assert opt.sigma_scale == 0.5 and opt.stats()["step_size"] == pytest.approx(0.05)
    assert torch.equal(opt.mu, torch.zeros_like(opt.mu))
    state = opt.state_dict()["state"][0]
    assert state["rejected_in_a_row"] == 0 and state["sigma_resets"] == 1
    for _ in range(10):
        opt.ask()
        opt.tell(torch.tensor([9.0]))
    assert opt.sigma_scale == 0.125


def test_amc_plateau_option_shrinks_sigma_when_the_kept_loss_stops_falling():
    model = tiny_model()
    opt = AdaptiveMC(model.parameters(), sigma=0.1, plateau=4, sigma_decay=0.5, n_reset=1000, seed=0)
    for loss in (1.0, 0.8, 0.6, 0.4):  # falling: no shrink
        opt.ask()
        opt.tell(torch.tensor([9.0]), incumbent_loss=loss)
    assert opt.sigma_scale == 1.0 and opt.state_dict()["state"][0]["steps_since_low"] == 0
    for _ in range(8):  # flat well above the running average's low: it rises, so no new low for 4 steps
        opt.ask()
        opt.tell(torch.tensor([9.0]), incumbent_loss=0.9)
    assert opt.sigma_scale == 0.25 and opt.stats()["sigma_resets"] == 2
    paper = AdaptiveMC(tiny_model().parameters(), sigma=0.1, n_reset=1000)  # plateau=None: the paper's rule only
    for _ in range(12):
        paper.ask()
        paper.tell(torch.tensor([9.0]), incumbent_loss=0.9)
    assert paper.sigma_scale == 1.0


def test_amc_state_holds_rng_address_mu_sigma_and_counters():
    model = tiny_model()
    opt = AdaptiveMC(model.parameters(), sigma=0.05, seed=11)
    closure = quadratic_closure(model)
    for _ in range(3):
        opt.step(closure)
    state = opt.state_dict()["state"][0]
    assert state["seed"] == 11 and state["step"] == 3 and state["evaluations"] == 4
    assert state["mu"].shape == (opt.layout.numel,) and {"scale", "rejected_in_a_row", "sigma_resets"} <= set(state)


def test_amc_reduces_the_loss_and_reports_the_kept_weights_loss():
    model = tiny_model()
    closure = quadratic_closure(model)
    start = closure()
    opt = AdaptiveMC(model.parameters(), sigma=0.02, seed=0)
    for _ in range(300):
        loss = opt.step(closure)
    assert loss < 0.5 * start and closure() == pytest.approx(loss)


@pytest.mark.parametrize(
    "cls, kwargs, pattern",
    [
        (Metropolis, {"sigma": -0.1}, r"The 'sigma' parameter of Metropolis must be a float in \(0, inf\)"),
        (Metropolis, {"beta": 0.0}, r"The 'beta' parameter of Metropolis must be a float in \(0, inf\) or None"),
        (Metropolis, {"reevaluate": 1}, r"'reevaluate' parameter of Metropolis must be a bool"),
        (AdaptiveMC, {"epsilon": 1.5}, r"The 'epsilon' parameter of AdaptiveMC must be a float in \[0, 1\]"),
        (AdaptiveMC, {"n_reset": 0}, r"The 'n_reset' parameter of AdaptiveMC must be an int in \[1, inf\)"),
        (AdaptiveMC, {"sigma_decay": 0.0}, r"The 'sigma_decay' parameter of AdaptiveMC must be a float in \(0, 1\]"),
        (AdaptiveMC, {"seed": -1}, r"'seed' parameter of AdaptiveMC"),
        (AdaptiveMC, {"plateau": 0}, r"The 'plateau' parameter of AdaptiveMC must be an int in \[1, inf\) or None"),
    ],
)
def test_bad_hyperparameters_name_the_problem(cls, kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        cls(tiny_model().parameters(), **kwargs)


@pytest.mark.parametrize("cls", [Metropolis, AdaptiveMC])
def test_constraints_cover_every_hyperparameter(cls):
    params = set(inspect.signature(cls.__init__).parameters) - {"self", "params", "seed"}
    assert set(cls._parameter_constraints) == params


def test_registry_builds_both_with_the_paper_defaults():
    amc = build_optimizer("amc", tiny_model().parameters())
    assert isinstance(amc, AdaptiveMC)
    group = amc.param_groups[0]
    assert (group["sigma"], group["epsilon"], group["n_reset"], group["sigma_decay"]) == (1e-3, 1e-3, 100, 0.95)
    assert group["beta"] is None
    assert isinstance(build_optimizer("metropolis", tiny_model().parameters()), Metropolis)


def test_mc_mlp_is_the_papers_network():
    torch.manual_seed(0)
    model = build_model("mc-mlp", (1, 28, 28), 10)
    assert sum(p.numel() for p in model.parameters()) == 784 * 64 + 3 * 64 * 64 + 4 * 2 * 64 + 64 * 10 + 10 == 63_626
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Flatten"] + ["Linear", "LayerNorm", "Tanh"] * 4 + ["Linear"]
    assert all(m.bias is None for m in list(model)[1:-1] if isinstance(m, torch.nn.Linear))
    assert float(model[1].weight.detach().std()) == pytest.approx(1e-3, rel=0.02)
    assert model(torch.randn(7, 1, 28, 28)).shape == (7, 10)
    plain = build_model("mc-mlp", (64,), 10, hidden=[32], layernorm=False, activation="relu", init_std=None)
    assert [type(m).__name__ for m in plain] == ["Flatten", "Linear", "ReLU", "Linear"] and plain[1].bias is not None
    with pytest.raises(ConfigError, match="'hidden' parameter of mc-mlp"):
        build_model("mc-mlp", (64,), 10, hidden=[])
    with pytest.raises(ConfigError, match="'init_std' parameter of mc-mlp"):
        build_model("mc-mlp", (64,), 10, init_std=-1.0)


def test_batched_layernorm_forward_matches_the_model():
    from .test_evaluate import _Blobs

    task = _Blobs()
    torch.manual_seed(0)
    model = build_model("mc-mlp", task.input_shape, 10, hidden=[16, 8], init_std=0.1)
    serial, vectorized = SerialEvaluator(task, model), VectorizedEvaluator(task, model)
    assert vectorized._mlp_forward is not None  # the written-out batched path, not vmap
    g = torch.Generator().manual_seed(2)
    candidates = serial.layout.flatten(model.parameters()) + 0.3 * torch.randn(6, serial.layout.numel, generator=g)
    torch.testing.assert_close(serial.evaluate_population(candidates), vectorized.evaluate_population(candidates))


def test_amc_trains_digits_through_the_trainer():
    config = {
        "task": {"name": "digits", "batch_size": 256},
        "model": {"name": "mc-mlp", "hidden": [16, 16]},
        "method": {"name": "amc", "sigma": 0.01},
        "budget": {"steps": 300},
        "log_every": 100,
        "seed": 0,
    }
    trainer = Trainer(config, progress=False)
    assert trainer.config["method"]["reevaluate"] is True  # minibatches: the kept weights are scored again
    first = trainer.task.metrics(trainer.model)
    summary = trainer.fit()
    assert summary["train_loss"] < first["train_loss"] and summary["test_acc"] > 0.3
    assert summary["evaluations"] == 2 * 300  # the candidate and the kept weights on every step's batch

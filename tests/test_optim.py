import copy
import inspect
import math

import pytest
import torch

from nograd.errors import ConfigError
from nograd.optim import METHODS, HillClimb, RandomSearch, build_optimizer

from .conftest import quadratic_closure, tiny_model


def _flat(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_state_dict_round_trip_continues_identically(method_name):
    spec = METHODS[method_name]
    options = {"population": 4} if "population" in spec.default_options() else {}
    model = tiny_model()
    opt = build_optimizer(method_name, model.parameters(), seed=3, **options)
    closure = quadratic_closure(model, grad=spec.uses_gradients)
    for _ in range(5):
        opt.step(closure)
    saved_opt, saved_model = copy.deepcopy(opt.state_dict()), copy.deepcopy(model.state_dict())
    for _ in range(5):
        opt.step(closure)
    expected = _flat(model)

    model2 = tiny_model(seed=99)  # different weights: everything must come from the state dicts
    model2.load_state_dict(saved_model)
    opt2 = build_optimizer(method_name, model2.parameters(), seed=7, **options)  # a different seed, too
    opt2.load_state_dict(saved_opt)
    closure2 = quadratic_closure(model2, grad=spec.uses_gradients)
    for _ in range(5):
        opt2.step(closure2)
    assert torch.equal(_flat(model2), expected)


@pytest.mark.parametrize("cls", [RandomSearch, HillClimb])
def test_state_dict_holds_rng_address_and_counters(cls):
    model = tiny_model()
    opt = cls(model.parameters(), population=3, seed=11)
    opt.step(quadratic_closure(model))
    state = opt.state_dict()["state"][0]
    assert state["seed"] == 11 and state["step"] == 1
    assert state["evaluations"] == 4  # 3 candidates + the starting weights on the first step
    assert math.isfinite(state["best_loss"])


def test_gradient_free_methods_reduce_the_loss():
    for cls in (RandomSearch, HillClimb):
        model = tiny_model()
        closure = quadratic_closure(model)
        start = closure()
        opt = cls(model.parameters(), population=8, seed=0)
        for _ in range(50):
            loss = opt.step(closure)
        assert loss < start
        assert closure() == pytest.approx(loss)  # the model holds the weights whose loss is reported


def test_hill_climb_one_fifth_rule_factors():
    model = tiny_model()
    opt = HillClimb(model.parameters(), population=1, accept_equal=False)
    opt.step(quadratic_closure(model))
    before = opt.state_dict()["state"][0]["scale"]
    opt.ask()
    opt.tell(torch.tensor([-1.0]))  # a success
    assert opt.state_dict()["state"][0]["scale"] == pytest.approx(before * math.exp(1 / 3))
    before = opt._global["scale"]
    opt.ask()
    opt.tell(torch.tensor([math.inf]))  # a failure
    assert opt._global["scale"] == pytest.approx(before * math.exp(-1 / 12))
    opt.ask()
    opt.tell(torch.tensor([-2.0]))
    assert opt._global["scale"] == pytest.approx(before * math.exp(-1 / 12) * math.exp(1 / 3))


def test_nan_losses_are_never_accepted():
    model = tiny_model()
    before = _flat(model).clone()
    opt = HillClimb(model.parameters(), population=4)
    opt.ask()
    opt.tell(torch.full((4,), float("nan")), incumbent_loss=1.0)
    assert torch.equal(_flat(model), before)
    assert opt.best_loss == 1.0


def test_random_search_draws_independently_of_current_weights():
    model = tiny_model()
    opt = RandomSearch(model.parameters(), population=5, init="uniform", scale=0.5, seed=1)
    a = opt.ask()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(100.0)
    b = RandomSearch(model.parameters(), population=5, init="uniform", scale=0.5, seed=1).ask()
    assert torch.equal(a, b)
    assert a.abs().max() <= 0.5


def test_random_search_pytorch_init_uses_fan_in():
    model = torch.nn.Sequential(torch.nn.Linear(100, 2), torch.nn.Linear(2, 1))
    cands = RandomSearch(model.parameters(), population=200, init="pytorch").ask()
    first_layer = cands[:, : 100 * 2 + 2]  # weight and bias of the first layer: bound 1/sqrt(100)
    assert first_layer.abs().max() <= 0.1 + 1e-6
    assert cands[:, 202:].abs().max() > 0.2  # the second layer's bound is 1/sqrt(2)


@pytest.mark.parametrize(
    "cls, kwargs, pattern",
    [
        (HillClimb, {"sigma": -0.1}, r"The 'sigma' parameter of HillClimb must be a float in \(0, inf\). Got -0.1"),
        (HillClimb, {"population": 0}, r"'population' parameter of HillClimb must be an int in \[1, inf\)"),
        (HillClimb, {"adapt": "fast"}, r"'adapt' parameter of HillClimb must be one of 'one_fifth', 'none'"),
        (HillClimb, {"target_success": 1.0}, r"'target_success'"),
        (HillClimb, {"reevaluate": "yes"}, r"'reevaluate' parameter of HillClimb must be a bool"),
        (HillClimb, {"min_scale": 10.0, "max_scale": 1.0}, r"min_scale"),
        (RandomSearch, {"init": "xavier"}, r"'init' parameter of RandomSearch must be one of"),
        (RandomSearch, {"scale": 0.0}, r"'scale' parameter of RandomSearch"),
        (RandomSearch, {"seed": -1}, r"'seed' parameter of RandomSearch"),
    ],
)
def test_bad_hyperparameters_name_the_problem(cls, kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        cls(tiny_model().parameters(), **kwargs)


@pytest.mark.parametrize("cls", [RandomSearch, HillClimb])
def test_constraints_cover_every_hyperparameter(cls):
    params = set(inspect.signature(cls.__init__).parameters) - {"self", "params", "seed"}
    assert set(cls._parameter_constraints) == params


def test_step_without_closure_and_tell_without_ask():
    opt = HillClimb(tiny_model().parameters())
    with pytest.raises(ConfigError, match="needs a closure"):
        opt.step()
    with pytest.raises(RuntimeError, match="ask"):
        opt.tell(torch.zeros(16))
    opt.ask()
    with pytest.raises(ConfigError, match="one loss per candidate"):
        opt.tell(torch.zeros(3))


def test_registry_errors():
    with pytest.raises(
        ConfigError,
        match="Unknown method 'nope'. Valid methods: adam, amc, edge-popup, hillclimb, mask-search, metropolis",
    ):
        build_optimizer("nope", tiny_model().parameters())
    with pytest.raises(ConfigError, match="Unknown option 'sigmaa' for method 'hillclimb'. Valid options:"):
        build_optimizer("hillclimb", tiny_model().parameters(), sigmaa=1.0)
    with pytest.raises(ConfigError, match="Bad option for method 'adam'"):
        build_optimizer("adam", tiny_model().parameters(), lr=-1.0)

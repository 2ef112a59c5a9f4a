"""Supermasks: frozen weights, exact top-k masks, the straight-through gradient, the flip scorer, the search,
export, and both methods through the trainer on tiny data."""

from __future__ import annotations

import copy

import pytest
import torch

from nograd.errors import ConfigError
from nograd.models import build_model
from nograd.supermask import (
    EdgePopup,
    FlipScorer,
    MaskedConv2d,
    MaskedLinear,
    MaskSearch,
    export_masked,
    kept_fraction,
    kept_per_layer,
    supermask_conv,
    supermask_fc,
    to_supermask,
)
from nograd.train import Trainer, resume, train


def _data(n=64, shape=(1, 8, 8), seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *shape, generator=g), torch.randint(10, (n,), generator=g)


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items() if k.endswith("weight")}


def test_weights_are_buffers_and_stay_bit_identical_under_edge_popup():
    torch.manual_seed(0)
    model = supermask_fc((1, 8, 8), 10, hidden=(16, 12))
    assert all(name.endswith("scores") for name, _ in model.named_parameters())
    before = _weights(model)
    scores = [p.detach().clone() for p in model.parameters()]
    opt = EdgePopup(model.parameters(), epochs=2, steps_per_epoch=5)
    x, y = _data()

    def closure():
        model.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return float(loss.detach())

    for _ in range(10):
        opt.step(closure)
    after = _weights(model)
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert any(not torch.equal(a, b) for a, b in zip(scores, model.parameters()))  # the scores moved
    assert opt.finished


@pytest.mark.parametrize("k", [0.5, 0.3, 1.0, 0.07])
def test_top_k_keeps_the_exact_fraction_per_layer(k):
    torch.manual_seed(1)
    model = supermask_conv((1, 8, 8), 10, depth=2, k=k)
    for name, (kept, total) in kept_per_layer(model).items():
        assert kept == total - int((1 - k) * total), name


def test_top_k_mask_keeps_the_largest_scores_by_magnitude():
    torch.manual_seed(2)
    layer = MaskedLinear(10, 4, k=0.25)
    mask, mags = layer.mask().bool(), layer.scores.detach().abs()
    assert mags[mask].min() > mags[~mask].max()


def test_signed_constant_and_kaiming_normal_inits():
    torch.manual_seed(3)
    sc = MaskedLinear(50, 40, init="signed_constant").weight
    assert torch.allclose(sc.abs(), torch.full_like(sc, (2 / 50) ** 0.5))  # gain √2 over √fan_in
    assert 0.35 < (sc > 0).float().mean() < 0.65
    conv = MaskedConv2d(4, 8, init="signed_constant").weight
    assert torch.allclose(conv.abs(), torch.full_like(conv, (2 / 36) ** 0.5))
    kn = MaskedLinear(400, 300, init="kaiming_normal").weight
    assert abs(float(kn.std()) - (2 / 400) ** 0.5) < 0.002


def test_straight_through_gradient_reaches_every_score():
    torch.manual_seed(4)
    layer = MaskedLinear(6, 5, k=0.5)
    x = torch.randn(7, 6)
    layer(x).square().sum().backward()
    grad = layer.scores.grad
    # d loss / d mask = (d loss / d w_eff) · w, passed straight through abs(): sign(score) times it.
    expected = (2 * layer(x).detach()).T @ x * layer.weight * layer.scores.detach().sign()
    assert grad is not None and torch.allclose(grad, expected, atol=1e-5)
    assert (grad[layer.mask() == 0] != 0).any()  # dropped weights get a gradient too, so they can come back


@pytest.mark.parametrize(
    "options, pattern",
    [
        ({"k": 0.0}, r"'k' parameter .* \(0, 1\]. Got 0.0"),
        ({"k": 1.5}, r"'k' parameter"),
        ({"init": "xavier"}, r"'init' parameter .* 'signed_constant', 'kaiming_normal'. Got 'xavier'"),
        ({"rule": "random"}, r"'rule' parameter"),
    ],
)
def test_bad_options_name_the_parameter(options, pattern):
    with pytest.raises(ConfigError, match=pattern):
        MaskedLinear(4, 3, **options)
    with pytest.raises(ConfigError, match=pattern):
        build_model("supermask-fc", (1, 4, 4), 10, **options)


def test_bad_edge_popup_and_search_options():
    params = [torch.nn.Parameter(torch.zeros(3))]
    with pytest.raises(ConfigError, match="'epochs' parameter"):
        EdgePopup(params, epochs=0)
    with pytest.raises(ConfigError, match="'layer_share' parameter"):
        MaskSearch(params, layer_share="sometimes")
    torch.manual_seed(0)
    model = supermask_fc((1, 4, 4), 10, hidden=(5,))  # top_k masks: negating a score changes nothing

    class Closure:
        def __init__(self):
            self.model, self.task = model, None

        def __call__(self):
            return 0.0

        def batch(self):
            return _data(8, (1, 4, 4))

        def _count(self, n):
            pass

    with pytest.raises(ConfigError, match="rule 'sign'"):
        MaskSearch(model.parameters()).step(Closure())


@pytest.mark.parametrize("build", ["fc", "conv"])
def test_export_gives_identical_outputs(build):
    torch.manual_seed(5)
    model = supermask_fc((1, 8, 8), 10, hidden=(16,)) if build == "fc" else supermask_conv((1, 8, 8), 10, depth=4)
    plain = export_masked(model)
    assert not any(isinstance(m, MaskedLinear | MaskedConv2d) for m in plain.modules())
    x, _ = _data(5)
    assert torch.equal(plain(x), model(x))
    kept = sum(int((m.weight != 0).sum()) for m in plain.modules() if isinstance(m, torch.nn.Linear | torch.nn.Conv2d))
    total = sum(m.weight.numel() for m in plain.modules() if isinstance(m, torch.nn.Linear | torch.nn.Conv2d))
    assert kept / total == pytest.approx(kept_fraction(model))


def test_to_supermask_converts_an_ordinary_network():
    torch.manual_seed(6)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1, bias=False), torch.nn.Flatten(), torch.nn.Linear(256, 3, bias=False)
    )
    masked = to_supermask(net, init="kaiming_normal", k=0.3)
    assert isinstance(masked[0], MaskedConv2d) and isinstance(masked[2], MaskedLinear)
    assert masked(torch.randn(2, 1, 8, 8)).shape == (2, 3)
    with pytest.raises(ConfigError, match="has a bias"):
        to_supermask(torch.nn.Sequential(torch.nn.Linear(3, 2)))


def test_flip_scorer_matches_the_full_network_for_every_layer():
    torch.manual_seed(7)
    model = supermask_fc((1, 6, 6), 10, hidden=(12, 8), rule="sign")
    scorer = FlipScorer.build(model)
    x, _ = _data(20, (1, 6, 6))
    assert torch.allclose(scorer.prepare(x), model(x), atol=1e-6)
    search = MaskSearch(model.parameters())
    flat = torch.arange(0, sum(scorer.numels), 7)
    outs = scorer.outputs(flat)
    for c, bit in enumerate(flat):
        search.flip(bit.view(1))
        expected = model(x)
        search.flip(bit.view(1))
        assert torch.allclose(outs[c], expected, atol=1e-5), int(bit)
    assert FlipScorer.build(supermask_fc((1, 6, 6), 10, hidden=(4,))) is None  # top_k masks: not flippable


def _config(name, model, budget, model_options=None, method_options=None, **extra):
    return {
        "task": {"name": "digits", "train_subset": 200, "test_subset": 100, "batch_size": 50},
        "model": {"name": model, **(model_options or {})},
        "method": {"name": name, **(method_options or {})},
        "budget": budget,
        "seed": 2,
        **extra,
    }


def _crash_and_resume(config, folder, method, at_step):
    """Run ``config`` until a simulated crash at ``at_step``, then ``resume`` it from its checkpoint."""
    from nograd.runs import RunFolder

    crashing = Trainer(copy.deepcopy(config), RunFolder.create(folder, "digits", method), progress=False)

    def crash(trainer):
        if trainer.step == at_step:
            raise RuntimeError("simulated crash")

    crashing.on_step = crash
    with pytest.raises(RuntimeError):
        crashing.fit()
    return resume(crashing.run.path, progress=False)


def test_edge_popup_through_the_trainer_and_resume(tmp_path):
    config = _config(
        "edge-popup", "supermask-fc", {"steps": None}, method_options={"epochs": 3, "steps_per_epoch": 4}, log_every=2
    )
    reference = train(copy.deepcopy(config), out=tmp_path / "a", progress=False)
    torch.manual_seed(2)
    fresh = build_model("supermask-fc", (1, 8, 8), 10)
    assert all(torch.equal(a, b) for a, b in zip(fresh.buffers(), reference.model.buffers()))  # weights unchanged
    assert reference.step == 12 and reference.summary()["test_acc"] > 0.2
    assert reference.summary()["kept_fraction"] == 0.5  # top-k keeps exactly k of every (even-sized) layer

    resumed = _crash_and_resume(config, tmp_path / "b", "edge-popup", at_step=7)
    assert all(torch.equal(a, b) for a, b in zip(resumed.model.parameters(), reference.model.parameters()))


def test_mask_search_through_the_trainer_improves_and_resumes(tmp_path):
    config = _config(
        "mask-search",
        "supermask-fc",
        {"steps": 12},
        model_options={"rule": "sign"},
        method_options={"population": 32, "max_accept": 4},
        log_every=4,
    )
    reference = train(copy.deepcopy(config), out=tmp_path / "a", progress=False)
    rows = reference.run.read_metrics()
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert reference.evaluator.evaluations >= 12 * 33
    fraction = kept_fraction(reference.model)
    assert 0.3 < fraction < 0.7

    resumed = _crash_and_resume(config, tmp_path / "b", "mask-search", at_step=6)
    assert all(torch.equal(a, b) for a, b in zip(resumed.model.parameters(), reference.model.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(resumed.model.buffers(), reference.model.buffers()))


def test_mask_search_state_dict_round_trip_with_a_plain_closure():
    torch.manual_seed(8)
    model = supermask_fc((1, 4, 4), 10, hidden=(6,), rule="sign")
    x, y = _data(30, (1, 4, 4))

    def closure():
        return float(torch.nn.functional.cross_entropy(model(x), y))

    opt = MaskSearch(model.parameters(), population=8, max_accept=2, seed=3)
    for _ in range(3):
        opt.step(closure)
    saved_opt, saved_model = copy.deepcopy(opt.state_dict()), copy.deepcopy(model.state_dict())
    for _ in range(3):
        opt.step(closure)
    expected = [p.detach().clone() for p in model.parameters()]
    model.load_state_dict(saved_model)
    opt2 = MaskSearch(model.parameters(), population=8, max_accept=2, seed=99)
    opt2.load_state_dict(saved_opt)
    for _ in range(3):
        opt2.step(closure)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), expected))
    assert opt2.state_dict()["state"][0]["step"] == 6


@pytest.mark.parametrize("rule", ["top_k", "sign"])
def test_population_scoring_of_scores_matches_serial(rule):
    """Hill climbing or random search over the scores: the vectorised backend sees the same masks as the model."""
    from nograd.evaluate import SerialEvaluator, VectorizedEvaluator
    from nograd.tasks import DigitsTask

    task = DigitsTask(train_subset=40, test_subset=20, batch_size=None)
    torch.manual_seed(9)
    model = supermask_fc(task.input_shape, 10, hidden=(7,), rule=rule)
    for p in model.parameters():
        p.requires_grad_(False)
    flat = torch.cat([p.flatten() for p in model.parameters()])
    candidates = flat + 0.05 * torch.randn(3, flat.numel(), generator=torch.Generator().manual_seed(0))
    fast = VectorizedEvaluator(task, model).evaluate_population(candidates)
    slow = SerialEvaluator(task, model).evaluate_population(candidates)
    assert torch.allclose(fast, slow, atol=1e-5)


def test_cli_mask_search_reports_the_kept_fraction(tmp_path):
    from click.testing import CliRunner

    from nograd.cli.main import cli

    args = ["train", "digits", "-m", "mask-search", "--model", "supermask-fc", "-b", "2 steps", "-q", "-o"]
    args += [str(tmp_path), "model.rule=sign", "method.population=16", "task.train_subset=100", "task.test_subset=50"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "supermask: keeps" in result.output and "of the frozen random weights" in result.output

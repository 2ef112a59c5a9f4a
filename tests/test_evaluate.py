import pytest
import torch

from nograd.errors import ConfigError
from nograd.evaluate import SerialEvaluator, VectorizedEvaluator, build_evaluator
from nograd.models import MLP
from nograd.optim import HillClimb
from nograd.tasks import AdditionTask, ClassificationTask


class _Blobs(ClassificationTask):
    """A tiny classification task: 784 inputs, 10 classes, as an MNIST-shaped stand-in."""

    name = "blobs"
    summary = "test task"
    num_outputs = 10

    def __init__(self, seed: int = 0, device: str = "cpu", batch_size: int | None = None):
        super().__init__(seed, device, batch_size)
        g = torch.Generator().manual_seed(seed)
        x, y = torch.randn(300, 784, generator=g), torch.randint(0, 10, (300,), generator=g)
        self._set_data(x[:200], y[:200], x[200:], y[200:])


@pytest.mark.parametrize("task_factory, hidden", [(lambda: AdditionTask(train_size=100), [2, 2]), (_Blobs, [32])])
def test_vectorized_matches_serial(task_factory, hidden):
    task = task_factory()
    torch.manual_seed(0)
    model = MLP(task.input_shape[0], task.num_outputs, hidden=hidden)
    serial, vectorized = SerialEvaluator(task, model), VectorizedEvaluator(task, model, chunk_size=5)
    candidates = torch.randn(12, serial.layout.numel, generator=torch.Generator().manual_seed(1))
    a, b = serial.evaluate_population(candidates), vectorized.evaluate_population(candidates)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    assert serial.evaluations == vectorized.evaluations == 12
    assert vectorized.examples == 12 * len(task.x_train)


def test_serial_evaluation_leaves_the_model_unchanged():
    task = AdditionTask(train_size=50)
    model = MLP(2, 1)
    before = [p.clone() for p in model.parameters()]
    SerialEvaluator(task, model).evaluate_population(torch.randn(3, sum(p.numel() for p in before)))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_closure_equals_population_entry_for_current_weights():
    task = AdditionTask(train_size=50)
    model = MLP(2, 1)
    ev = VectorizedEvaluator(task, model)
    current = ev.layout.flatten(model.parameters()).unsqueeze(0)
    assert ev() == pytest.approx(float(ev.evaluate_population(current)[0]), rel=1e-6)


def test_hill_climb_same_result_through_population_or_plain_closure():
    """The optimizer decides, the evaluator evaluates: batched or one by one, the same accepts."""
    results = []
    for batched in (True, False):
        task = AdditionTask(train_size=100)
        torch.manual_seed(0)
        model = MLP(2, 1)
        ev = SerialEvaluator(task, model)
        opt = HillClimb(model.parameters(), population=4, seed=5)
        closure = ev if batched else (lambda ev=ev: ev())
        for _ in range(30):
            opt.step(closure)
        results.append((torch.cat([p.flatten() for p in model.parameters()]), opt.state_dict()["state"][0]["accepted"]))
    assert torch.equal(results[0][0], results[1][0]) and results[0][1] == results[1][1]


def test_wrong_candidate_shape_is_a_clear_error():
    task = AdditionTask(train_size=50)
    ev = build_evaluator("vectorized", task, MLP(2, 1))
    with pytest.raises(ConfigError, match=r"Candidates must have shape \[population, 15\]"):
        ev.evaluate_population(torch.zeros(4, 12))


def test_unknown_backend():
    with pytest.raises(ConfigError, match="Unknown backend 'mpi'. Valid backends: ray, serial, vectorized"):
        build_evaluator("mpi", AdditionTask(train_size=10), MLP(2, 1))
    with pytest.raises(ConfigError, match="options of the ray backend"):
        build_evaluator("vectorized", AdditionTask(train_size=10), MLP(2, 1), workers=2)


def test_nan_scores_as_inf():
    task = AdditionTask(train_size=10)
    ev = VectorizedEvaluator(task, MLP(2, 1))
    losses = ev.evaluate_population(torch.full((2, ev.layout.numel), float("nan")))
    assert torch.isinf(losses).all()

import pytest
import torch

from nograd.errors import ConfigError
from nograd.tasks import TASKS, AdditionTask, build_task


def test_addition_held_out_pairs_never_seen_in_either_order():
    task = AdditionTask(seed=3, train_size=1000)

    def pairs(x):
        return {tuple(sorted(p)) for p in torch.round(x * 100).long().tolist()}

    assert not pairs(task.x_train) & pairs(task.x_test)
    assert len(task.x_train) == 1000 and len(task.x_train) + len(task.x_test) <= 10_000
    assert torch.equal(task.y_train, torch.round(task.x_train * 100).sum(1))


def test_addition_accuracy_is_the_rounded_sum():
    task = AdditionTask(train_size=10)
    outputs = (task.y_test / 200).unsqueeze(1) + 0.4 / 200  # off by 0.4: rounds to the true sum
    assert task.correct(outputs, task.y_test).all()
    assert not task.correct(outputs + 0.2 / 200, task.y_test).any()  # off by 0.6


def test_exact_network_scores_full_accuracy():
    task = AdditionTask(train_size=100)
    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.fill_(0.5)
        model.bias.zero_()
    m = task.metrics(model)
    assert m["train_acc"] == m["test_acc"] == 1.0 and m["train_loss"] < 1e-12


def test_split_depends_on_seed_only():
    a, b, c = AdditionTask(seed=1), AdditionTask(seed=1), AdditionTask(seed=2)
    assert torch.equal(a.x_train, b.x_train) and not torch.equal(a.x_train, c.x_train)


def test_minibatches_are_addressed_by_step():
    task = AdditionTask(train_size=100, batch_size=10)
    assert torch.equal(task.train_batch(7)[0], task.train_batch(7)[0])
    epoch = torch.cat([task.train_batch(s)[0] for s in range(10)])
    assert len({tuple(r) for r in epoch.tolist()}) == len({tuple(r) for r in task.x_train.tolist()})


@pytest.mark.parametrize(
    "options, pattern",
    [
        ({"train_size": 10_000}, "must leave held-out pairs"),
        ({"train_size": 0}, r"'train_size' parameter of AdditionTask must be an int in \[1, inf\)"),
        ({"base": 1}, "'base' parameter"),
        ({"batch_size": 0}, "'batch_size' parameter"),
        ({"trainsize": 10}, "Unknown option 'trainsize' for task 'addition'"),
    ],
)
def test_bad_task_options(options, pattern):
    with pytest.raises(ConfigError, match=pattern):
        build_task("addition", **options)


def test_unknown_task_lists_valid_ones():
    with pytest.raises(ConfigError, match="Unknown task 'nope'. Valid tasks: .*addition"):
        build_task("nope")


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_declares_its_shape(name):
    assert TASKS[name].summary and TASKS[name].num_outputs >= 1

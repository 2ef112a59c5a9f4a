"""The command line: every bad input is one line on stderr and exit code 2, never a traceback."""

import pytest
from click.testing import CliRunner

from nograd.cli.main import cli, parse_overrides
from nograd.errors import ConfigError


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_methods_and_tasks_list_the_registries():
    out = run("methods").output
    for name in ("random", "hillclimb", "sgd", "adam"):
        assert name in out
    assert "addition" in run("tasks").output


def test_train_tiny_budget_prints_held_out_accuracy(tmp_path):
    result = run(
        "train",
        "addition",
        "-m",
        "hillclimb",
        "-b",
        "20 steps",
        "-q",
        "-o",
        str(tmp_path),
        "task.train_size=100",
        "method.population=4",
    )
    assert result.exit_code == 0, result.output
    assert "held-out accuracy" in result.output and "run folder:" in result.output


def test_overrides_without_task_and_config_file(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("method: {name: random, population: 3}\nbudget: {steps: 5}\n")
    result = run("train", "task.train_size=50", "-c", str(config), "-q", "-o", str(tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    assert "addition by random" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["train", "--method", "foo"],
            "Unknown method 'foo'. Valid methods: adam, amc, edge-popup, hillclimb, mask-search",
        ),
        (["train", "nosuchtask"], "Unknown task 'nosuchtask'. Valid tasks:"),
        (["train", "method.sigma=-1"], "The 'sigma' parameter of HillClimb must be a float in (0, inf). Got -1"),
        (["train", "--budget", "soon"], "The budget must look like"),
        (["train", "--seed", "x"], "'x' is not a valid integer"),
        (["train", "task.foo=1"], "Unknown option 'foo' for task 'addition'. Valid options:"),
        (["train", "bad-override="], "Unknown option 'bad-override' for the run config"),
        (["train", "=3"], "An override must look like section.key=value"),
        (["train", "-c", "/no/such.yaml"], "Config file /no/such.yaml does not exist."),
        (["train", "--device", "cuda:nope"], "'device' parameter"),
        (["train", "--frobnicate"], "No such option '--frobnicate'"),
        (["resume", "/no/such/run"], "Run folder /no/such/run does not exist."),
        (["bogus"], "No such command 'bogus'"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(args, message):
    result = run(*args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nograd: error: "), result.output
    assert message in lines[0]
    assert "Traceback" not in result.output


def test_corrupt_checkpoint_via_cli(tmp_path):
    assert run("train", "-b", "10 steps", "-q", "-o", str(tmp_path), "task.train_size=50").exit_code == 0
    run_dir = next(tmp_path.iterdir())
    (run_dir / "checkpoints" / "last.pt").write_bytes(b"not a checkpoint")
    result = run("resume", str(run_dir))
    assert result.exit_code == 2 and "is corrupt or not a nograd checkpoint" in result.output


def test_parse_overrides():
    assert parse_overrides(("model.hidden=[8, 8]", "method.sigma=0.05", "seed=3")) == {
        "model": {"hidden": [8, 8]},
        "method": {"sigma": 0.05},
        "seed": 3,
    }
    with pytest.raises(ConfigError):
        parse_overrides(("a..b=1",))

"""WANN image tasks on a device: the CPU path unchanged, the test split's fixed halves, device errors, checkpoints.

The CUDA tests skip cleanly on a machine without CUDA (CI); everything else runs on the CPU.
"""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from click.testing import CliRunner

from nograd.cli.main import cli
from nograd.seeding import addressed_generator
from nograd.tasks.wann_images import halve_test_split, halves_of_test_split, wann_images
from nograd.wann import WANN, Genome
from nograd.wann.classify import MAX_ELEMENTS, evaluate_classification
from nograd.wann.evaluate import PackedPopulation
from nograd.wann.mutation import mutate

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
CLASSIFY = (1, 3, 4, 5, 6, 7, 8, 9, 10)


def digits_population(count: int = 8, mutations: int = 20, seed: int = 0) -> list[Genome]:
    search = WANN(64, 10, population=max(count, 2), p_init_enable=0.2, seed=seed)
    out = []
    for i, genome in enumerate(search.ask()[:count]):
        rng = addressed_generator(seed, "test-device", i)
        for _ in range(mutations):
            genome, _, _ = mutate(genome, rng, search.counters, activations=CLASSIFY)
        out.append(genome)
    return out


def run_cli(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line_error(result, text: str) -> None:
    assert result.exit_code == 2, result.output
    assert text in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


# -- the CPU path is the one it was ------------------------------------------------------------------------------
def test_cpu_device_scores_the_same_bits_chunked_or_whole():
    inputs, labels = wann_images("digits", "train")
    genomes = digits_population()
    kwargs = {"seed": 1, "generation": 2, "reps": 2, "batch": 60}
    base = evaluate_classification(genomes, inputs, labels, **kwargs)
    assert base.device.type == "cpu" and base.shape == (8, 6, 2)
    for extra in ({"device": "cpu"}, {"device": torch.device("cpu")}, {"max_elements": MAX_ELEMENTS["cpu"]}):
        torch.testing.assert_close(
            evaluate_classification(genomes, inputs, labels, **kwargs, **extra), base, rtol=0, atol=0
        )
    chunked = evaluate_classification(genomes, inputs, labels, **kwargs, max_elements=1)
    torch.testing.assert_close(chunked, base, rtol=0, atol=0)
    packed = PackedPopulation(genomes, shared_inputs=True, device="cpu")
    assert packed.device.type == "cpu" and packed.new_values(3).device.type == "cpu"
    assert all(layer.index.device.type == "cpu" for layer in packed.layers)


def test_trainer_device_cpu_is_the_default_and_changes_nothing(tmp_path):
    from nograd.train_wann import WannTrainer, resolve_wann_config

    assert resolve_wann_config({"task": "digits"})["device"] == "cpu"
    config = {"task": "digits", "population": 12, "batch": 50, "champion_retests": 1}
    a = WannTrainer(config, progress=False)
    b = WannTrainer({**config, "device": "cpu"}, progress=False)
    for _ in range(3):
        row_a, row_b = a.step(), b.step()
        assert {k: v for k, v in row_a.items() if "seconds" not in k} == {
            k: v for k, v in row_b.items() if "seconds" not in k
        }
    assert a.search.state_dict() == b.search.state_dict()


def test_old_run_config_without_device_resumes_on_the_cpu(tmp_path):
    args = ["wann", "train", "digits", "-p", "8", "--batch", "40", "--champion-retests", "1", "-q", "-o", tmp_path]
    assert run_cli(*args, "-g", "2").exit_code == 0
    (run,) = tmp_path.iterdir()
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["device"] == "cpu"
    del config["device"]  # as a run made before the option wrote it
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    resumed = run_cli("wann", "train", "--resume", run, "-g", "3", "-q")
    assert resumed.exit_code == 0, resumed.output
    assert yaml.safe_load((run / "config.yaml").read_text())["device"] == "cpu"
    assert len((run / "metrics.csv").read_text().splitlines()) == 4


# -- bad devices -------------------------------------------------------------------------------------------------
def test_bad_devices_are_one_line_errors(tmp_path):
    from nograd.errors import ConfigError
    from nograd.train_wann import check_wann_device

    for bad in ("tpu", "gpu", "", "cuda:x", 3, None):
        with pytest.raises(ConfigError, match="must be 'cpu' or 'cuda'"):
            check_wann_device(bad)
    assert check_wann_device("cpu", "swingup") == "cpu"
    one_line_error(run_cli("wann", "train", "digits", "--device", "tpu", "-o", tmp_path), "must be 'cpu' or 'cuda'")
    for task in ("swingup", "biped", "gym:CartPole-v1"):
        result = run_cli("wann", "train", task, "--device", "cuda", "-o", tmp_path)
        one_line_error(result, "runs on the CPU only")
    genome = digits_population(1)[0]
    genome.save(tmp_path / "g.json")
    one_line_error(run_cli("wann", "eval", tmp_path / "g.json", "--device", "tpu"), "must be 'cpu' or 'cuda'")
    assert not list(tmp_path.glob("*-wann"))  # no run folder was made


@pytest.mark.skipif(CUDA, reason="checks the message of a machine without CUDA")
def test_cuda_without_cuda_is_a_one_line_error(tmp_path):
    result = run_cli("wann", "train", "digits", "--device", "cuda", "-o", tmp_path)
    one_line_error(result, "no CUDA GPU")
    assert "--device cpu" in result.output
    digits_population(1)[0].save(tmp_path / "g.json")
    one_line_error(run_cli("wann", "eval", tmp_path / "g.json", "--device", "cuda"), "no CUDA GPU")


# -- the test split's fixed halves -----------------------------------------------------------------------------
def test_test_split_halves_are_disjoint_complete_and_fixed():
    for n in (1, 2, 7, 359, 10_000):
        a, b = halves_of_test_split(n)
        assert len(a) == n // 2 and len(b) == n - n // 2
        assert torch.cat([a, b]).sort().values.tolist() == list(range(n))  # disjoint, together all
        assert a.tolist() == sorted(a.tolist()) and b.tolist() == sorted(b.tolist())
        a2, b2 = halves_of_test_split(n)
        assert torch.equal(a, a2) and torch.equal(b, b2)  # the same every call, whatever seed a run has
    # pinned: a change of the cut would silently mix the halves of earlier runs
    assert halves_of_test_split(10)[0].tolist() == [0, 1, 3, 4, 5]
    assert halves_of_test_split(10_000)[0][:8].tolist() == [2, 3, 6, 7, 8, 11, 14, 15]  # MNIST's test split


def test_search_and_eval_use_the_same_half_and_never_the_other(tmp_path):
    from nograd.train_wann import WannTrainer
    from nograd.wann.assess import classification_data
    from nograd.wann.classify import classification_batch

    x, y = wann_images("digits", "test")
    (x_tune, y_tune), (x_measure, y_measure) = halve_test_split(x, y)
    trainer = WannTrainer({"task": "digits", "data_split": "test", "population": 4, "batch": 50}, progress=False)
    assert torch.equal(trainer.data[0], x_tune) and torch.equal(trainer.data[1], y_tune)
    tune, measure, note = classification_data("digits", None, "test")
    assert torch.equal(tune[0], x_tune) and torch.equal(measure[0], x_measure) and "unseen" in note
    # every image a search's rollout draws is an image of the tuning half, none of the measuring half
    first, second = halves_of_test_split(len(y))
    for generation in range(3):
        drawn = first[classification_batch(len(y_tune), 50, 0, generation, 0)]
        assert set(drawn.tolist()) <= set(first.tolist()) and not set(drawn.tolist()) & set(second.tolist())
    # the run folder's data_split makes `wann eval` tune on the same half, with or without a train split on disk
    out = run_cli(
        "wann", "train", "digits", "--data-split", "test", "-p", "4", "-g", "1", "--batch", "40", "-q", "-o", tmp_path
    )
    assert out.exit_code == 0, out.output
    (run,) = tmp_path.iterdir()
    evaluated = run_cli("wann", "eval", run, "-n", "2", "--sweep", "3", "--adam-steps", "2", "-q")
    assert evaluated.exit_code == 0, evaluated.output
    saved = json.loads((run / "eval.json").read_text())
    assert saved["train_images"] == len(y_tune) and saved["test_images"] == len(y_measure)
    assert saved["device"] == "cpu" and "the search used the test split" in saved["data"]


# -- checkpoints: written from a snapshot of the last finished generation -----------------------------------------
def test_interrupted_search_keeps_the_last_finished_generation_and_resumes_exactly(tmp_path, monkeypatch):
    import nograd.train_wann as tw
    from nograd.runs import RunFolder, load_checkpoint

    config = {"task": "digits", "population": 10, "batch": 40, "generations": 5, "champion_retests": 1}
    whole = tw.WannTrainer(config, progress=False)
    for _ in range(5):
        whole.step()

    monkeypatch.setattr(tw, "CHECKPOINT_RATIO", 1e9)  # only the first generation's checkpoint is written on the way
    run = RunFolder.create(tmp_path, "digits", "wann")
    trainer = tw.WannTrainer(config, run, progress=False)
    returns = trainer._returns

    def interrupt(genomes, generation, reps):
        if generation == 3:
            raise KeyboardInterrupt
        return returns(genomes, generation, reps)

    trainer._returns = interrupt
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    state = load_checkpoint(run.checkpoint_path("last"))
    assert state["search"]["generation"] == 3  # the snapshot after generation 2, written on the way out
    monkeypatch.setattr(tw, "CHECKPOINT_RATIO", 20.0)
    resumed = tw.resume_wann(run.path, progress=False)
    assert resumed.search.state_dict() == whole.search.state_dict()
    assert resumed.champion.to_dict() == whole.champion.to_dict()
    assert len((run.path / "metrics.csv").read_text().splitlines()) == 6


# -- CUDA ----------------------------------------------------------------------------------------------------------
@needs_cuda
def test_cuda_scores_equal_the_cpu_scores():
    inputs, labels = wann_images("digits", "train")
    genomes = digits_population(12, 30)
    for dtype, tol in ((torch.float64, 1e-10), (torch.float32, 2e-5)):
        kwargs = {"seed": 3, "generation": 1, "reps": 2, "batch": 200, "dtype": dtype}
        cpu = evaluate_classification(genomes, inputs, labels, **kwargs)
        gpu = evaluate_classification(genomes, inputs, labels, **kwargs, device="cuda")
        assert gpu.device.type == "cpu"
        torch.testing.assert_close(gpu, cpu, rtol=tol, atol=tol, equal_nan=True)
        on_device = evaluate_classification(genomes, inputs.cuda(), labels.cuda(), **kwargs, max_elements=1)
        torch.testing.assert_close(on_device, gpu, rtol=tol, atol=tol, equal_nan=True)
    packed = PackedPopulation(genomes, shared_inputs=True, device="cuda")
    assert all(layer.index.is_cuda and layer.crow.is_cuda and layer.factor.is_cuda for layer in packed.layers)
    assert packed.new_values(4).is_cuda


@needs_cuda
def test_cuda_trainer_and_eval_run_and_agree_with_the_cpu(tmp_path):
    from nograd.wann.assess import eval_wann

    out = run_cli(
        "wann", "train", "digits", "--device", "cuda", "-p", "16", "-g", "3", "--batch", "100", "-q", "-o", tmp_path
    )
    assert out.exit_code == 0, out.output
    (run,) = tmp_path.iterdir()
    assert yaml.safe_load((run / "config.yaml").read_text())["device"] == "cuda"
    options = {"trials": 4, "sweep": 5, "adam_steps": 20}
    cpu = eval_wann(run, **options)
    gpu = eval_wann(run, **options, device="cuda")
    assert gpu["device"] == "cuda" and cpu["device"] == "cpu"
    for key in ("random_individual_weights", "random_shared_weight", "tuned_shared_weight", "ensemble_shared_weights"):
        assert gpu[key]["mean"] == pytest.approx(cpu[key]["mean"], abs=0.01)
    assert gpu["tuned_shared_weight_value"] == cpu["tuned_shared_weight_value"]
    resumed = run_cli("wann", "train", "--resume", run, "-g", "4", "--device", "cpu", "-q")
    assert resumed.exit_code == 0, resumed.output
    assert yaml.safe_load((run / "config.yaml").read_text())["device"] == "cpu"

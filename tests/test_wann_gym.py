"""WANN on gymnasium environments: batched adapter == plain loop, trainer and resume, missing-extra errors.

Tests that step an environment skip cleanly where gymnasium (or Box2D, for BipedalWalker) is not installed; the
missing-extra tests simulate the missing package and run everywhere.
"""

from __future__ import annotations

import sys

import pytest
import torch
from click.testing import CliRunner

from nograd.cli.main import cli
from nograd.errors import ConfigError, MissingExtraError
from nograd.seeding import addressed_generator
from nograd.wann import SHARED_WEIGHTS, WANN, Genome
from nograd.wann.mutation import mutate


def grown(n_inputs: int, n_outputs: int, count: int, mutations: int, seed: int = 0) -> list[Genome]:
    search = WANN(n_inputs, n_outputs, population=max(count, 2), p_init_enable=0.5, seed=seed)
    out = []
    for i, genome in enumerate(search.ask()[:count]):
        rng = addressed_generator(seed, "test-gym-grow", i)
        for _ in range(mutations):
            genome, _, _ = mutate(genome, rng, search.counters)
        out.append(genome)
    return out


def _check_batched_equals_plain(env_id: str, count: int, reps: int, steps: int) -> torch.Tensor:
    from nograd.envs.gym_adapter import GymEvaluator, evaluate_gym_plain, gym_episode_seeds

    evaluator = GymEvaluator(env_id)
    genomes = grown(evaluator.n_inputs, evaluator.n_outputs, count, mutations=12)
    genomes.append(genomes[0].copy())  # a duplicate: scored once, returns copied
    scores = evaluator.evaluate(genomes, seed=3, generation=2, reps=reps, steps=steps, dtype=torch.float64)
    assert scores.shape == (count + 1, len(SHARED_WEIGHTS), reps) and scores.dtype == torch.float64
    undeduped = evaluator.evaluate(
        genomes, seed=3, generation=2, reps=reps, steps=steps, dtype=torch.float64, dedupe=False
    )
    torch.testing.assert_close(undeduped, scores, rtol=0, atol=0)
    seeds = gym_episode_seeds(3, 2, reps)
    for p, genome in enumerate(genomes):
        for w, weight in enumerate(SHARED_WEIGHTS):
            for r in range(reps):
                plain = evaluate_gym_plain(genome, env_id, weight, seeds[r], steps=steps)
                assert float(scores[p, w, r]) == plain, (p, w, r)
    return scores


def test_gym_adapter_batched_returns_equal_a_plain_loop_on_cartpole():
    pytest.importorskip("gymnasium")
    scores = _check_batched_equals_plain("CartPole-v1", count=4, reps=2, steps=80)
    assert float(scores.min()) >= 1 and float(scores.max()) <= 80  # +1 per step, capped at 80 steps
    assert len(set(scores.flatten().tolist())) > 1  # not every episode ends alike


def test_gym_adapter_batched_returns_equal_a_plain_loop_on_pendulum_box_actions():
    pytest.importorskip("gymnasium")
    scores = _check_batched_equals_plain("Pendulum-v1", count=3, reps=1, steps=25)
    assert float(scores.max()) <= 0  # Pendulum's rewards are costs


def test_action_map_clips_box_actions_and_takes_the_argmax_of_discrete_ones():
    gym = pytest.importorskip("gymnasium")
    import numpy as np

    from nograd.envs.gym_adapter import ActionMap

    box = ActionMap(gym.spaces.Box(-2.0, 2.0, (2,), dtype=np.float32))
    actions = box(np.array([[3.0, -0.5], [float("nan"), -float("inf")]]))
    assert actions[0].tolist() == [2.0, -0.5] and actions[1].tolist() == [0.0, -2.0]
    assert actions[0].dtype == np.float32 and actions[0].shape == (2,)
    discrete = ActionMap(gym.spaces.Discrete(3, start=1))
    assert discrete(np.array([[0.1, 0.7, 0.2], [float("nan"), 0.0, -1.0]])) == [2, 2]


def test_episode_seeds_depend_on_seed_generation_and_rep_only():
    from nograd.envs.gym_adapter import gym_episode_seeds

    assert gym_episode_seeds(1, 4, 3) == gym_episode_seeds(1, 4, 3)
    assert gym_episode_seeds(1, 4, 3)[:2] == gym_episode_seeds(1, 4, 2)
    assert len({*gym_episode_seeds(1, 4, 3), *gym_episode_seeds(1, 5, 3), *gym_episode_seeds(2, 4, 3)}) == 9


def test_wann_trains_on_gym_cartpole_and_resumes_exactly(tmp_path):
    pytest.importorskip("gymnasium")
    from nograd.runs import load_checkpoint

    args = ["wann", "train", "gym:CartPole-v1", "-p", "8", "--reps", "1", "--steps", "40", "-q"]
    full = CliRunner().invoke(cli, [*args, "-g", "3", "-o", str(tmp_path / "a")])
    assert full.exit_code == 0, full.output
    assert "gym:CartPole-v1 by WANN" in full.output
    (run_a,) = (tmp_path / "a").iterdir()
    assert run_a.name.endswith("-gym-CartPole-v1-wann")
    champion = Genome.load(run_a / "champion.json")
    assert (champion.n_inputs, champion.n_outputs) == (4, 2)
    assert len((run_a / "metrics.csv").read_text().splitlines()) == 4

    half = CliRunner().invoke(cli, [*args, "-g", "2", "-o", str(tmp_path / "b")])
    assert half.exit_code == 0, half.output
    (run_b,) = (tmp_path / "b").iterdir()
    resumed = CliRunner().invoke(cli, ["wann", "train", "--resume", str(run_b), "-g", "3", "-q"])
    assert resumed.exit_code == 0, resumed.output
    a, b = load_checkpoint(run_a / "checkpoints/last.pt"), load_checkpoint(run_b / "checkpoints/last.pt")
    assert a["search"] == b["search"]
    assert a["trainer"]["champion"] == b["trainer"]["champion"]


def test_gym_task_settings_and_bad_ids():
    from nograd.train_wann import GYM_TASK_DEFAULTS, resolve_wann_config

    biped = resolve_wann_config({"task": "biped"})
    paper = {"population": 480, "generations": 2048, "reps": 4, "p_init_enable": 0.25, "tournament_size": 16}
    assert {k: biped[k] for k in paper} == paper and biped["steps"] is None
    generic = resolve_wann_config({"task": "gym:Pendulum-v1", "steps": 5000})
    assert generic["population"] == GYM_TASK_DEFAULTS["population"] and generic["steps"] == 5000
    with pytest.raises(ConfigError, match="gym:<EnvId>"):
        resolve_wann_config({"task": "gym:"})
    with pytest.raises(ConfigError, match="'steps'"):
        resolve_wann_config({"task": "swingup", "steps": 5000})  # swing-up keeps its 1000-step limit


def test_unknown_gym_environment_is_one_line_error():
    pytest.importorskip("gymnasium")
    result = CliRunner().invoke(cli, ["wann", "train", "gym:NoSuchEnv-v0", "-q"])
    assert result.exit_code == 2 and "Unknown gymnasium environment 'NoSuchEnv-v0'" in result.output


def test_missing_gymnasium_says_which_extra_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # `import gymnasium` now raises ImportError
    from nograd.envs.gym_adapter import GymEvaluator

    with pytest.raises(MissingExtraError, match=r'pip install "nograd\[gym\]"'):
        GymEvaluator("CartPole-v1")
    result = CliRunner().invoke(cli, ["wann", "train", "gym:CartPole-v1", "-q", "-o", str(tmp_path)])
    assert result.exit_code == 2 and 'pip install "nograd[gym]"' in result.output


def test_missing_box2d_says_which_extra_to_install(monkeypatch):
    pytest.importorskip("gymnasium")
    from nograd.envs.gym_adapter import make_env

    monkeypatch.setitem(sys.modules, "Box2D", None)
    for name in [m for m in sys.modules if m.startswith("gymnasium.envs.box2d")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(MissingExtraError, match=r'pip install "nograd\[box2d\]"'):
        make_env("BipedalWalker-v3")


def test_biped_rollouts_match_the_plain_loop():
    pytest.importorskip("gymnasium")
    pytest.importorskip("Box2D")
    from nograd.train_wann import WannTrainer

    trainer = WannTrainer({"task": "biped", "population": 2, "reps": 1, "steps": 15}, progress=False)
    assert (trainer.search.n_inputs, trainer.search.n_outputs) == (24, 4)
    _check_batched_equals_plain("BipedalWalker-v3", count=2, reps=1, steps=15)

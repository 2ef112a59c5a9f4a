"""WANN: genomes, mutation, NSGA-II, the search's state, swing-up physics and batched == plain evaluation."""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from nograd.envs import BatchedSwingUp, SwingUp, swingup_initial_states
from nograd.seeding import addressed_generator
from nograd.wann import (
    SHARED_WEIGHTS,
    WANN,
    ConnGene,
    Genome,
    GenomeError,
    NodeGene,
    PackedPopulation,
    evaluate_plain,
    evaluate_swingup,
    node_layers,
    nondominated_fronts,
    nsga_rank,
)
from nograd.wann.activations import ACTIVATION_NAMES, PREMULTIPLY, activation, activation_ops, scalar_activation
from nograd.wann.evaluate import PlainNetwork
from nograd.wann.mutation import MUTATIONS, Counters, choose_mutation, mutate


def grown_genomes(count: int, mutations: int, seed: int = 0) -> list[Genome]:
    """Random genomes grown by the search's own mutations from random initial genomes."""
    search = WANN(5, 1, population=max(count, 2), seed=seed)
    out = []
    for i, genome in enumerate(search.ask()[:count]):
        rng = addressed_generator(seed, "test-grow", i)
        for _ in range(mutations):
            genome, _, _ = mutate(genome, rng, search.counters)
        out.append(genome)
    return out


# -- activations and genomes -----------------------------------------------------------------------------------
def test_activations_match_their_scalar_versions():
    x = torch.linspace(-3, 3, 61, dtype=torch.float64)
    for act in ACTIVATION_NAMES:
        expected = torch.tensor([scalar_activation(act, float(v)) for v in x], dtype=torch.float64)
        torch.testing.assert_close(activation(act, x), expected, rtol=1e-12, atol=1e-12)


def test_activation_ops_after_premultiply_give_the_same_bits_as_activation():
    for dtype in (torch.float32, torch.float64):
        x = torch.randn(1000, generator=torch.Generator().manual_seed(0), dtype=dtype) * 4
        x[:4] = torch.tensor([0.0, float("inf"), -float("inf"), float("nan")], dtype=dtype)
        for act in ACTIVATION_NAMES:
            y = x * torch.tensor(PREMULTIPLY.get(act, 1.0), dtype=dtype)
            for op in activation_ops(act, y):
                op()
            torch.testing.assert_close(y, activation(act, x), rtol=0, atol=0, equal_nan=True)


def test_activation_ops_give_each_value_the_same_bits_wherever_it_sits():
    # Vectorised loops and their scalar tails must agree, so a row's values do not depend on its group's length or
    # its offset in it: then a population scored in chunks equals the population scored whole.
    for dtype in (torch.float32, torch.float64):
        x = torch.randn(80, 18, generator=torch.Generator().manual_seed(1), dtype=dtype) * 4
        x[0, :4] = torch.tensor([0.0, float("inf"), -float("inf"), float("nan")], dtype=dtype)
        for act in ACTIVATION_NAMES:
            x_act = x * torch.tensor(PREMULTIPLY.get(act, 1.0), dtype=dtype)
            alone = x_act.clone()
            for r in range(len(x)):  # each row in a group of its own
                for op in activation_ops(act, alone[r : r + 1]):
                    op()
            for start, stop in ((0, 80), (3, 80), (1, 2), (5, 12), (7, 40), (17, 50), (33, 34)):
                y = x_act.clone()
                for op in activation_ops(act, y[start:stop]):
                    op()
                torch.testing.assert_close(y[start:stop], alone[start:stop], rtol=0, atol=0, equal_nan=True)
            for flat in (x_act.flatten()[3:1000], x_act.flatten()[:17]):  # any element offset, any tail length
                y = flat.clone()
                for op in activation_ops(act, y):
                    op()
                each = flat.clone()
                for k in range(len(each)):
                    for op in activation_ops(act, each[k : k + 1]):
                        op()
                torch.testing.assert_close(y, each, rtol=0, atol=0, equal_nan=True)
        # a tanh group and the sigmoid group after it share one tanh op in the packed evaluator
        u = x[:30] * torch.tensor(PREMULTIPLY[6], dtype=dtype)
        both = torch.cat([x[30:41], u])
        both.tanh_()
        for op in activation_ops(6, both[11:], tanh_done=True):
            op()
        torch.testing.assert_close(both[11:], activation(6, x[:30]), rtol=0, atol=0, equal_nan=True)


def test_genome_json_round_trip_and_bad_files(tmp_path):
    genome = grown_genomes(1, 12)[0]
    genome.save(tmp_path / "g.json")
    back = Genome.load(tmp_path / "g.json")
    assert back == genome
    with pytest.raises(GenomeError, match="does not exist"):
        Genome.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(GenomeError, match="not valid JSON"):
        Genome.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(GenomeError, match="Not a nograd WANN genome"):
        Genome.load(tmp_path / "other.json")
    data = genome.to_dict()
    data["conns"] = data["conns"] + [dict(data["conns"][0], innovation=10_000)]
    with pytest.raises(GenomeError, match="appears twice"):
        Genome.from_dict(data)


def test_cycles_are_refused():
    g = Genome.fully_connected(2, 1)
    g.nodes += [NodeGene(4, "hidden", 5), NodeGene(5, "hidden", 5)]
    g.conns += [ConnGene(10, 4, 5), ConnGene(11, 5, 4, enabled=False)]
    with pytest.raises(GenomeError, match="cycle"):
        g.validate()


def test_layers_follow_the_reference():
    g = Genome.fully_connected(2, 1)  # bias 0, inputs 1-2, output 3
    g.nodes += [NodeGene(4, "hidden", 5), NodeGene(5, "hidden", 5)]
    g.conns += [ConnGene(10, 1, 4), ConnGene(11, 4, 5), ConnGene(12, 5, 3)]
    assert node_layers(g) == {0: 0, 1: 0, 2: 0, 4: 1, 5: 2, 3: 3}
    assert node_layers(Genome.fully_connected(2, 1))[3] == 1


# -- mutation --------------------------------------------------------------------------------------------------
def test_roulette_frequencies():
    rng = torch.Generator().manual_seed(0)
    probs = tuple(p for _, p in MUTATIONS)
    counts = Counter(choose_mutation(rng, probs) for _ in range(4000))
    for name, p in MUTATIONS:
        assert abs(counts[name] / 4000 - p) < 0.03, (name, counts)


def test_each_child_differs_by_exactly_one_mutation_and_stays_feed_forward():
    counters = Counters(innovation=100, node=100)
    genome = Genome.fully_connected(5, 1, [True, False, True, False, True, True])
    rng = torch.Generator().manual_seed(1)
    for _ in range(300):
        child, kind, changed = mutate(genome, rng, counters)
        child.validate()  # no cycle, no duplicate connection, no duplicate innovation
        pairs = [(c.src, c.dst) for c in child.conns]
        assert len(pairs) == len(set(pairs))
        layer = node_layers(child)
        assert all(layer[c.dst] > layer[c.src] for c in child.conns)
        new_conns = len(child.conns) - len(genome.conns)
        new_nodes = len(child.nodes) - len(genome.nodes)
        flips = sum(a.enabled != b.enabled for a, b in zip(genome.conns, child.conns))
        acts = sum(a.activation != b.activation for a, b in zip(genome.nodes, child.nodes))
        expected = {
            "add_connection": (1, 0, 0, 0),
            "add_node": (2, 1, 1, 0),
            "enable": (0, 0, 1, 0),
            "activation": (0, 0, 0, 1),
        }[kind]
        assert (new_conns, new_nodes, flips, acts) == (expected if changed else (0, 0, 0, 0))
        if kind == "add_node" and changed:
            assert child.hidden[-1].activation in range(1, 11)
        genome = child
    assert len(genome.hidden) > 10


# -- ranking ---------------------------------------------------------------------------------------------------
def test_nsga_fronts_and_crowding_on_a_hand_made_example():
    objectives = np.array(
        [
            [1.0, 5.0],  # 0: front 0 (end)
            [2.0, 4.0],  # 1: front 0 (middle)
            [3.0, 1.0],  # 2: front 0 (end)
            [1.5, 3.0],  # 3: front 1 (dominated by 1)
            [0.5, 0.5],  # 4: front 2
            [2.0, 4.0],  # 5: a copy of 1: front 0 too (neither dominates)
            [float("nan"), 9.0],  # 6: NaN fitness is the worst fitness, but 9 is the best second objective
        ]
    )
    fronts = nondominated_fronts(objectives)
    assert fronts[0] == [0, 1, 2, 5, 6] or sorted(fronts[0]) == [0, 1, 2, 5, 6]
    assert sorted(fronts[1]) == [3] and fronts[2] == [4]
    rank = nsga_rank(objectives)
    assert sorted(rank.tolist()) == list(range(7))
    # within front 0 the ends (infinite crowding distance) come first: 6 (best second objective), 2 (best first)
    assert set(np.argsort(rank)[:2].tolist()) == {2, 6}
    assert rank[3] == 5 and rank[4] == 6


# -- the search ------------------------------------------------------------------------------------------------
def _fitness(genomes):
    """A cheap deterministic stand-in for an evaluation: rewards enabled connections and hidden nodes."""
    mean = np.array([g.num_enabled + 0.5 * len(g.hidden) for g in genomes], dtype=float)
    return mean, mean + 1.0


def test_search_generations_follow_the_reference_shape():
    search = WANN(5, 1, population=20, seed=3)
    first = search.ask()
    assert len(first) == 20 and all(not g.hidden for g in first)
    search.tell(*_fitness(first))
    rank = search.rank(addressed_generator(3, "wann", 1, "select"))  # the draws ask() will make
    second = search.ask()
    assert len(second) == 20
    # cull floor(0.2*20)=4, elites floor(0.2*16)=3 pass unchanged
    best = [first[i] for i in np.argsort(rank, kind="stable")[:3]]
    assert second[:3] == best
    assert len(search.last_mutations) == 17


def test_state_dict_resume_gives_the_same_next_generations():
    a = WANN(5, 1, population=16, seed=7)
    for _ in range(3):
        a.tell(*_fitness(a.ask()))
    state = json.loads(json.dumps(a.state_dict()))  # plain data: survives JSON
    b = WANN(5, 1, population=16, seed=7)
    b.load_state_dict(state)
    for _ in range(3):
        ga, gb = a.ask(), b.ask()
        assert ga == gb
        a.tell(*_fitness(ga))
        b.tell(*_fitness(gb))
    assert a.state_dict() == b.state_dict()


# -- swing-up --------------------------------------------------------------------------------------------------
def test_swingup_single_step_by_hand():
    env = SwingUp((0.1, 0.2, 3.0, -0.5))
    obs, reward, done = env.step(0.3)
    g, mc, mp, length, b, dt = 9.82, 0.5, 0.5, 0.6, 0.1, 0.01
    F, s, c = 3.0, math.sin(3.0), math.cos(3.0)
    xacc = (-2 * mp * length * 0.25 * s + 3 * mp * g * s * c + 4 * F - 4 * b * 0.2) / (4 * (mc + mp) - 3 * mp * c * c)
    tacc = (-3 * mp * length * 0.25 * s * c + 6 * (mc + mp) * g * s + 6 * (F - b * 0.2) * c) / (
        4 * length * (mc + mp) - 3 * mp * length * c * c
    )
    x, theta = 0.1 + 0.2 * dt, 3.0 - 0.5 * dt
    assert obs == pytest.approx([x, 0.2 + xacc * dt, math.cos(theta), math.sin(theta), -0.5 + tacc * dt], rel=1e-12)
    assert reward == pytest.approx((math.cos(theta) + 1) / 2 * math.cos(x / 2.4 * math.pi / 2), rel=1e-12)
    assert not done
    batched = BatchedSwingUp(torch.tensor([[0.1, 0.2, 3.0, -0.5]], dtype=torch.float64))
    r = batched.step(torch.tensor([0.3], dtype=torch.float64))
    torch.testing.assert_close(batched.obs[:, 0], torch.tensor(obs, dtype=torch.float64), rtol=1e-13, atol=1e-13)
    assert float(r[0]) == pytest.approx(reward, rel=1e-13)


def test_swingup_done_handling_and_reward_bounds():
    starts = swingup_initial_states(0, 0, 4)
    assert starts.shape == (4, 4) and abs(float(starts[:, 2].mean()) - math.pi) < 0.5
    actions = torch.tensor([1.0, -1.0, 0.0, 0.3], dtype=torch.float64)  # push out right, left, nothing, a little
    batched = BatchedSwingUp(starts)
    plain = [SwingUp(tuple(s.tolist())) for s in starts]
    totals = [0.0] * 4
    for _ in range(1000):
        rewards = batched.step(actions)
        assert bool((rewards <= 1.0).all())
        for k, env in enumerate(plain):
            if not env.done:
                _, reward, _ = env.step(float(actions[k]))
                totals[k] += reward
                assert float(rewards[k]) == pytest.approx(reward, rel=1e-9, abs=1e-12)
            else:
                assert float(rewards[k]) == 0.0  # a finished episode earns nothing more
    torch.testing.assert_close(batched.returns, torch.tensor(totals, dtype=torch.float64), rtol=1e-9, atol=1e-9)
    assert plain[0].done and plain[0].t < 1000 and plain[1].done and plain[1].t < 1000
    assert plain[2].t == 1000 and 0 <= totals[2] <= 1000


# -- batched == plain --------------------------------------------------------------------------------------------
def test_packed_network_equals_plain_network_on_random_genomes():
    grown = grown_genomes(12, 25)
    assert all(g.expression == "reference" for g in grown)
    as_genes = [Genome(g.n_inputs, g.n_outputs, g.nodes, g.conns, "genes") for g in grown]
    assert any(g.num_active != h.num_active for g, h in zip(grown, as_genes))  # some split hidden connections
    genomes = grown + as_genes + [Genome.fully_connected(5, 1, [False] * 6)]
    packed = PackedPopulation(genomes, torch.float64)
    values = packed.new_values(len(SHARED_WEIGHTS) * 2)
    inputs = torch.randn(
        5, len(genomes), values.shape[1], generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    packed.input_rows(values).copy_(inputs)
    weight = torch.tensor(SHARED_WEIGHTS, dtype=torch.float64).repeat_interleave(2).view(1, -1)
    out = packed.forward(values, weight)[0]
    for p, genome in enumerate(genomes):
        network = PlainNetwork(genome)
        for col in range(values.shape[1]):
            expected = network(float(weight[0, col]), inputs[:, p, col].tolist())[0]
            assert float(out[p, col]) == pytest.approx(expected, rel=1e-12, abs=1e-12, nan_ok=True)


def test_reference_expression_keeps_a_split_hidden_connection_working(tmp_path):
    # The reference's getNodeOrder sets the hidden block of the weight matrix to 1 wherever it is nonzero, through a
    # view, after marking disabled genes NaN: a disabled hidden -> hidden connection still carries the signal. A
    # disabled connection that touches an input or an output stays off.
    from nograd.wann.export import to_module

    nodes = [NodeGene(0, "bias")] + [NodeGene(i, "input") for i in range(1, 6)] + [NodeGene(6, "output")]
    nodes += [NodeGene(7, "hidden", 1), NodeGene(8, "hidden", 1), NodeGene(9, "hidden", 7)]  # 9 is -x
    conns = [ConnGene(k, k, 6, 1.0, False) for k in range(6)]
    conns += [
        ConnGene(10, 1, 7),
        ConnGene(11, 7, 8, 1.0, False),  # split into 7 -> 9 -> 8
        ConnGene(12, 7, 9),
        ConnGene(13, 9, 8),
        ConnGene(14, 8, 6),
        ConnGene(15, 2, 8, 1.0, False),  # disabled input -> hidden: off in both expressions
    ]
    w, x = 2.0, [1.0, 5.0, 0.0, 0.0, 0.0]
    expected = {"genes": -(w**4) * x[0], "reference": w**3 * x[0] - w**4 * x[0]}  # -16, -8
    for expression, value in expected.items():
        genome = Genome(5, 1, nodes, conns, expression)
        genome.validate()
        assert genome.num_active == {"genes": 4, "reference": 5}[expression] and genome.num_enabled == 4
        assert PlainNetwork(genome)(w, x) == [value]
        packed = PackedPopulation([genome], torch.float64)
        values = packed.new_values(1)
        packed.input_rows(values).copy_(torch.tensor(x, dtype=torch.float64).view(5, 1, 1))
        assert float(packed.forward(values, torch.tensor([[w]], dtype=torch.float64))[0, 0, 0]) == value
        assert to_module(genome, w, dtype=torch.float64)(torch.tensor([x], dtype=torch.float64)).item() == value
        genome.save(tmp_path / f"{expression}.json")
        assert Genome.load(tmp_path / f"{expression}.json").expression == expression
    data = Genome(5, 1, nodes, conns, "reference").to_dict()
    del data["expression"]  # files written before the field: the genes' own meaning
    assert Genome.from_dict(data).expression == "genes"
    with pytest.raises(GenomeError, match="Unknown genome expression"):
        Genome(5, 1, nodes, conns, "neat").validate()


def test_packed_parent_sums_by_embedding_bag_and_by_csr_product_give_the_same_bits(monkeypatch):
    genomes = grown_genomes(12, 25) + [Genome.fully_connected(5, 1, [False] * 6)]
    weight = torch.tensor(SHARED_WEIGHTS).repeat_interleave(2).view(1, -1)
    inputs = torch.randn(5, len(genomes), weight.shape[1], generator=torch.Generator().manual_seed(1)) * 2
    for dtype in (torch.float32, torch.float64):
        outs = []
        for fused in ((), (dtype,)):
            monkeypatch.setattr(PackedPopulation, "EMBEDDING_BAG_DTYPES", fused)
            packed = PackedPopulation(genomes, dtype)
            values = packed.new_values(weight.shape[1])
            packed.input_rows(values).copy_(inputs)
            outs.append(packed.forward(values, weight.to(dtype)).clone())
        torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_batched_returns_equal_plain_returns_on_random_genomes(backend):
    genomes = grown_genomes(10, 20, seed=1)
    steps = 40  # closed-loop swing-up amplifies last-bit differences of sin/cos over long horizons
    kwargs = {"steps": steps, "dtype": torch.float64, "backend": backend}
    returns = evaluate_swingup(genomes, seed=5, generation=2, reps=2, **kwargs)
    starts = swingup_initial_states(5, 2, 2)
    for p, genome in enumerate(genomes):
        for w, weight in enumerate(SHARED_WEIGHTS):
            for r in range(2):
                expected = evaluate_plain(genome, weight, starts[r].tolist(), steps)
                assert float(returns[p, w, r]) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_numba_kernel_equals_plain_returns_on_both_expressions_empty_genomes_and_early_ends():
    from nograd.wann.swingup_kernel import compile_population, rollouts

    grown = grown_genomes(8, 25, seed=0)  # (some grown networks amplify last-bit differences within 40 steps)
    as_genes = [Genome(g.n_inputs, g.n_outputs, g.nodes, g.conns, "genes") for g in grown]
    assert any(g.num_active != h.num_active for g, h in zip(grown, as_genes))  # some split hidden connections
    empty = Genome.fully_connected(5, 1, [False] * 6)  # no active connection: the output is 0
    push = Genome.fully_connected(5, 1, [True] + [False] * 5)  # bias -> output only: the weight pushes the cart
    genomes = grown + as_genes + [empty, push]
    # a generic start, and two carts that leave |x| <= 2.4 within a few steps
    starts = np.array([[0.1, -0.2, 3.0, 0.3], [2.3, 3.0, 3.0, 0.5], [-2.0, -4.0, 2.5, -1.0]])
    steps = 40
    for start in starts[1:]:
        env = SwingUp(tuple(start))
        while not env.done:
            env.step(0.0)
        assert env.t < 20
    out = rollouts(compile_population(genomes), SHARED_WEIGHTS, starts, steps, np.float64)
    assert out.dtype == np.float64 and out.shape == (len(genomes), len(SHARED_WEIGHTS), 3)
    for p, genome in enumerate(genomes):
        for w, weight in enumerate(SHARED_WEIGHTS):
            for r, start in enumerate(starts):
                expected = evaluate_plain(genome, weight, start.tolist(), steps)
                assert out[p, w, r] == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_numba_and_torch_backends_agree_and_float32_stays_float32():
    # (some grown networks, e.g. chains of cos(pi x) at weight 2, amplify last-bit differences within 30 steps)
    genomes = grown_genomes(10, 20, seed=1) + [Genome.fully_connected(5, 1, [False] * 6)]
    kwargs = {"seed": 4, "generation": 1, "reps": 2, "steps": 40}
    f64 = evaluate_swingup(genomes, dtype=torch.float64, backend="numba", **kwargs)
    expected = evaluate_swingup(genomes, dtype=torch.float64, backend="torch", **kwargs)
    torch.testing.assert_close(f64, expected, rtol=1e-9, atol=1e-9)
    f32 = evaluate_swingup(genomes, dtype=torch.float32, backend="numba", **kwargs)
    assert f32.dtype == torch.float32
    torch.testing.assert_close(f32.double(), f64, rtol=1e-3, atol=1e-3)
    assert not torch.equal(f32, f64.float())  # computed in float32, not in float64 and rounded at the end
    f32_torch = evaluate_swingup(genomes, dtype=torch.float32, backend="torch", **kwargs)
    torch.testing.assert_close(f32, f32_torch, rtol=1e-3, atol=1e-3)


def test_numba_returns_do_not_depend_on_threads_or_blocks(monkeypatch):
    from nograd.wann import swingup_kernel

    genomes = grown_genomes(9, 25, seed=7)
    many = {"weights": torch.linspace(-2, 2, 41).tolist(), "reps": 4}  # 164 columns of one genome: 3 blocks
    for dtype in (torch.float32, torch.float64):
        for population, kwargs in ((genomes, {"reps": 2}), (genomes[:1], many)):
            kwargs = {"seed": 3, "steps": 300, "dtype": dtype, "backend": "numba", **kwargs}
            runs = [evaluate_swingup(population, threads=threads, **kwargs) for threads in (1, 2, 3)]
            monkeypatch.setattr(swingup_kernel, "BLOCK", 5)
            runs.append(evaluate_swingup(population, threads=2, **kwargs))
            monkeypatch.undo()
            for out in runs[1:]:
                torch.testing.assert_close(out, runs[0], rtol=0, atol=0, equal_nan=True)


def test_swingup_backend_choice_and_errors(monkeypatch):
    import sys

    from nograd.errors import MissingExtraError
    from nograd.wann import evaluate

    genomes = [Genome.fully_connected(5, 1)]
    assert evaluate.resolve_backend("auto", torch.float32) == "numba"
    assert evaluate.resolve_backend("auto", torch.float16) == "torch"
    with pytest.raises(ValueError, match="float32 or float64"):
        evaluate.resolve_backend("numba", torch.float16)
    with pytest.raises(ValueError, match="Unknown swing-up backend 'jax'; valid: auto, numba, torch"):
        evaluate_swingup(genomes, steps=2, backend="jax")
    with pytest.raises(ValueError, match="5 inputs and 1 output"):
        evaluate_swingup([Genome.fully_connected(4, 1)], steps=2, backend="numba")
    bad = grown_genomes(1, 10)[0]
    bad.nodes = [NodeGene(n.id, n.kind, 99) if n.kind == "hidden" else n for n in bad.nodes]
    with pytest.raises(ValueError, match="Unknown WANN activation id 99"):
        evaluate_swingup([bad], steps=2, backend="numba")
    # without numba, auto falls back to torch and numba says what to install
    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.setattr(evaluate, "_numba_import", [])
    assert evaluate.resolve_backend("auto") == "torch"
    with pytest.raises(MissingExtraError, match="pip install numba"):
        evaluate_swingup(genomes, steps=2, backend="numba")
    torch.testing.assert_close(
        evaluate_swingup(genomes, steps=5), evaluate_swingup(genomes, steps=5, backend="torch"), rtol=0, atol=0
    )


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_dedupe_and_early_stop_do_not_change_returns(backend):
    genomes = grown_genomes(6, 10, seed=2)
    genomes = genomes + [genomes[0].copy(), genomes[3].copy()]
    common = {"seed": 1, "generation": 0, "reps": 2, "steps": 150, "dtype": torch.float64, "backend": backend}
    base = evaluate_swingup(genomes, dedupe=False, **common)
    torch.testing.assert_close(base[-2], base[0], rtol=0, atol=0)
    for kwargs in ({"dedupe": True}, {"early_stop": False}):  # workers: see the worker pool's test
        out = evaluate_swingup(genomes, **common, **kwargs)
        torch.testing.assert_close(out, base, rtol=0, atol=0)


def test_a_population_scored_in_chunks_equals_the_population_scored_whole():
    from nograd.wann.evaluate import _balanced_chunks, _rollouts

    genomes = grown_genomes(14, 25, seed=3)
    for dtype in (torch.float32, torch.float64):
        args = (4, 1, 2, SHARED_WEIGHTS, 120, dtype, False)
        whole = _rollouts(genomes, *args)
        splits = [
            [list(range(14))[k::3] for k in range(3)],  # interleaved
            [[0], list(range(1, 9)), list(range(9, 14))],
            [[i] for i in range(14)],  # one genome each
            _balanced_chunks(genomes, 2),
        ]
        for chunks in splits:
            out = torch.empty_like(whole)
            for part in chunks:
                out[torch.tensor(part)] = _rollouts([genomes[i] for i in part], *args)
            torch.testing.assert_close(out, whole, rtol=0, atol=0, equal_nan=True)


def test_worker_pool_gives_the_same_bits_as_one_process_and_fails_cleanly():
    from dataclasses import replace

    from nograd.wann import SwingUpPool
    from nograd.wann.evaluate import WorkerError

    genomes = grown_genomes(9, 20, seed=4)
    with SwingUpPool(2) as pool:
        for dtype, generation in ((torch.float32, 0), (torch.float64, 1)):  # the same pool, reused
            kwargs = {"seed": 2, "generation": generation, "reps": 2, "steps": 100, "dtype": dtype, "backend": "torch"}
            torch.testing.assert_close(
                evaluate_swingup(genomes, pool=pool, **kwargs), evaluate_swingup(genomes, **kwargs), rtol=0, atol=0
            )
        bad = genomes[1].copy()
        bad.nodes = [replace(n, activation=99) if n.kind == "hidden" else n for n in bad.nodes]
        with pytest.raises(WorkerError, match="KeyError: 99; the pool is shut down"):
            evaluate_swingup([genomes[0], bad], reps=1, steps=5, pool=pool, backend="torch")
        assert pool.closed
        with pytest.raises(WorkerError, match="closed"):
            evaluate_swingup(genomes, reps=1, steps=5, pool=pool, backend="torch")


# -- trainer and CLI ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", ["torch", "numba"])
def test_wann_cli_trains_saves_champion_and_resumes_exactly(tmp_path, kernel):
    import yaml
    from click.testing import CliRunner

    from nograd.cli.main import cli
    from nograd.runs import load_checkpoint

    args = ["wann", "train", "swingup", "-p", "8", "--reps", "1", "--steps", "60", "--dtype", "float64", "-q"]
    args += ["--kernel", kernel]
    full = CliRunner().invoke(cli, [*args, "-g", "4", "-o", str(tmp_path / "a")])
    assert full.exit_code == 0, full.output
    assert "champion mean fitness" in full.output
    (run_a,) = (tmp_path / "a").iterdir()
    assert Genome.load(run_a / "champion.json").num_enabled >= 0
    rows = (run_a / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("generation,") and len(rows) == 5

    half = CliRunner().invoke(cli, [*args, "-g", "2", "-o", str(tmp_path / "b")])
    assert half.exit_code == 0, half.output
    (run_b,) = (tmp_path / "b").iterdir()
    assert yaml.safe_load((run_b / "config.yaml").read_text())["kernel"] == kernel
    # the rest in two worker processes (torch; numba ignores workers): the same bits
    resumed = CliRunner().invoke(cli, ["wann", "train", "--resume", str(run_b), "-g", "4", "--workers", "2", "-q"])
    assert resumed.exit_code == 0, resumed.output
    a, b = load_checkpoint(run_a / "checkpoints/last.pt"), load_checkpoint(run_b / "checkpoints/last.pt")
    assert a["search"] == b["search"]
    assert a["trainer"]["champion"] == b["trainer"]["champion"]
    assert len((run_b / "metrics.csv").read_text().splitlines()) == 5
    changed = CliRunner().invoke(cli, ["wann", "train", "--resume", str(run_b), "-g", "5", "--kernel", "torch"])
    assert changed.exit_code == 2 and "only -g/--generations, --device, --backend" in changed.output
    # `nograd resume` knows a WANN run folder (this one is done: its config asks for 4 generations)
    again = CliRunner().invoke(cli, ["resume", str(run_b), "-q"])
    assert again.exit_code == 0 and "after 4 generations" in again.output, again.output

    bad = CliRunner().invoke(cli, ["wann", "train", "cartpole"])
    assert bad.exit_code == 2 and "Unknown WANN task 'cartpole'" in bad.output


@pytest.mark.parametrize("saved", [{}, {"backend": "numba"}])
def test_wann_runs_made_before_the_kernel_option_resume_with_their_kernel(tmp_path, saved):
    import yaml

    from nograd.train_wann import resume_wann, train_wann

    config = {"task": "swingup", "population": 6, "generations": 1, "reps": 1, "steps": 20, "out": str(tmp_path)}
    trainer = train_wann(config, progress=False)
    assert trainer.config["kernel"] == "numba"  # "auto", resolved where numba is installed
    assert trainer.config["backend"] == "local"
    path = trainer.run.path / "config.yaml"
    old = yaml.safe_load(path.read_text())
    del old["kernel"], old["backend"], old["ray_address"], old["chunk_size"]
    old.update(saved)  # before the kernel option: none (torch); then the kernel was called backend
    path.write_text(yaml.safe_dump(old))
    resumed = resume_wann(trainer.run.path, progress=False, generations=2).config
    assert resumed["kernel"] == saved.get("backend", "torch") and resumed["backend"] == "local"


# -- classification ----------------------------------------------------------------------------------------------
def test_classification_scores_equal_a_plain_softmax_cross_entropy():
    from nograd.tasks.wann_images import wann_images
    from nograd.wann.classify import classification_batch, evaluate_classification

    inputs, labels = wann_images("digits", "train")
    assert inputs.shape[1] == 64 and float(inputs.max()) <= 1.0
    search = WANN(64, 10, population=6, p_init_enable=0.05, seed=0)
    genomes = []
    for i, genome in enumerate(search.ask()):
        rng = addressed_generator(0, "test-classify", i)
        for _ in range(15):
            genome, _, _ = mutate(genome, rng, search.counters, activations=(1, 3, 4, 5, 6, 7, 8, 9, 10))
        genomes.append(genome)
    scores = evaluate_classification(
        genomes, inputs, labels, seed=2, generation=1, reps=2, batch=40, dtype=torch.float64
    )
    chunked = evaluate_classification(
        genomes, inputs, labels, seed=2, generation=1, reps=2, batch=40, dtype=torch.float64, max_elements=1
    )
    torch.testing.assert_close(chunked, scores, rtol=1e-12, atol=1e-12)
    for r in range(2):
        idx = classification_batch(len(labels), 40, 2, 1, r)
        for p in (0, 3, 5):
            network = PlainNetwork(genomes[p])
            for w, weight in enumerate(SHARED_WEIGHTS):
                losses = []
                for k in idx.tolist():
                    out = network(weight, inputs[k].double().tolist())
                    top = max(out)
                    log_z = top + math.log(sum(math.exp(o - top) for o in out))
                    losses.append(log_z - out[int(labels[k])])
                assert float(scores[p, w, r]) == pytest.approx(-sum(losses) / len(losses), rel=1e-9, abs=1e-9)


def test_wann_trainer_runs_digits(tmp_path):
    from nograd.train_wann import train_wann

    trainer = train_wann(
        {"task": "digits", "population": 8, "generations": 2, "batch": 50, "out": str(tmp_path)}, progress=False
    )
    summary = trainer.summary()
    assert summary["generations"] == 2 and summary["champion_fitness"] < 0  # minus a cross-entropy
    assert trainer.search.n_inputs == 64 and trainer.search.n_outputs == 10
    assert 2 not in trainer.search.activations  # no step function for classification, as in the reference


def test_wann_draw_writes_png_and_svg(tmp_path):
    from click.testing import CliRunner

    from nograd.cli.main import cli

    genome = grown_genomes(1, 15)[0]
    genome.save(tmp_path / "champion.json")
    result = CliRunner().invoke(cli, ["wann", "draw", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "champion.png").stat().st_size > 1000
    result = CliRunner().invoke(cli, ["wann", "draw", str(tmp_path / "champion.json"), "-o", str(tmp_path / "g.svg")])
    assert result.exit_code == 0 and (tmp_path / "g.svg").read_text().lstrip().startswith("<?xml")
    missing = CliRunner().invoke(cli, ["wann", "draw", str(tmp_path / "nothing.json")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_wann_eval_prints_the_table_and_individual_weights_reduce_to_shared(tmp_path):
    from click.testing import CliRunner

    from nograd.cli.main import cli
    from nograd.wann.export import to_module

    genome = grown_genomes(1, 12, seed=4)[0]
    start = swingup_initial_states(0, 0, 1)[0].tolist()
    ones = {(c.src, c.dst): -0.5 for c in genome.conns if c.enabled}
    assert evaluate_plain(genome, 1.0, start, 200, conn_weights=ones) == evaluate_plain(genome, -0.5, start, 200)
    genome.save(tmp_path / "champion.json")
    tune = ["--tune-generations", "2", "--tune-population", "4", "--tune-reps", "1", "--sweep", "5", "-q"]
    result = CliRunner().invoke(cli, ["wann", "eval", str(tmp_path), "-n", "3", *tune])
    assert result.exit_code == 0, result.output
    for row in ("random individual weights", "random shared weight", "tuned shared weight", "tuned individual"):
        assert row in result.output
    assert "932 ± 6" in result.output and "723 ± 16" in result.output
    saved = json.loads((tmp_path / "eval.json").read_text())
    assert saved["task"] == "swingup" and saved["random_shared_weight"]["trials"] == 3
    assert saved["tuned_individual_weights"]["trials"] == 3 and saved["ensemble_shared_weights"] is None
    # every episode the tuner ran: the start on the 128 selection episodes, then per initial step (3 by default)
    # 2 generations of 4 and its 4 finalists (best of generations 0 and 1, mean before 1, final mean) on 128
    assert saved["tuning"]["episodes"] == 128 + 3 * (2 * 4 + 4 * 128)
    assert saved["tuning"]["sigma"] == [0.5, 0.1, 0.02] and len(saved["tuning"]["weights"]) == genome.num_enabled
    # the tuned genome stores its weights in the connection genes; to_module(weight=None) uses them
    tuned = Genome.load(tmp_path / "champion-tuned.json")
    module = to_module(tuned, weight=None, dtype=torch.float64)
    assert module.weight.tolist() == pytest.approx(saved["tuning"]["weights"], rel=1e-12)
    again = CliRunner().invoke(cli, ["wann", "eval", str(tmp_path / "champion.json"), "-n", "3", *tune])
    assert again.exit_code == 0, again.output
    assert (
        json.loads((tmp_path / "champion.eval.json").read_text())["tuned_individual_weights"]
        == (saved["tuned_individual_weights"])
    )


def _digits_genome(mutations: int = 15) -> Genome:
    search = WANN(64, 10, population=2, p_init_enable=0.3, seed=0)
    genome = search.ask()[0]
    rng = addressed_generator(0, "test-digits-eval")
    for _ in range(mutations):
        genome, _, _ = mutate(genome, rng, search.counters, activations=(1, 3, 4, 5, 6, 7, 8, 9, 10))
    return genome


def test_wann_eval_digits_has_all_five_columns(tmp_path):
    from click.testing import CliRunner

    from nograd.cli.main import cli

    _digits_genome().save(tmp_path / "champion.json")
    args = ["wann", "eval", str(tmp_path), "-n", "3", "--sweep", "5", "--adam-steps", "30", "--adam-lr", "0.05", "-q"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "ensemble of shared weights" in result.output and "94.2%" in result.output and "%" in result.output
    saved = json.loads((tmp_path / "eval.json").read_text())
    assert saved["task"] == "digits" and saved["unit"] == "accuracy"
    for key in ("random_individual_weights", "random_shared_weight", "tuned_shared_weight", "ensemble_shared_weights"):
        assert 0.0 <= saved[key]["mean"] <= 1.0
    assert saved["random_shared_weight"]["trials"] == 3
    # Adam starts from the tuned shared weight and only trains on training images: it should not get worse there
    assert saved["tuning"]["train_accuracy"] >= saved["tuned_shared_weight_train_accuracy"] - 0.02
    assert saved["tuned_individual_weights"]["mean"] > 0.1


def test_wann_eval_rejects_bad_input(tmp_path):
    from click.testing import CliRunner

    from nograd.cli.main import cli

    def run(*args):
        out = CliRunner().invoke(cli, ["wann", "eval", *map(str, args)])
        assert out.exit_code == 2, out.output
        return out.output

    assert "does not exist" in run(tmp_path / "nothing")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text("task:\n  name: addition\nmethod:\n  name: hillclimb\n")
    assert "not a WANN run folder" in run(tmp_path / "run")
    genome = grown_genomes(1, 3)[0]
    genome.save(tmp_path / "g.json")
    assert "Unknown WANN task 'cartpole'" in run(tmp_path / "g.json", "--task", "cartpole")
    assert "needs a genome with 64 inputs" in run(tmp_path / "g.json", "--task", "digits")
    assert "at least 2" in run(tmp_path / "g.json", "-n", "1")
    Genome.fully_connected(256, 10).save(tmp_path / "m.json")
    assert "pass --task" in run(tmp_path / "m.json")
    (tmp_path / "bad.json").write_text("{}")
    assert "Not a nograd WANN genome" in run(tmp_path / "bad.json")


# -- export and tuned weights ------------------------------------------------------------------------------------
def test_exported_module_equals_the_plain_network():
    from nograd.wann.export import to_module

    genomes = grown_genomes(10, 25, seed=3) + [Genome.fully_connected(5, 1, [False] * 6), _digits_genome(20)]
    rng = torch.Generator().manual_seed(0)
    for genome in genomes:
        x = torch.randn(6, genome.n_inputs, generator=rng, dtype=torch.float64)
        shared = to_module(genome, -1.5, dtype=torch.float64)
        assert isinstance(shared, torch.nn.Module) and shared(x).shape == (6, genome.n_outputs)
        weights = torch.randn(len(shared.connections), generator=rng, dtype=torch.float64) * 2
        individual = to_module(genome, weights, dtype=torch.float64)
        plain_shared = PlainNetwork(genome)
        plain_individual = PlainNetwork(genome, dict(zip(individual.connections, weights.tolist())))
        out_shared, out_individual = shared(x), individual(x)
        for b in range(6):
            expected = plain_shared(-1.5, x[b].tolist())
            assert out_shared[b].tolist() == pytest.approx(expected, rel=1e-12, abs=1e-12, nan_ok=True)
            expected = plain_individual(1.0, x[b].tolist())
            assert out_individual[b].tolist() == pytest.approx(expected, rel=1e-12, abs=1e-12, nan_ok=True)
    with pytest.raises(ValueError, match="one entry per active connection"):
        to_module(genomes[0], [1.0, 2.0])


def test_adam_trains_the_exported_module():
    from nograd.wann.export import to_module

    genome = _digits_genome(20)
    module = to_module(genome, 0.5)
    x = torch.rand(64, 64, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 10, (64,), generator=torch.Generator().manual_seed(2))
    optimizer = torch.optim.Adam(module.parameters(), lr=0.05)
    first = None
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(module(x), y)
        first = float(loss.detach()) if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        assert float(torch.nn.functional.cross_entropy(module(x), y)) < first - 0.05
    assert not torch.equal(module.weight.detach(), torch.full_like(module.weight, 0.5))


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_batched_weight_rollouts_equal_plain_rollouts(backend):
    from nograd.wann.export import active_connections
    from nograd.wann.tune import addressed_starts, rollout_weights

    grown = grown_genomes(8, 25, seed=0)  # (some grown networks amplify last-bit differences within 40 steps)
    as_genes = [Genome(g.n_inputs, g.n_outputs, g.nodes, g.conns, "genes") for g in grown]
    assert any(g.num_active != h.num_active for g, h in zip(grown, as_genes))  # some split hidden connections
    push = Genome.fully_connected(5, 1, [True] + [False] * 5)  # bias -> output only: the weight pushes the cart
    # a generic start, and a cart that leaves |x| <= 2.4 within a few steps
    starts = torch.cat([addressed_starts(0, "test", 0, 2), torch.tensor([[2.3, 3.0, 3.0, 0.5]], dtype=torch.float64)])
    rng = torch.Generator().manual_seed(0)
    for genome in grown + as_genes + [push]:
        conns = active_connections(genome)
        weights = torch.randn(3, len(conns), generator=rng, dtype=torch.float64)
        returns = rollout_weights(genome, weights, starts, steps=40, backend=backend)
        assert returns.dtype == torch.float64 and returns.shape == (3, 3)
        paired = rollout_weights(genome, weights[:2], starts[:2].unsqueeze(1), steps=40, backend=backend)
        for k in range(3):
            for r in range(3):
                expected = evaluate_plain(genome, 1.0, starts[r].tolist(), 40, dict(zip(conns, weights[k].tolist())))
                assert float(returns[k, r]) == pytest.approx(expected, rel=1e-9, abs=1e-9)
        assert paired[:, 0].tolist() == pytest.approx([float(returns[0, 0]), float(returns[1, 1])], rel=1e-12)


def test_numba_and_torch_weight_rollouts_agree_with_per_vector_starts_on_any_threads():
    from nograd.wann.tune import addressed_starts, rollout_weights

    rng = torch.Generator().manual_seed(1)
    for genome in grown_genomes(6, 20, seed=1) + [Genome.fully_connected(5, 1, [False] * 6)]:
        weights = torch.randn(5, genome.num_active, generator=rng, dtype=torch.float64) * 0.7 + 1.0
        shared = addressed_starts(2, "test", 0, 3)
        own = torch.stack([addressed_starts(2, "test-own", k, 3) for k in range(5)])  # [K, R, 4]
        for states in (shared, own):
            numba_out = rollout_weights(genome, weights, states, steps=40, backend="numba", threads=1)
            torch_out = rollout_weights(genome, weights, states, steps=40, backend="torch")
            torch.testing.assert_close(numba_out, torch_out, rtol=1e-9, atol=1e-9)
        for k in range(5):  # vector k from its own starts: the same as vector k alone from those starts
            alone = rollout_weights(genome, weights[k : k + 1], own[k], steps=40, backend="numba")
            torch.testing.assert_close(alone[0], numba_out[k], rtol=0, atol=0)
        f32 = rollout_weights(genome, weights, own, steps=40, dtype=torch.float32, backend="numba")
        assert f32.dtype == torch.float32
        torch.testing.assert_close(f32.double(), numba_out, rtol=1e-3, atol=1e-3)


def test_numba_weight_rollouts_do_not_depend_on_threads_or_blocks(monkeypatch):
    from nograd.wann import swingup_kernel
    from nograd.wann.export import GenomeModule
    from nograd.wann.tune import addressed_starts, rollout_weights

    genome = grown_genomes(1, 25, seed=7)[0]
    module = GenomeModule(genome, dtype=torch.float64)  # a module serves as well as its genome
    weights = 1.0 + 0.3 * torch.randn(40, genome.num_active, generator=torch.Generator().manual_seed(3))
    starts = addressed_starts(3, "test", 0, 4)  # 160 columns: 3 blocks
    for dtype in (torch.float32, torch.float64):
        kwargs = {"steps": 300, "dtype": dtype, "backend": "numba"}
        runs = [rollout_weights(module, weights, starts, threads=threads, **kwargs) for threads in (1, 2, 3)]
        monkeypatch.setattr(swingup_kernel, "BLOCK", 7)
        runs.append(rollout_weights(genome, weights, starts, threads=2, **kwargs))
        monkeypatch.undo()
        assert runs[0].dtype == dtype
        for out in runs[1:]:
            torch.testing.assert_close(out, runs[0], rtol=0, atol=0, equal_nan=True)


def test_cmaes_minimises_a_rotated_ellipsoid():
    from nograd.wann.tune import CMAES

    rotation, _ = torch.linalg.qr(torch.randn(6, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    scales = torch.logspace(0, 2, 6, dtype=torch.float64)

    def loss(x):
        return ((x @ rotation) ** 2 * scales).sum(dim=1)

    es = CMAES(torch.full((6,), 2.0), sigma=1.0, seed=1)
    for _ in range(150):
        candidates = es.ask()
        es.tell(candidates, -loss(candidates))
    assert float(loss(es.mean.view(1, -1))) < 1e-6


def test_tuning_individual_weights_keeps_the_start_if_nothing_beats_it():
    from nograd.wann.tune import tune_swingup_weights

    genome = grown_genomes(1, 12, seed=4)[0]
    out = tune_swingup_weights(genome, 1.0, generations=3, population=6, reps=2, select_reps=4, steps=100)
    assert len(out["weights"]) == genome.num_enabled and len(out["history"]) == 3 * 3  # 3 generations per sigma
    assert out["selection_return"] >= out["start_selection_return"]
    threads = torch.get_num_threads()
    again = tune_swingup_weights(genome, 1.0, generations=3, population=6, reps=2, select_reps=4, steps=100, threads=2)
    assert again["weights"] == out["weights"]  # seeded, whatever the threads
    assert torch.get_num_threads() == threads  # the CMA-ES ran on one torch thread; the setting is restored


def test_parents_are_the_better_of_two_tournaments_as_in_the_reference():
    # The reference (recombine) draws parents A and B by tournaments of select_tournSize, sorts each pair, and with
    # prob_crossover=0 mutates the fitter one: in effect a tournament of 2 * tournament_size.
    search = WANN(5, 1, population=400, tournament_size=8, seed=5)
    genomes = search.ask()
    search.tell(*_fitness(genomes))
    search.ask()
    parents = np.array(search.last_parents)
    n = 400 - 80  # the pool after culling 20%
    assert len(parents) == 400 - 64 and parents.min() >= 0 and parents.max() < n

    def expected_min(k):  # E[min of k uniform draws with replacement from range(n)]
        return sum(((n - i) / n) ** k for i in range(1, n))

    assert abs(parents.mean() - expected_min(16)) < 4 < abs(parents.mean() - expected_min(8))


def test_reference_matrix_loader_maps_nodes_nan_and_activations():
    from nograd.wann.reference import conn_weights, parse_reference_matrix

    # 2 inputs, 1 hidden, 1 output; order: bias, in1, in2, hidden, output; last column: activation ids
    text = "\n".join(
        [
            "0,0,0,1,nan,1",  # bias -> hidden (enabled), bias -> output (disabled)
            "0,0,0,0.5,0,1",  # in1 -> hidden, weight 0.5
            "0,0,0,0,-2,1",  # in2 -> output, weight -2
            "0,0,0,0,1,5",  # hidden (tanh) -> output
            "0,0,0,0,0,1",  # output (linear)
        ]
    )
    g = parse_reference_matrix(text, n_inputs=2, n_outputs=1)
    assert [(n.id, n.kind, n.activation) for n in g.nodes] == [
        (0, "bias", 1),
        (1, "input", 1),
        (2, "input", 1),
        (3, "output", 1),
        (4, "hidden", 5),
    ]
    assert conn_weights(g) == {(0, 4): 1.0, (1, 4): 0.5, (2, 3): -2.0, (4, 3): 1.0}
    assert [(c.src, c.dst) for c in g.conns if not c.enabled] == [(0, 3)]
    net = PlainNetwork(g, conn_weights(g))
    x1, x2 = 0.3, -0.7
    assert net(1.0, [x1, x2])[0] == pytest.approx(math.tanh(1.0 + 0.5 * x1) - 2.0 * x2)


def test_reference_crowding_lets_fitness_spacing_decide_within_a_front():
    # one front (higher fitness, lower second objective). By hand, the inner two: fitness gaps 25 (genome 1) and
    # 20 (genome 3), second-objective gaps 0.20 and 0.38. The reference scales them by |1/40 - 10| and |1/0.5 - 0.1|
    # (fitness wins: 1 before 3); NSGA-II by the ranges 30 and 0.4 (0.83 + 0.50 < 0.67 + 0.95: 3 before 1).
    objectives = np.array([[10, 0.5], [20, 0.48], [40, 0.1], [35, 0.3]])
    assert len(nondominated_fronts(objectives)) == 1
    order = lambda rank: np.argsort(rank).tolist()  # noqa: E731
    assert order(nsga_rank(objectives, "reference")) == [0, 2, 1, 3]
    assert order(nsga_rank(objectives, "nsga2")) == [0, 2, 3, 1]
    with pytest.raises(ValueError, match="Unknown crowding rule"):
        nsga_rank(objectives, "other")


def test_champion_must_win_again_on_fresh_episodes(tmp_path):
    from nograd.train_wann import train_wann

    config = {"task": "swingup", "population": 12, "generations": 4, "steps": 40, "out": str(tmp_path)}
    retested = train_wann({**config, "champion_retests": 2}, progress=False)
    # the champion's fitness is its score on its re-test episodes (generation -3 - g, 2 x 3 reps per weight)
    scores = [
        float(retested._returns([retested.champion], -3 - g, 6).to(torch.float64).mean())
        for g in range(config["generations"])
    ]
    assert retested.champion_fitness in scores
    plain = train_wann({**config, "champion_retests": 0}, progress=False)
    with open(Path(plain.run.path) / "metrics.csv") as f:
        best = [float(row["best_fitness"]) for row in csv.DictReader(f)]
    assert plain.champion_fitness == pytest.approx(max(best))  # without re-tests: the best noisy score
    assert retested.champion_fitness != pytest.approx(max(best))


def test_tuning_runs_once_per_sigma_each_from_the_best_point_so_far():
    from nograd.wann.tune import tune_swingup_weights

    genome = grown_genomes(1, 12, seed=4)[0]
    kw = dict(generations=2, population=6, reps=2, select_reps=4, steps=60, dtype=torch.float64)
    out = tune_swingup_weights(genome, 1.0, sigma=[0.5, 0.1], **kw)
    assert len(out["history"]) == 4 and [p["sigma"] for p in out["phases"]] == [0.5, 0.1]
    first, second = out["phases"]
    assert first["start_selection_return"] == out["start_selection_return"]
    assert second["start_selection_return"] == first["selection_return"] >= first["start_selection_return"]
    assert out["selection_return"] == second["selection_return"] >= second["start_selection_return"]
    # the first run is the single-sigma tuner; each run's finalists: best of 2 generations, 1 mean before the
    # last, the final mean
    alone = tune_swingup_weights(genome, 1.0, sigma=0.5, **kw)
    assert alone["phases"] == [first] and alone["history"] == out["history"][:2]
    assert out["episodes"] == 4 + 2 * (2 * 6 * 2 + 4 * 4)
    with pytest.raises(ValueError, match="positive"):
        tune_swingup_weights(genome, 1.0, sigma=[], **kw)


def test_wann_eval_cli_sweeps_as_many_shared_weights_as_the_library():
    import inspect

    from nograd.cli.main import cli
    from nograd.wann.assess import SWEEP, assess_classification, assess_swingup, eval_wann

    option = next(p for p in cli.commands["wann"].commands["eval"].params if p.name == "sweep")
    assert option.default == SWEEP == 401  # a step of 0.01 over [-2, 2]
    for function in (assess_swingup, assess_classification, eval_wann):
        assert inspect.signature(function).parameters["sweep"].default == SWEEP

"""nograd's WANN search side by side with the authors' own search code, both scored by nograd's evaluator.

    PYTHONPATH=src python benchmarks/wann_reference.py --reference-dir PATH [--seeds 3] [--generations 250]
    PYTHONPATH=src python benchmarks/wann_reference.py --reference-dir PATH --champions DIR [--seeds 6] \
        [--compare RUN_DIR ...]

``PATH`` is the ``WANNRelease/WANN`` folder of a checkout of google/brain-tokyo-workshop (not part of nograd and
never copied into it: this script imports its ``wann_src`` package from there, with a stand-in for the ``gym``
module it imports but does not use here). Each generation, the reference's ``Wann.ask()`` gives its population
(its ranking, culling, elitism, tournaments and ``topoMutate``, driven by numpy's global RNG, seeded per run), the
networks are converted from the reference's expressed weight matrices (``Ind.wMat``, ``Ind.aVec``) to nograd genomes
and scored by ``nograd.wann.evaluate_swingup`` on the episodes nograd's own search would use, and ``Wann.tell``
gets the [population, 6] mean returns. nograd's search runs the same number of generations with the same seeds and
episodes. Both use the reference's swing-up settings (``p/default_wan.json`` + ``p/swingup.json``: population 192,
3 reps, elite 20%, tournaments of 8). The population statistics are the reference's DataGatherer's: median
fitness, best fitness, median nodes, median connections (the reference's ``nConn``: connections that carry a
signal; nograd's ``Genome.num_active``), averaged over the last 50 generations. Writes the ``wann-reference``
section of docs/benchmarks.md.

``--champions DIR`` instead runs the reference's search for the full 1024 generations per seed, keeps a champion as
nograd's trainer does (a generation's best that also wins on 20 x 3 fresh episodes per shared weight), saves it to
``DIR/reference-seed<S>/champion.json`` (a folder already holding one is reused) and scores it with ``nograd wann
eval``'s defaults, beside the champions of nograd's own runs given by ``--compare`` (their eval.json is reused).
Writes the ``wann-reference-champions`` section.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import pickle
import statistics
import sys
import time
import types
import warnings
from pathlib import Path

import numpy as np
import torch
import yaml

from _report import write_section
from _wann_runs import cached_eval, search_stats
from nograd.wann import WANN, evaluate_swingup
from nograd.wann.reference import parse_reference_matrix


def reference_search(reference_dir: Path, seed: int):
    """The reference's Wann object with its swing-up hyperparameters, numpy's global RNG seeded with ``seed``."""
    sys.modules.setdefault("gym", types.SimpleNamespace(Env=object))  # imported by its domain package, unused here
    reference_dir = reference_dir.resolve()  # it changes directory below
    sys.path.insert(0, str(reference_dir))
    cwd = os.getcwd()
    os.chdir(reference_dir)  # its loadHyp reads paths relative to the WANN folder
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # its `is` comparisons with literals
            from wann_src.wann import Wann, loadHyp, updateHyp

            hyp = loadHyp("p/default_wan.json")
            updateHyp(hyp, "p/swingup.json")
    finally:
        os.chdir(cwd)
    np.random.seed(seed)
    return Wann(hyp), hyp


def to_genome(ind):
    """A reference individual's expressed network (N x N matrix + activations) as a nograd genome."""
    w, a = ind.wMat, ind.aVec
    rows = [",".join(repr(float(v)) for v in list(w[i]) + [a[i]]) for i in range(len(a))]
    return parse_reference_matrix("\n".join(rows), 5, 1)


def run_reference(reference_dir: Path, seed: int, generations: int) -> list[dict[str, float]]:
    wann, hyp = reference_search(reference_dir, seed)
    stats = []
    for g in range(generations):
        pop = wann.ask()
        returns = evaluate_swingup([to_genome(i) for i in pop], seed=seed, generation=g, reps=hyp["alg_nReps"])
        wann.tell(returns.to(torch.float64).mean(dim=2).numpy())
        fitness = [float(i.fitness) for i in pop]
        stats.append(_stats(fitness, [i.node.shape[1] for i in pop], [int(i.nConn) for i in pop]))
    return stats


def run_nograd(seed: int, generations: int) -> list[dict[str, float]]:
    search = WANN(5, 1, population=192, seed=seed)
    stats = []
    for g in range(generations):
        pop = search.ask()
        returns = evaluate_swingup(pop, seed=seed, generation=g, reps=3).to(torch.float64)
        search.tell(returns.mean(dim=(1, 2)), returns.mean(dim=2).max(dim=1).values)
        stats.append(_stats(search.fitness.tolist(), [len(x.nodes) for x in pop], [x.num_active for x in pop]))
    return stats


def reference_champion(
    reference_dir: Path, seed: int, generations: int, folder: Path, retests: int = 20, deadline: float = math.inf
) -> bool:
    """The reference's search for ``generations``; its champion (re-tested as nograd's trainer does) to
    ``folder/champion.json``, and per-generation statistics to ``folder/search.csv``. Past ``deadline`` (a
    ``time.time()``) it saves its state to ``folder/state.pkl`` and returns False; called again, it goes on from
    there and makes exactly the generations it would have made (the reference's objects and numpy's global RNG are
    pickled: the harness's own scratch file, never a user's)."""
    folder.mkdir(parents=True, exist_ok=True)
    state_file = folder / "state.pkl"
    if state_file.exists():
        reference_search(reference_dir, seed)  # imports its package, so that its objects unpickle
        with open(state_file, "rb") as f:
            wann, hyp, start, champion, champion_fitness, rows, rng = pickle.load(f)
        np.random.set_state(rng)
    else:
        wann, hyp = reference_search(reference_dir, seed)
        start, champion, champion_fitness, rows = 0, None, -math.inf, []
    reps = hyp["alg_nReps"]
    for g in range(start, generations):
        if time.time() > deadline:
            state = (wann, hyp, g, champion, champion_fitness, rows, np.random.get_state())
            with open(state_file.with_suffix(".tmp"), "wb") as f:
                pickle.dump(state, f)
            state_file.with_suffix(".tmp").replace(state_file)
            return False
        pop = wann.ask()
        genomes = [to_genome(i) for i in pop]
        returns = evaluate_swingup(genomes, seed=seed, generation=g, reps=reps).to(torch.float64)
        wann.tell(returns.mean(dim=2).numpy())
        mean = torch.nan_to_num(returns.mean(dim=(1, 2)), nan=-math.inf)
        best = int(mean.argmax())
        if float(mean[best]) > champion_fitness:  # nograd's trainer: the best must win again on fresh episodes
            retest = evaluate_swingup([genomes[best]], seed=seed, generation=-3 - g, reps=retests * reps)
            score = float(torch.nan_to_num(retest.to(torch.float64).mean(), nan=-math.inf))
            if score > champion_fitness:
                champion, champion_fitness = genomes[best], score
        stats = _stats([float(i.fitness) for i in pop], [i.node.shape[1] for i in pop], [int(i.nConn) for i in pop])
        rows.append({"generation": g, **stats, "champion_fitness": champion_fitness})
    assert champion is not None
    with open(folder / "search.csv", "w") as f:
        f.write(",".join(rows[0]) + "\n" + "".join(",".join(str(v) for v in r.values()) + "\n" for r in rows))
    champion.save(folder / "champion.json")  # last: a folder with a champion is a finished run
    state_file.unlink(missing_ok=True)
    return True


def search_fitness(folder: Path) -> float:
    """The champion's re-tested fitness at the end of a search: a nograd run's (``search_stats``), a reference
    folder's search.csv, or the log of the earlier copy of ``reference_champion`` (champ=... every 16 generations)."""
    if (folder / "metrics.csv").exists():
        return search_stats(folder)["champion_fitness"]
    if (folder / "search.csv").exists():
        with open(folder / "search.csv") as f:
            return float(list(csv.DictReader(f))[-1]["champion_fitness"])
    last = (folder / "log.txt").read_text().strip().splitlines()[-1]
    return float(last.split("champ=")[1].split()[0])


def champions_section(args: argparse.Namespace) -> None:
    """Full-length reference searches, their champions scored beside nograd's (``--compare`` run folders)."""
    if args.run_seed is not None:  # one search only (to run several at once), no report
        deadline = time.time() + 60 * args.minutes if args.minutes else math.inf
        folder = args.champions / f"reference-seed{args.run_seed}"
        if not (folder / "champion.json").exists():
            done = reference_champion(args.reference_dir, args.run_seed, args.generations, folder, deadline=deadline)
            print(f"seed {args.run_seed}: {'finished' if done else 'stopped at its deadline, state saved'}")
        return
    rows, counts = [], []
    for seed in range(args.seeds):
        folder = args.champions / f"reference-seed{seed}"
        if not (folder / "champion.json").exists():
            reference_champion(args.reference_dir, seed, args.generations, folder)
        rows.append(("reference (WANNRelease)", seed, folder))
    for run in args.compare:
        config = yaml.safe_load((run / "config.yaml").read_text())
        rows.append(("nograd", config["seed"], run))
    lines = [
        "| search | seed | search fitness | random weights | random shared weight | tuned shared weight | "
        "tuned weights | connections | hidden |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    columns = ("random_individual_weights", "random_shared_weight", "tuned_shared_weight", "tuned_individual_weights")
    found: dict[str, list[tuple[float, int, dict]]] = {}
    for name, seed, folder in rows:
        result = cached_eval(folder, args.reeval, 100)
        fitness = search_fitness(folder)
        found.setdefault(name, []).append((fitness, seed, result))
        cells = " | ".join(f"{result[c]['mean']:.0f} ± {result[c]['sd']:.0f}" for c in columns)
        size = f"{result['connections']} | {result['hidden_nodes']}"
        lines.append(f"| {name} | {seed} | {fitness:.0f} | {cells} | {size} |")
        print(lines[-1], flush=True)
    for name, runs in found.items():
        cells = " | ".join(f"**{statistics.median(r[c]['mean'] for _, _, r in runs):.0f}**" for c in columns)
        lines.append(f"| **{name}, median of {len(runs)}** | | | {cells} | | |")
        fitness, seed, best = max(runs, key=lambda run: run[0])
        cells = " | ".join(f"{best[c]['mean']:.0f} ± {best[c]['sd']:.0f}" for c in columns)
        lines.append(f"| {name}, best of {len(runs)} by search fitness | {seed} | {fitness:.0f} | {cells} | | |")
        both = sum(
            r["tuned_shared_weight"]["mean"] >= 723 and r["tuned_individual_weights"]["mean"] >= 900 for *_, r in runs
        )
        shared = sum(r["tuned_shared_weight"]["mean"] >= 723 for *_, r in runs)
        counts.append(
            f"{name}: {shared} of {len(runs)} champions reach 723 with the tuned shared weight, "
            f"{both} also 900 with tuned weights"
        )
    lines.append("| paper (Gaier & Ha 2019, Table 1) | | | 57 ± 121 | 515 ± 58 | 723 ± 16 | 932 ± 6 | | |")
    if args.write:
        body = f"""## WANN: champions of the authors' search code beside nograd's

The reference's own search code (as in the section above) run for the full {args.generations} generations at the
swing-up settings, scored by nograd's evaluator; its champion kept as nograd's trainer keeps one (a generation's
best that also wins on 20 × 3 fresh episodes per shared weight); every champion then scored by `nograd wann eval`
with its defaults (100 trials per column; tuned shared weight: the best of 401 values on [−2, 2], picked on separate
episodes; tuned weights: CMA-ES from it). nograd's rows are the runs of the wann-swingup section. "Search
fitness" is the champion's re-tested mean over the six shared weights, the search's own measure: "best by search
fitness" is the run a user who ran them all would keep, chosen without looking at the columns. {args.note}
{"; ".join(counts)}.

{chr(10).join(lines)}
"""
        write_section("wann-reference-champions", body)


def _stats(fitness: list[float], nodes: list[int], conns: list[int]) -> dict[str, float]:
    return {
        "median_fitness": statistics.median(fitness),
        "best_fitness": max(fitness),
        "median_nodes": statistics.median(nodes),
        "median_connections": statistics.median(conns),
    }


def summary(stats: list[dict[str, float]], last: int = 50) -> dict[str, float]:
    tail = stats[-last:]
    return {key: statistics.mean(s[key] for s in tail) for key in tail[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-dir", required=True, type=Path, help="WANNRelease/WANN of the authors' code")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--generations", type=int, default=None, help="default: 250, or 1024 with --champions")
    parser.add_argument("--champions", type=Path, help="run full searches, keep and score their champions here")
    parser.add_argument("--compare", type=Path, nargs="*", default=[], help="nograd run folders to score beside them")
    parser.add_argument("--reeval", action="store_true", help="score the champions again even if eval.json exists")
    parser.add_argument("--run-seed", type=int, help="with --champions: run (or resume) this seed's search only")
    parser.add_argument("--minutes", type=float, help="with --run-seed: save the search's state and stop after this")
    parser.add_argument("--write", action="store_true", help="write the wann-reference section of docs/benchmarks.md")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    if not (args.reference_dir / "wann_src" / "wann.py").exists():
        sys.exit(f"{args.reference_dir} is not the reference's WANNRelease/WANN folder (no wann_src/wann.py).")
    torch.set_num_threads(1)
    if args.champions is not None:
        args.generations = args.generations or 1024
        return champions_section(args)
    args.generations = args.generations or 250
    lines = [
        "| search | seed | median fitness | best fitness | median nodes | median connections |",
        "|---|---|---|---|---|---|",
    ]
    totals: dict[str, list[dict[str, float]]] = {"reference (WANNRelease)": [], "nograd": []}
    for seed in range(args.seeds):
        for name, stats in (
            ("reference (WANNRelease)", run_reference(args.reference_dir, seed, args.generations)),
            ("nograd", run_nograd(seed, args.generations)),
        ):
            s = summary(stats)
            totals[name].append(s)
            print(name, seed, {k: round(v, 1) for k, v in s.items()}, flush=True)
            lines.append(
                f"| {name} | {seed} | {s['median_fitness']:.0f} | {s['best_fitness']:.0f} | "
                f"{s['median_nodes']:.1f} | {s['median_connections']:.1f} |"
            )
    for name, rows in totals.items():
        mean = {k: statistics.mean(r[k] for r in rows) for k in rows[0]}
        lines.append(
            f"| **{name}, mean of {len(rows)} seeds** | | **{mean['median_fitness']:.0f}** | "
            f"**{mean['best_fitness']:.0f}** | **{mean['median_nodes']:.1f}** | **{mean['median_connections']:.1f}** |"
        )
    if args.write:
        body = f"""## WANN: nograd's search beside the authors' search code

The reference's own search (google/brain-tokyo-workshop, WANNRelease/WANN `wann_src`: ask/tell, NSGA-II ranking,
culling, elitism, tournaments, topology mutation; swing-up settings: population 192, 3 reps, elite 20%, tournaments
of 8) and nograd's, each for {args.generations} generations per seed, both scored by nograd's evaluator on the same
episodes (the reference's networks converted from its expressed weight matrices). Population statistics averaged
over the last 50 generations; connections are those that carry a signal (the reference's `nConn`). The two
searches draw from different random number generators, so runs differ generation by generation; what must agree is
how populations grow and how fit they get. {args.note}

{chr(10).join(lines)}
"""
        write_section("wann-reference", body)


if __name__ == "__main__":
    main()

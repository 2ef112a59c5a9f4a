"""Draw a WANN genome with matplotlib: inputs on the left, layers left to right, nodes coloured by activation.

The way the paper draws its champions (Gaier & Ha 2019, Figs. 1 and 5): the connections that carry a signal
(``Genome.active_conns``) only, since a WANN's connections all carry the same weight. Needs only matplotlib (no
graphviz binary); the file type follows the suffix (.png, .svg, .pdf).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nograd.wann.activations import ACTIVATION_NAMES
from nograd.wann.genome import Genome, node_layers

__all__ = ["draw_genome", "SWINGUP_LABELS"]

SWINGUP_LABELS = ("x", "x'", "cos t", "sin t", "t'", "force")

_COLOURS = {
    1: "#9e9e9e",
    2: "#8c564b",
    3: "#1f77b4",
    4: "#2ca02c",
    5: "#d62728",
    6: "#ff7f0e",
    7: "#393b79",
    8: "#9467bd",
    9: "#e377c2",
    10: "#17becf",
    11: "#bcbd22",
}


def draw_genome(
    genome: Genome, path: str | Path, labels: Sequence[str] | None = None, title: str | None = None
) -> Path:
    """Write a picture of ``genome`` to ``path``. ``labels``: names of the inputs, then of the outputs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layer = node_layers(genome)
    enabled = genome.active_conns()
    used = {c.src for c in enabled} | {c.dst for c in enabled}
    shown = [n for n in genome.nodes if n.kind != "hidden" or n.id in used]
    columns: dict[int, list[int]] = {}
    for n in shown:
        columns.setdefault(layer[n.id], []).append(n.id)
    position = {}
    for x, ids in columns.items():
        for k, node in enumerate(ids):
            position[node] = (x, (k + 0.5) / len(ids))
    top = max(columns)
    fig, ax = plt.subplots(figsize=(2.0 + 1.6 * top, 0.5 + 0.45 * max(len(v) for v in columns.values())))
    for c in enabled:
        (x0, y0), (x1, y1) = position[c.src], position[c.dst]
        ax.plot([x0, x1], [y0, y1], color="#555555", lw=0.8, alpha=0.6, zorder=1)
    acts_seen = set()
    for n in shown:
        x, y = position[n.id]
        if n.kind in ("bias", "input"):
            colour = "white"
        else:
            colour = _COLOURS[n.activation]
            acts_seen.add(n.activation)
        ax.scatter([x], [y], s=220, color=colour, edgecolors="black", linewidths=0.8, zorder=2)
        text = None
        if n.kind == "bias":
            text = "bias"
        elif n.kind == "input":
            text = labels[n.id - 1] if labels and n.id - 1 < len(labels) else f"in {n.id}"
        elif n.kind == "output":
            o = n.id - genome.n_inputs - 1
            index = genome.n_inputs + o
            text = labels[index] if labels and index < len(labels) else f"out {o}"
        if text is not None:
            side = -0.12 if n.kind != "output" else 0.12
            ax.text(x + side, y, text, ha="right" if side < 0 else "left", va="center", fontsize=8)
    for act in sorted(acts_seen):
        ax.scatter([], [], s=80, color=_COLOURS[act], edgecolors="black", label=ACTIVATION_NAMES[act])
    if acts_seen:
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=min(6, len(acts_seen)), fontsize=7, frameon=False
        )
    ax.set_xlim(-0.8, top + 0.8)
    ax.set_ylim(-0.05, 1.05)
    ax.axis("off")
    ax.set_title(
        title or f"{len(used & {n.id for n in genome.hidden})} hidden nodes, {len(enabled)} connections", fontsize=9
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight", dpi=150)
    plt.close(fig)
    return path

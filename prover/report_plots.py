"""The report's plots (cactus, by category), drawn by matplotlib as SVG text to embed in the HTML page."""
from __future__ import annotations

import io
import re

import matplotlib
from matplotlib.figure import Figure  # not pyplot: no global figure state, no GUI backend
from matplotlib.ticker import MaxNLocator

from prover.run_report import Run, cactus

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_ID = re.compile(r'(id="|url\(#|href="#)([^")]+)')


def svg_text(figure: Figure, prefix: str) -> str:
    """The figure as an inline <svg> element; its ids are prefixed so several plots on one page do not clash."""
    buffer = io.StringIO()
    # text stays text (smaller, searchable); a fixed salt and no date keep the output the same run to run
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": prefix}):
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    return _ID.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", text)


def cactus_svg(runs: list[Run]) -> str:
    """Theorems proved (y) within a time per theorem (x), one step line per run."""
    figure = Figure(figsize=(6.4, 3.6))
    axes = figure.subplots()
    for i, run in enumerate(runs):
        seconds = cactus(run)
        if seconds:
            axes.step(seconds, range(1, len(seconds) + 1), where="post", marker="o", markersize=3,
                      color=COLORS[i % len(COLORS)], label=f"{run.label} ({len(seconds)})")
        else:
            axes.plot([], [], color=COLORS[i % len(COLORS)], label=f"{run.label} (none proved)")
    axes.set_xlabel("seconds per theorem")
    axes.set_ylabel("theorems proved")
    axes.grid(alpha=0.3)
    axes.set_ylim(bottom=0)
    axes.set_xlim(left=0)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(loc="lower right", fontsize="small")
    return svg_text(figure, "cactus")


def categories_svg(runs: list[Run], table: dict[str, list[tuple[int, int]]]) -> str:
    """Proved share per category, one bar per run, labelled proved/total."""
    names = list(table)
    figure = Figure(figsize=(6.4, max(1.6, 0.35 * len(names) * max(1, len(runs)) + 0.8)))
    axes = figure.subplots()
    height = 0.8 / max(1, len(runs))
    for i, run in enumerate(runs):
        ys = [j + i * height for j in range(len(names))]
        shares = [table[n][i][0] / table[n][i][1] if table[n][i][1] else 0.0 for n in names]
        bars = axes.barh(ys, shares, height=height, color=COLORS[i % len(COLORS)], label=run.label)
        axes.bar_label(bars, labels=[f"{p}/{t}" for p, t in (table[n][i] for n in names)], fontsize="x-small",
                       padding=2)
    axes.set_yticks([j + 0.4 - height / 2 for j in range(len(names))], names)
    axes.invert_yaxis()
    axes.set_xlim(0, 1.15)
    axes.set_xlabel("share proved")
    if len(runs) > 1:
        axes.legend(loc="lower right", fontsize="small")
    return svg_text(figure, "categories")

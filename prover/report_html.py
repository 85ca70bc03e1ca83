"""The report as one self-contained HTML page: summary, plots, categories, comparison, theorems and their search
trees, from the template `templates/report.html.j2` (inline CSS and SVG; no network, no script needed)."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import jinja2
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, guess_lexer_for_filename
from pygments.util import ClassNotFound

from prover.jsonl import write_atomic
from prover.report_plots import categories_svg, cactus_svg
from prover.run_report import (STATUSES, Run, are_repeats, categories, compare, pass_at_k, summarize_run,
                               theorem_details)
from prover.search_tree import Outcome, SearchTree, Status

MAX_TREE_EDGES = 150  # per tree shown: a long failed search is thousands of refusals, and the page must stay light
MAX_TEXT = 600  # characters of a proof state shown in a tree
MAX_REFUSAL = 100  # characters of a refusal shown in a tree: enough to tell them apart, and most of a page's weight
_FORMATTER = HtmlFormatter(cssclass="hl")


def highlighted(text: str, suffix: str) -> str:
    """`text` (a proof file) as highlighted HTML, its language guessed from the file suffix and the text."""
    try:
        lexer = guess_lexer_for_filename(f"proof{suffix}", text) if suffix else TextLexer()
    except ClassNotFound:
        lexer = TextLexer()
    return highlight(text, lexer, _FORMATTER)


def anchor(name: str) -> str:
    """A theorem's name as an id fragment: ids may not hold spaces, and `/` or `:` (a hole's file) read badly."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _cut(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class TreeStep:
    """One tactic tried on a node, as the tree viewer shows it."""

    tactic: str
    outcome: str
    on_proof: bool
    error: str = ""
    child: "TreeNode | None" = None


@dataclass
class TreeNode:
    goals: str
    status: str
    on_proof: bool
    steps: list[TreeStep] = field(default_factory=list)


@dataclass
class TreeView:
    root: TreeNode
    shown: int
    total: int


def tree_view(tree: SearchTree, limit: int = MAX_TREE_EDGES) -> TreeView:
    """The tree as nested nodes following the edges that first reached each node (merges shown as leaves), the
    proof path first at each node, cut to `limit` tactics."""
    budget = [limit]
    seen: set[str] = set()

    def node(key: str, on_proof: bool) -> TreeNode:
        seen.add(key)
        source = tree.nodes[key]
        view = TreeNode(_cut(source.goals), source.status.value, on_proof)
        for edge in sorted(tree.edges_from(key), key=lambda e: not e.on_proof):
            if budget[0] <= 0:
                break
            budget[0] -= 1
            step = TreeStep(edge.step or edge.tactic, edge.outcome.value, edge.on_proof, _cut(edge.error, MAX_REFUSAL))
            if edge.outcome is Outcome.ADVANCED and edge.dst is not None and edge.dst not in seen:
                step.child = node(edge.dst, edge.on_proof)
            view.steps.append(step)
        return view

    root = node(tree.root.key, tree.root.status is Status.PROVED)
    return TreeView(root, limit - budget[0], len(tree.edges))


def _environment() -> jinja2.Environment:
    template = resources.files("prover").joinpath("templates/report.html.j2").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             loader=jinja2.DictLoader({"report.html": template}))
    env.filters["anchor"] = anchor
    return env


def render_report(runs: list[Run]) -> str:
    """The page for `runs` (the first is the base a comparison measures against)."""
    table = categories(runs)
    comparisons = [compare(runs[0], other) for other in runs[1:]]
    details = [{d.name: d for d in theorem_details(run)} for run in runs]
    proof_html = [{name: highlighted(d.proof_file, d.suffix) for name, d in by_name.items() if d.proof_file}
                  for by_name in details]
    trees = [{name: tree_view(d.tree) for name, d in by_name.items() if d.tree is not None and d.tree.nodes}
             for by_name in details]
    index = {run.label: i for i, run in enumerate(runs)}
    repeats = are_repeats(runs)
    return _environment().get_template("report.html").render(
        runs=runs, statuses=STATUSES, summaries=[summarize_run(run) for run in runs], categories=table, comparisons=comparisons,
        repeats=repeats, pass_at_k=pass_at_k(runs) if repeats else {}, details=details,
        proof_html=proof_html, trees=trees, run_index=index, cactus_svg=cactus_svg(runs),
        categories_svg=categories_svg(runs, table) if table else "", style=_FORMATTER.get_style_defs(".hl"),
        escape=html.escape)


def write_report(runs: list[Run], path: Path) -> Path:
    """Render and write the page atomically (a browser never sees half a page)."""
    write_atomic(path, render_report(runs))
    return path

"""The options the `prover` commands share, each defaulting to the field of the dataclass it sets (ModelSettings,
SearchConfig, ...), so that a default is written once.

`model_options` and `search_options` declare a group of fields' options and hand the command one `model_settings`
(ModelSettings) or `search_config` (SearchConfig) built from them instead of the separate values."""
from __future__ import annotations

import dataclasses
import functools

import click

from prover.engines import ENGINE_CHOICES
from prover.generators import SCORINGS
from prover.models import ModelSettings
from prover.plugins import DEFAULT_BACKEND, DEFAULT_BENCHMARK, available_backends
from prover.search import SearchConfig

DTYPES = ("auto", "float32", "bfloat16", "float16")


def default_of(cls, name: str):
    """The default of dataclass `cls`'s field `name`."""
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    return field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default


def field_option(cls, name: str, flag: str | None = None, param: str | None = None, **attrs):
    """A click option setting field `name` of dataclass `cls` (flag `--name` and parameter `name` unless given),
    whose default is the field's unless `attrs` gives one."""
    attrs.setdefault("default", default_of(cls, name))
    if attrs["default"] is not None:
        attrs.setdefault("show_default", True)
    return click.option(flag or "--" + name.replace("_", "-"), param or name, **attrs)


# The click attributes of each field's option (besides its default) where the commands agree; a command changes
# one (a help text for what the value means there, a flag) with a keyword of its group.
MODEL_OPTIONS = {
    "temperature": dict(type=click.FloatRange(min=0)),
    "max_tokens": dict(type=click.IntRange(min=1),
                       help="per candidate tactic (a longer one is dropped: the default keeps the Rocq adapter's "
                            "`pose proof` of a compound term)"),
    "prompt": dict(help="prompt template: a name (rocq-proofstep, lean-proofstep, ...) or a file with {goals}"),
    "scoring": dict(type=click.Choice(SCORINGS),
                    help="candidate score: log-prob per token (Llemma) or summed (ReProver)"),
    "served_name": dict(help="model name on an OpenAI-compatible server (default: the server's first)"),
    "dtype": dict(type=click.Choice(DTYPES), help="model weights' type (default: bfloat16 on a GPU, float32 on a CPU)"),
    "tensor_parallel_size": dict(type=click.IntRange(min=1), help="vLLM: GPUs one model replica spans"),
    "engine": dict(type=click.Choice(ENGINE_CHOICES),
                   help="what runs an in-process model (hf: and default): auto picks the fastest that loads here"),
    "threads": dict(type=click.IntRange(min=1),
                    help="CPU threads of an in-process model (default: the cores this process may use: its CPU "
                         "affinity and cgroup quota, or the CPUs Ray gave its actor)"),
}
SEARCH_OPTIONS = {
    "max_expansions": dict(type=click.IntRange(min=1)),
    "budget_seconds": dict(type=click.FloatRange(min=0, min_open=True)),
    "tactic_timeout": dict(type=click.FloatRange(min=0, min_open=True)),
    "num_candidates": dict(type=click.IntRange(min=1)),
    "widenings": dict(type=click.IntRange(min=0),
                      help="when every state's candidates are spent with budget left: ask the model again at each "
                           "state, for twice as many (new ones only), up to this many times"),
    "premises": dict(type=click.IntRange(min=0),
                     help="premise retrieval: at each state, after the model's candidates, up to N tactics with "
                          "lemmas in scope the proof assistant's own search finds (Rocq: apply/rewrite from Search)"),
    "automation": dict(flag="--automation/--no-automation", help="try the backend's automation tactics first"),
    "hammer": dict(flag="--hammer/--no-hammer", envvar="LLEMMA_PROVER_HAMMER",
                   help="try the backend's hammer (Rocq: CoqHammer) at the root and where nothing else is left "
                        "[env LLEMMA_PROVER_HAMMER=0 turns it off]"),
    "hammer_timeout": dict(type=click.FloatRange(min=0, min_open=True), help="seconds for one hammer call"),
    "hammer_share": dict(type=click.FloatRange(min=0, max=1),
                         help="the part of a theorem's budget its hammer calls may take together"),
    "automation_score": dict(type=click.FloatRange(max=0),
                             help="the log-probability a state reached by an automation tactic adds to its parent's "
                                  "(below 0: the model's surer candidates are expanded before them)"),
}


def _option_group(cls, table: dict, target: str, layout: tuple, changes: dict):
    """Options for the fields of `cls` named in `layout` (in help order; a click option decorator among them is
    placed as it is); the command receives `target`=cls(those fields' values) instead of the values. Their parameters
    are named `target_FIELD`, apart from the command's own (translate has a --budget-seconds of its own)."""
    fields = [item for item in layout if isinstance(item, str)]
    unknown = set(changes) - set(fields)
    if unknown:
        raise TypeError(f"changes to options not in the group: {', '.join(sorted(unknown))}")

    def decorate(command):
        @functools.wraps(command)
        def with_group(*args, **kwargs):
            values = {name: kwargs.pop(f"{target}_{name}") for name in fields}
            return command(*args, **{target: cls(**values)}, **kwargs)

        for item in reversed(layout):  # click lists options in the reverse of the order they are applied
            option = item if callable(item) else field_option(cls, item, param=f"{target}_{item}",
                                                              **{**table[item], **changes.get(item, {})})
            with_group = option(with_group)
        return with_group

    return decorate


def model_options(*layout, **changes):
    """The options of the ModelSettings fields in `layout`; the command receives `model_settings`. A keyword
    named after a field changes that option's click attributes, e.g. `max_tokens=dict(help="per suggestion")`."""
    return _option_group(ModelSettings, MODEL_OPTIONS, "model_settings", layout, changes)


def search_options(*layout, **changes):
    """The options of the SearchConfig fields in `layout`; the command receives `search_config`. A keyword named
    after a field changes that option's click attributes, e.g. `budget_seconds=dict(default=30.0)`."""
    return _option_group(SearchConfig, SEARCH_OPTIONS, "search_config", layout, changes)


def model_option(help: str, default: str = "default"):
    """--model: which tactic generator (prover.models.load_generator's spec); what it may be differs by command."""
    return click.option("--model", default=default, show_default=True, help=help)


def backend_option(help: str | None = None, **attrs):
    return click.option("--backend", default=DEFAULT_BACKEND, show_default=True, help=help, **attrs)


def backend_choice_option(help: str | None = None):
    """--backend limited to the installed backends' names (checked by click, listed in --help)."""
    return backend_option(help, type=click.Choice(available_backends()))


def benchmark_option(help: str | None = None, default: str | None = DEFAULT_BENCHMARK):
    return click.option("--benchmark", default=default, show_default=default is not None, help=help)


def split_option(help: str | None = None):
    return click.option("--split", default="valid", show_default=True, help=help)


def limit_option(help: str = "only the first N theorems"):
    return click.option("--limit", type=click.IntRange(min=1), help=help)


def names_option(help: str = "comma-separated theorem names"):
    return click.option("--names", help=help)


def selection_options(backend_help: str, benchmark_help: str | None = None,
                      benchmark_default: str | None = DEFAULT_BENCHMARK):
    """--backend, --benchmark, --split, --limit, --names: which theorems the command takes, as separate values."""
    def decorate(command):
        for option in reversed((backend_option(backend_help), benchmark_option(benchmark_help, benchmark_default),
                                split_option(), limit_option(), names_option())):
            command = option(command)
        return command

    return decorate


def progress_option():
    return click.option("--progress/--no-progress", default=True)

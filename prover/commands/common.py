"""What the `prover` commands share: the --out path type and the lookups of a backend, benchmark, theorem names and
--model value, each turning a user's mistake into one line (UserError)."""
from __future__ import annotations

import click

from prover.command import UserError
from prover.plugins import UnknownBackend, load_plugin


class OutPath(click.Path):
    """An --out path that may not be empty: "" would otherwise mean the current directory."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip():
            raise UserError(f"{param.opts[0] if param else 'the path'} is empty: give a path, e.g. runs/NAME")
        return super().convert(value, param, ctx)


def plugin_named(backend: str):
    """The BackendPlugin of a --backend value."""
    try:
        return load_plugin(backend)
    except UnknownBackend as exc:
        raise UserError(str(exc)) from None


def benchmark_theorems(plugin, benchmark: str, split: str):
    """The theorems of a --benchmark and --split value."""
    if benchmark not in plugin.benchmarks:
        raise UserError(f"unknown benchmark {benchmark!r} for backend {plugin.name} (available: {', '.join(plugin.benchmarks)})")
    try:
        return plugin.benchmarks[benchmark](split)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def theorem_names(names: str | None) -> list[str] | None:
    """The theorem names of a --names value (None: not given); given but naming none (`""`, `,,`) is a mistake,
    not a request to run nothing or everything."""
    if names is None:
        return None
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    if not wanted:
        raise UserError("no theorem names in --names")
    return wanted


def sample_names(plugin, benchmark: str, split: str, sample: str | None, names: str | None) -> str | None:
    """The --names value a --sample NAME stands for (its theorems, in its order); `names` where no sample is given.
    An unknown sample, one of another split, or --names beside it is one UserError line."""
    if sample is None:
        return names
    if names is not None:
        raise UserError("--sample and --names both choose the theorems: give one of them")
    samples = plugin.samples[benchmark]() if benchmark in plugin.samples else {}
    if sample not in samples:
        raise UserError(f"unknown sample {sample!r} for {benchmark}"
                        f" (known: {', '.join(sorted(samples)) or 'none: this benchmark has no samples'})")
    if samples[sample].split != split:
        raise UserError(f"sample {sample!r} is of {benchmark}'s {samples[sample].split} split: "
                        f"use --split {samples[sample].split}")
    return ",".join(samples[sample].names)


def select_theorems(theorems, names: str | None, limit: int | None):
    """The theorems a --names and --limit value pick, in --names' order where given."""
    wanted = theorem_names(names)
    if wanted is not None:
        by_name = {t.name: t for t in theorems}
        missing = [n for n in wanted if n not in by_name]
        if missing:
            raise UserError(f"no theorem named {missing[0]!r} in this benchmark split")
        theorems = [by_name[n] for n in wanted]
    return list(theorems[:limit] if limit else theorems)


def model_errors(model: str) -> tuple:
    """The exceptions that mean a --model value cannot work (one printable line each)."""
    from prover.models import ModelSpecError

    errors: tuple = (ModelSpecError,)
    if model not in ("none", "hints"):  # weightless generators: no model stack to import
        from model_store import ModelLoadError

        errors += (ModelLoadError,)
    if model.startswith("openai:"):
        from prover.openai_generator import ModelServerError

        errors += (ModelServerError,)
    return errors


def check_model_spec(model: str, backend: str, settings) -> None:
    """Refuse a --model value that cannot work before anything is written: a run folder holding the config of a
    run that never started would refuse the corrected command. (Loading the weights comes later.)"""
    from prover.models import check_model

    try:
        check_model(model, backend, settings)
    except model_errors(model) as exc:
        raise UserError(str(exc)) from None


def tactic_generator(model: str, backend: str, settings):
    """The tactic generator of a --model value, loaded."""
    from prover.models import load_generator

    try:
        return load_generator(model, backend, settings)
    except model_errors(model) as exc:
        raise UserError(str(exc)) from None


def chosen_families(plugin, given: str | None) -> list[str]:
    """The curriculum families named in `given` (comma-separated; each once, in the order given), or all of the
    backend's; UserError for an unknown one."""
    from prover.next_problems import family_error

    known = plugin.curriculum_families
    chosen = list(dict.fromkeys(f.strip() for f in (given or ",".join(known)).split(",") if f.strip()))
    error = family_error(chosen, known)
    if error:
        raise UserError(error)
    return chosen

"""A fine-tuning data mix from a recipe: which rows of which proofstep files, how many, how often repeated.

A recipe is a YAML file, so an adapter's data can be rebuilt from the files its recipe names:

    seed: 0
    parts:
      - path: runs/extract/coquelicot.jsonl
        sample: 800             # rows drawn without replacement (default: all that pass the filter)
        max_state_chars: 800    # filters, all optional
        max_tactic_chars: 60
        state_matches: ": [RZ]\\b"   # a regex the state must contain
        repeat: 1               # copies of each drawn row in the mix

Rows are read and written as `model_store.proofsteps` says, as fine-tuning reads them; only `train` rows are
drawn. Each part is drawn with its own seeded
generator (seed, part index), so changing one part does not redraw the others. The mix is shuffled and written
in one rename; the summary counts each part's rows.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from model_store.proofsteps import ProofStep, ProofStepFormatError, read_proofsteps, write_proofsteps
from training.data import DataError, first_line

PART_KEYS = {"path", "sample", "repeat", "max_state_chars", "max_tactic_chars", "state_matches"}


@dataclass(frozen=True)
class Part:
    path: Path
    sample: int | None = None
    repeat: int = 1
    max_state_chars: int | None = None
    max_tactic_chars: int | None = None
    state_matches: str | None = None

    def keeps(self, row: ProofStep) -> bool:
        if row.split != "train":
            return False
        if self.max_state_chars is not None and len(row.state) > self.max_state_chars:
            return False
        if self.max_tactic_chars is not None and len(row.tactic) > self.max_tactic_chars:
            return False
        return self.state_matches is None or re.search(self.state_matches, row.state) is not None


def read_recipe(path: Path) -> tuple[int, list[Part]]:
    """(seed, parts); relative paths are taken from the current directory, as the training config's `data` is."""
    try:
        recipe = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"cannot read recipe {path}: {first_line(exc)}") from None
    if not isinstance(recipe, dict) or not isinstance(recipe.get("parts"), list) or not recipe["parts"]:
        raise DataError(f"{path}: a recipe is a mapping with a non-empty `parts` list")
    parts = []
    for i, spec in enumerate(recipe["parts"]):
        if not isinstance(spec, dict) or "path" not in spec:
            raise DataError(f"{path}: part {i + 1} needs a `path`")
        unknown = set(spec) - PART_KEYS
        if unknown:
            raise DataError(f"{path}: part {i + 1} has unknown key(s) {', '.join(sorted(unknown))} "
                            f"(known: {', '.join(sorted(PART_KEYS))})")
        try:
            parts.append(Part(**{**spec, "path": Path(spec["path"])}))
        except TypeError as exc:
            raise DataError(f"{path}: part {i + 1}: {first_line(exc)}") from None
    return int(recipe.get("seed", 0)), parts


def _rows(path: Path) -> list[ProofStep]:
    try:
        return read_proofsteps(path)
    except (OSError, ProofStepFormatError) as exc:
        raise DataError(f"cannot read {path}: {first_line(exc)}") from None


def mix(recipe: Path, out: Path) -> dict:
    """Write the recipe's mix to `out` (.jsonl); the summary: rows per part and in all."""
    seed, parts = read_recipe(recipe)
    mixed, counts = [], []
    for i, part in enumerate(parts):
        kept = [r for r in _rows(part.path) if part.keeps(r)]
        drawn = kept if part.sample is None or part.sample >= len(kept) else \
            random.Random(f"{seed}:{i}").sample(kept, part.sample)
        mixed.extend(drawn * part.repeat)
        counts.append({"path": str(part.path), "passed_filter": len(kept), "drawn": len(drawn),
                       "rows": len(drawn) * part.repeat})
    random.Random(seed).shuffle(mixed)
    write_proofsteps(out, mixed)
    return {"recipe": str(recipe), "out": str(out), "seed": seed, "rows": len(mixed), "parts": counts}

"""Proofstep rows: (proof state text, next tactic) pairs, one format for every backend and every source.

`prover extract` (real proof scripts replayed through a backend) and `prover train-data` (successful
searches) write them; `python -m training finetune` reads them. A row is one JSON object per line:
{"state", "tactic", "theorem", "source", "split", "backend"}.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

# The completion format the model is trained on and prompted with (prover/prompts.py's *-proofstep templates).
GOAL_MARK = "[GOAL]\n"
STEP_MARK = "\n[PROOFSTEP]\n"


@dataclass(frozen=True)
class ProofStep:
    state: str  # the goals as the backend renders them to the model (Backend.render_state)
    tactic: str  # the one tactic that was run on that state
    theorem: str  # the theorem (or lemma) being proved
    source: str  # where the pair comes from: a file path, `stdlib:Arith/PeanoNat.v`, a run folder
    split: str  # train | valid | test: held-out splits are by file or theorem, never by row
    backend: str = "rocq"

    def prompt(self) -> str:
        return proofstep_prompt(self.state)

    def completion(self) -> str:
        return self.tactic + "\n"

    def key(self) -> tuple[str, str]:
        return (" ".join(self.state.split()), " ".join(self.tactic.split()))


def proofstep_prompt(state: str) -> str:
    return f"{GOAL_MARK}{state}{STEP_MARK}"


class ProofStepFormatError(ValueError):
    pass


def read_proofsteps(path: str | Path) -> list[ProofStep]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                rows.append(ProofStep(**{k: raw[k] for k in ("state", "tactic", "theorem", "source", "split")},
                                      backend=raw.get("backend", "rocq")))
            except (ValueError, KeyError, TypeError) as exc:
                raise ProofStepFormatError(f"{path}:{number}: not a proofstep row ({type(exc).__name__}: {exc})") from None
    return rows


def write_proofsteps(path: str | Path, rows: Iterable[ProofStep]) -> int:
    """Write rows to path atomically (a reader never sees half a file); returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    count = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(asdict(row), ensure_ascii=False) + "\n")
            count += 1
    os.replace(tmp, path)
    return count


def deduplicate(rows: Iterable[ProofStep]) -> Iterator[ProofStep]:
    """First occurrence of each (state, tactic) up to whitespace."""
    seen = set()
    for row in rows:
        key = row.key()
        if key not in seen:
            seen.add(key)
            yield row


def split_of(relpath: str, valid_fraction: float = 0.02, test_fraction: float = 0.02) -> str:
    """train / valid / test by a stable hash of the file's relative path: a file's rows never straddle splits."""
    x = int.from_bytes(hashlib.sha256(relpath.encode()).digest()[:8], "big") / 2**64
    if x < valid_fraction:
        return "valid"
    if x < valid_fraction + test_fraction:
        return "test"
    return "train"

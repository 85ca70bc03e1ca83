"""miniF2F-rocq as shipped in the package: each .v file parsed into a Theorem (header + statement), with its
problem's informal statement and proof (prover.informal) for Draft-Sketch-Prove."""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from coq_env.sentences import split_sentences, strip_comments
from prover.informal import with_informal
from prover.plugins import Sample
from prover.types import Theorem

DATA = Path(__file__).parent / "data" / "minif2f-rocq"
SPLITS = ("valid", "test")
_DECLARATION = re.compile(r"^(?:Theorem|Lemma|Fact|Remark|Corollary|Proposition|Example)\s+([\w']+)")


def parse_theorem_file(text: str, name: str, **fields) -> Theorem:
    """Split a benchmark file into what comes before the named theorem and the theorem sentence."""
    offset = 0
    for sentence in split_sentences(text):
        start = text.index(sentence, offset)
        offset = start + len(sentence)
        m = _DECLARATION.match(strip_comments(sentence).strip())
        if m and m.group(1) == name:
            start += re.search(r"\b(?:Theorem|Lemma|Fact|Remark|Corollary|Proposition|Example)\s", sentence).start()
            statement = text[start:offset]  # leading comments stay in the header
            return Theorem(name=name, statement=statement, header=text[:start].strip(), backend="rocq", **fields)
    raise ValueError(f"no theorem named {name} in its file")


def split_theorems(data: Path, splits: tuple[str, ...], split: str, benchmark: str) -> tuple[Theorem, ...]:
    """The theorems of a benchmark folder's split (data/<split>/*.v, one theorem a file, named after it)."""
    if split not in splits:
        raise ValueError(f"unknown split {split!r} (choose from {', '.join(splits)})")
    return tuple(parse_theorem_file(path.read_text(), path.stem, split=split, benchmark=benchmark)
                 for path in sorted((data / split).glob("*.v")))


@lru_cache(maxsize=None)
def load_split(split: str) -> tuple[Theorem, ...]:
    return with_informal(split_theorems(DATA, SPLITS, split, "minif2f-rocq"))


@lru_cache(maxsize=None)
def load_samples() -> dict[str, Sample]:
    """The named samples of miniF2F-rocq (data/minif2f-rocq/samples.json), e.g. the README's `quickstart`."""
    data = json.loads((DATA / "samples.json").read_text(encoding="utf-8"))
    return {name: Sample(split=s["split"], names=tuple(s["names"]), rule=s.get("rule", "")) for name, s in data.items()}

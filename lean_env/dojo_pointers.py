"""Where LeanDojo finds a theorem (a repository at a commit, a file, a name), and LeanDojo's benchmark files."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from prover.jsonl import read_rows


@dataclass(frozen=True)
class DojoPointer:
    """Where LeanDojo finds a theorem: a git repository at a commit, a file in it, a fully qualified name."""

    url: str
    commit: str
    file_path: str
    full_name: str
    statement: str = ""
    split: str | None = None


def _pointer(row: dict, split: str | None = None) -> DojoPointer:
    missing = [k for k in ("url", "commit", "file_path", "full_name") if not row.get(k)]
    if missing:
        raise ValueError(f"LeanDojo theorem row lacks {', '.join(missing)}: {json.dumps(row)[:200]}")
    return DojoPointer(
        url=row["url"], commit=row["commit"], file_path=row["file_path"], full_name=row["full_name"],
        statement=str(row.get("statement") or row.get("theorem_statement") or ""),
        split=row.get("split", split),
    )


def load_leandojo_benchmark(path: str | Path, split: str | None = None) -> tuple[DojoPointer, ...]:
    """Theorems of a LeanDojo benchmark file: a JSON list (LeanDojo Benchmark 4's `<strategy>/<split>.json`,
    rows with url, commit, file_path, full_name, start, end, traced_tactics) or JSON lines of the same fields."""
    text = Path(path).read_text(encoding="utf-8")
    rows = json.loads(text) if text.lstrip().startswith("[") else read_rows(path, strict=True)
    return tuple(_pointer(row, split) for row in rows)

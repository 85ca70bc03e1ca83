"""JSON-lines files and whole-file writes: rows read past a torn or garbage line, a row appended durably, a file
replaced atomically (a reader sees the old file or the new one, never half of one)."""
from __future__ import annotations

import json
import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator, Literal

from prover.errors import first_line

# What to do with a last line that has no newline: "read" it like any other line (a data file written without a
# final newline); "skip" it (an append log that may still be writing: not a row yet); "cut" it off the file (the
# appender's own log, torn by a kill: cut, so the next append starts a line of its own).
Tail = Literal["read", "skip", "cut"]


class BadLine(ValueError):
    """A line that is not a row, met in strict reading."""

    def __init__(self, path: Path, number: int, problem: str):
        super().__init__(f"{path}:{number}: {problem}")
        self.path, self.number, self.problem = path, number, problem


# Each line skipped as not a row, said once per process: a run folder's results are read more than once.
_warned: set[tuple[str, int]] = set()


def iter_rows(path: str | os.PathLike, required: tuple[str, ...] = (), *, strict: bool = False,
              tail: Tail = "read") -> Iterator[tuple[int, dict]]:
    """(line number, row) for each line of `path` that is a JSON object with a string value for each `required`
    key. Any other non-blank line (garbage, a torn write, another encoding) raises BadLine if `strict`, else is
    skipped with one warning on stderr. `tail`: see Tail. OSError if the file cannot be read."""
    path = Path(path)
    cut_at = None
    with open(path, "rb") as f:
        offset = 0
        for number, line in enumerate(f, 1):
            if not line.endswith(b"\n") and tail != "read":
                cut_at = offset if tail == "cut" else None
                break
            offset += len(line)
            if not line.strip():
                continue
            row, problem = _parse(line, required)
            if problem is None:
                yield number, row
            elif strict:
                raise BadLine(path, number, problem)
            elif (str(path), number) not in _warned:
                _warned.add((str(path), number))
                print(f"warning: {path}:{number}: skipped, not a row ({problem})", file=sys.stderr)
    if cut_at is not None:
        with open(path, "r+b") as f:
            f.truncate(cut_at)


def read_rows(path: str | os.PathLike, required: tuple[str, ...] = (), *, strict: bool = False,
              tail: Tail = "read") -> list[dict]:
    """The rows of a JSON-lines file, in order (see iter_rows)."""
    return [row for _, row in iter_rows(path, required, strict=strict, tail=tail)]


def _parse(line: bytes, required: tuple[str, ...]) -> tuple[dict | None, str | None]:
    try:
        row = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return None, f"not JSON: {first_line(exc)}"
    if not isinstance(row, dict):
        return None, "not a JSON object"
    return row, next((f"no {key!r}" for key in required if not isinstance(row.get(key), str)), None)


def append_row(path: str | os.PathLike, row: dict) -> None:
    """One write of one whole line on an O_APPEND descriptor, then fsync: a row is there or it is not."""
    line = (json.dumps(row, sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_file(path: str | os.PathLike, mode: Literal["w", "wb"] = "w", encoding: str = "utf-8") -> Iterator[IO]:
    """A file to write `path` through: a temp file in the same folder, synced and renamed over `path` when the
    block ends; removed instead if the block raises, leaving `path` as it was. A missing folder above `path` is
    made first (`--out runs/synth/mod.jsonl` in a fresh checkout), as `extract` and `prove` make theirs."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Per process and thread: two writers of one path never share a temp file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_native_id()}.tmp")
    try:
        with open(tmp, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: str | bytes, encoding: str = "utf-8") -> None:
    """Replace `path` with `data` in one step (atomic_file)."""
    with atomic_file(path, "wb" if isinstance(data, bytes) else "w", encoding) as f:
        f.write(data)

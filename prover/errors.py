"""One printable line from an exception or from multi-line text: what a CLI, a results row or a log shows."""
from __future__ import annotations

from typing import Any


def first_line(error: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def one_line(text: Any, limit: int | None = None) -> str:
    """`text` with every run of whitespace (newlines too) made one space, cut to `limit` characters with '...'."""
    line = " ".join(str(text).split())
    return line if limit is None or len(line) <= limit else line[: limit - 3] + "..."

"""Rewriting a user's source file safely, for every backend: one writer at a time, never half a file, read-only
files refused, and the same change as a patch that `git apply` accepts.

A backend reads the file inside `rewriting(path)` (an exclusive lock on it, after the writable check), checks its
new text however its proof assistant does, and calls `Rewrite.replace`: the new text goes in by one rename, with
the file's permission bits and owner, only if nobody changed the file meanwhile. A writer killed at any moment
leaves the old file or the whole new one; the temp file a killed writer leaves is removed by the next writer.
Refusals a user can cause are FileWriteError, one line each, the file untouched.
"""
from __future__ import annotations

import difflib
import fcntl
import os
import re
import stat
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import psutil

from prover.jsonl import atomic_file, write_atomic

LOCK_WAIT = 120.0  # how long a second writer of the same file waits for the first before giving up
PATCHES = "patches"  # the run folder's subfolder that holds the patches
# prover.jsonl.atomic_file's temp files: `.NAME.PID-TID.tmp`. A writer killed before its rename leaves one.
_TEMP_NAME = r"\.{name}\.(\d+)-\d+\.tmp"


class FileWriteError(Exception):
    """A write refused before the file was touched: one line saying why."""


@dataclass(frozen=True)
class Rewrite:
    """A file held for rewriting: its real path (a link resolved) and its text when the lock was taken."""

    path: Path
    text: str

    def replace(self, new_text: str, meanwhile: str = "the new text was checked") -> None:
        """Put `new_text` in place of the file, unless the file no longer holds `text` (an editor that takes no
        lock saved it `meanwhile`: its text wins, FileWriteError)."""
        if read_exact(self.path) != self.text:
            raise FileWriteError(f"{self.path}: the file changed while {meanwhile}; nothing was written")
        replace_file(self.path, new_text)


@contextmanager
def rewriting(path: str | os.PathLike, wait: float = LOCK_WAIT) -> Iterator[Rewrite]:
    """Hold the file at `path` (through any link, the file it names) for rewriting: refused if read-only, then
    locked against other writers (waiting up to `wait` seconds), temps of killed writers cleared, its text read."""
    path = Path(os.path.realpath(path))  # a link stays a link: the file it names is replaced
    require_writable(path)
    with exclusive(path, wait):
        remove_abandoned_temps(path)
        yield Rewrite(path, read_exact(path))


def read_exact(path: str | os.PathLike) -> str:
    """The file's text, its bytes decoded as they are: line endings stay what they were."""
    return Path(path).read_bytes().decode("utf-8")


def require_writable(path: Path) -> None:
    """Refuse a file or folder its owner marked read-only (root ignores permission bits, so they are read too)."""
    if not path.is_file():
        raise FileWriteError(f"{path}: no such file")
    if not os.access(path, os.W_OK) or not os.stat(path).st_mode & 0o222:
        raise FileWriteError(f"{path} is read-only: nothing was written")
    folder = path.parent
    if not os.access(folder, os.W_OK | os.X_OK) or not os.stat(folder).st_mode & 0o222:
        raise FileWriteError(f"{folder} is read-only, so {path.name} cannot be replaced in it: nothing was written")


@contextmanager
def exclusive(path: Path, wait: float = LOCK_WAIT) -> Iterator[None]:
    """Hold an exclusive flock on the file at `path` while the block runs, waiting up to `wait` seconds for another
    writer. The lock is on the file itself, so no lock file is left behind; a lock taken on a file another writer
    has since renamed over is taken again on the new one."""
    deadline = time.monotonic() + wait
    while True:
        fd = os.open(path, os.O_RDONLY)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise FileWriteError(f"{path}: another writer has held it for {wait:.0f}s; nothing was "
                                             f"written, try again when it is done") from None
                    time.sleep(0.05)
            try:
                if os.fstat(fd).st_ino == os.stat(path).st_ino:
                    break
            except FileNotFoundError:
                raise FileWriteError(f"{path}: the file was removed while waiting to write it") from None
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield
    finally:
        os.close(fd)


def replace_file(path: Path, text: str) -> None:
    """Swap `text` in for the file in one rename, with the file's permission bits and owner; the folder is synced
    so the rename itself survives a crash."""
    before = os.stat(path)
    with atomic_file(path, "wb") as f:
        os.fchmod(f.fileno(), stat.S_IMODE(before.st_mode))
        if (before.st_uid, before.st_gid) != (os.getuid(), os.getgid()):
            try:  # root writing a user's file: it stays the user's
                os.fchown(f.fileno(), before.st_uid, before.st_gid)
            except PermissionError:
                pass
        f.write(text.encode("utf-8"))
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def remove_abandoned_temps(path: Path) -> None:
    """Remove the temp files that writers of `path` killed before their rename left beside it (their process is
    gone); called under the lock, so no writer of ours is using one."""
    pattern = re.compile(_TEMP_NAME.format(name=re.escape(path.name)))
    for candidate in path.parent.iterdir():
        m = pattern.fullmatch(candidate.name)
        if m and not psutil.pid_exists(int(m.group(1))):
            candidate.unlink(missing_ok=True)


# -- patches ----------------------------------------------------------------------------------------------------
def relative_name(path: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """`path` relative to `root` (default: its folder), with `/` separators, as a patch names it."""
    path = Path(path).absolute()
    root = Path(root).absolute() if root else path.parent
    if not path.is_relative_to(root):
        raise FileWriteError(f"{path} is not inside {root}: a patch names files relative to it")
    return path.relative_to(root).as_posix()


def unified_diff(old: str, new: str, relative: str) -> str:
    """The unified diff from `old` to `new` with headers `a/REL`, `b/REL`, as `git apply` accepts it: lines split
    at "\\n" only, a last line without a newline marked as git itself marks it. "" when nothing changes."""
    lines = difflib.unified_diff(_lines(old), _lines(new), f"a/{relative}", f"b/{relative}")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def write_patch(out_dir: str | os.PathLike, relative: str, old: str, new: str) -> Path | None:
    """Write `unified_diff(old, new, relative)` atomically under `out_dir/patches/`, named after REL (`/` as `__`,
    then `.diff`); the patch's path, or None when nothing changes. A name another file's patch already holds
    (`a/b.v` and `a__b.v`) gets a number (`a__b.v.2.diff`, ...): each file keeps its own patch, rerun after rerun."""
    diff = unified_diff(old, new, relative)
    if not diff:
        return None
    folder = Path(out_dir) / PATCHES
    folder.mkdir(parents=True, exist_ok=True)
    target = _patch_path(folder, relative)
    write_atomic(target, diff)
    return target


def _patch_path(folder: Path, relative: str) -> Path:
    """The first free name for REL's patch in `folder`, or the one that already holds a patch of REL."""
    stem, header = relative.replace("/", "__"), f"--- a/{relative}\n"
    number = 1
    while True:
        candidate = folder / (f"{stem}.diff" if number == 1 else f"{stem}.{number}.diff")
        if not candidate.exists():
            return candidate
        with open(candidate, "rb") as f:
            if f.readline().decode("utf-8", "replace") == header:
                return candidate
        number += 1


def _lines(text: str) -> list[str]:
    """`text` split after each "\\n" only (str.splitlines also splits at form feeds and other breaks git keeps)."""
    return [line for line in re.split(r"(?<=\n)", text) if line]

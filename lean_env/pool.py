"""Lean REPL processes keyed by header (as in the Kimina Lean server): import Mathlib once per header, not per theorem.

Each distinct header (imports, options, opens) gets one process, in which the header is elaborated once
as a command; its env id is the base every theorem with that header is elaborated on. At most
`max_processes` live at once, least recently used evicted first.

Recycling: REPLs slow down and die after many hundreds of commands (every proof state is kept), so a
process that has answered `recycle_after` requests is replaced the next time its header is asked for
between theorems. Before it goes, its base env is pickled (`pickleTo`) and the new process starts from
`unpickleEnvFrom`, falling back to elaborating the header if that fails. The REPL pickles only what a
header adds to its imports, so for an imports-only header the import cost is paid again either way.

One timeout policy (prover.backend.Timeouts; lean_env.repl.DEFAULT_TIMEOUTS unless given): the REPL cannot
interrupt a request, so any request past its limit kills the process (LeanRepl does that) and the next `get` for
that header starts a new one; a crashed process is replaced the same way. The pool's own waits are the header's
(`timeouts.header`): elaborating it, pickling and unpickling its env. Proof-state and env ids belong to one
process: `PooledRepl.generation` tells a caller that the process it knew has been replaced.

Not thread-safe: one caller at a time.
"""
from __future__ import annotations

import hashlib
import itertools
import shutil
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from lean_env.messages import ReplCrashed, ReplError, ReplTimeout
from lean_env.repl import DEFAULT_TIMEOUTS, LeanRepl, scratch_root
from prover.backend import Timeouts

DEFAULT_RECYCLE_AFTER = 500  # requests; community experience: REPLs die after "many hundreds" of proof states


class HeaderError(Exception):
    """The header itself does not elaborate (missing import, bad option): no theorem under it can be stated."""


@dataclass
class PooledRepl:
    header: str
    repl: LeanRepl
    base_env: int | None  # env after the header; None for an empty header (each command starts fresh)
    generation: int  # unique per process the pool starts; ids from another generation are meaningless here

    @property
    def alive(self) -> bool:
        return self.repl.alive


class LeanPool:
    def __init__(
        self,
        repl_factory: Callable[[], LeanRepl] = LeanRepl,
        *,
        max_processes: int = 1,
        recycle_after: int = DEFAULT_RECYCLE_AFTER,
        timeouts: Timeouts | None = None,
        pickle_headers: bool = True,
        pickle_path: Callable[[str], str] | None = None,
    ):
        """`repl_factory()` starts one REPL process. `pickle_path(header)` says where a header's env is pickled
        (default: a temp dir of this pool's, removed by close)."""
        if max_processes < 1:
            raise ValueError("max_processes must be at least 1")
        self._factory = repl_factory
        self.max_processes = max_processes
        self.recycle_after = recycle_after
        self.timeouts = (timeouts or Timeouts()).resolved(DEFAULT_TIMEOUTS)
        self._pickle_headers = pickle_headers
        self._pickle_path = pickle_path
        self._pickle_dir: str | None = None
        self._pickled: dict[str, str] = {}  # header -> pickle file written from one of its processes
        self._entries: OrderedDict[str, PooledRepl] = OrderedDict()  # least recently used first
        self._generations = itertools.count(1)
        # Counters, for tests and diagnostics.
        self.starts = 0
        self.recycles = 0
        self.unpickled = 0
        self.evictions = 0

    # -- the pool -------------------------------------------------------------------------------
    def get(self, header: str, recycle: bool = True) -> PooledRepl:
        """The live process for `header`, started (and the header elaborated) if need be.

        `recycle=False` keeps a process past `recycle_after`: callers in the middle of a proof pass it,
        so proof-state ids survive until the proof is done. Raises HeaderError, or the REPL's errors.
        """
        header = header.strip()
        entry = self._entries.get(header)
        if entry is not None and not entry.alive:
            self.discard(header)
            entry = None
        if entry is not None and recycle and entry.repl.commands >= self.recycle_after:
            self._pickle(entry)
            self.discard(header)
            self.recycles += 1
            entry = None
        if entry is None:
            while len(self._entries) >= self.max_processes:
                _, evicted = self._entries.popitem(last=False)
                evicted.repl.close()
                self.evictions += 1
            entry = self._start(header)
            self._entries[header] = entry
        self._entries.move_to_end(header)
        return entry

    def discard(self, header: str) -> None:
        """Close the process for `header` (after a crash or timeout, or to free memory)."""
        entry = self._entries.pop(header.strip(), None)
        if entry is not None:
            entry.repl.close()

    def headers(self) -> list[str]:
        """Headers with a process, least recently used first."""
        return list(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def close(self) -> None:
        for header in list(self._entries):
            self.discard(header)
        if self._pickle_dir is not None:
            shutil.rmtree(self._pickle_dir, ignore_errors=True)
            self._pickle_dir = None
        self._pickled.clear()

    def __enter__(self) -> "LeanPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------------
    def _start(self, header: str) -> PooledRepl:
        repl = self._factory()
        self.starts += 1
        try:
            if not header:
                return PooledRepl(header, repl, None, next(self._generations))
            pickled = self._pickled.get(header)
            if pickled is not None:
                try:
                    env = repl.unpickle_env(pickled, timeout=self.timeouts.header).env
                    self.unpickled += 1
                    return PooledRepl(header, repl, env, next(self._generations))
                except ReplError:
                    del self._pickled[header]
                except ReplCrashed:  # the REPL does not catch unpickling errors: it exits
                    del self._pickled[header]
                    repl.close()
                    repl = self._factory()
                    self.starts += 1
            try:
                reply = repl.command(header, timeout=self.timeouts.header)
            except ReplError as exc:  # e.g. an import the project cannot resolve
                raise HeaderError(f"header does not elaborate: {' '.join(str(exc).split())}") from exc
            if reply.errors:
                raise HeaderError("header does not elaborate: " + " | ".join(" ".join(m.data.split()) for m in reply.errors))
            return PooledRepl(header, repl, reply.env, next(self._generations))
        except BaseException:
            repl.close()
            raise

    def _pickle(self, entry: PooledRepl) -> None:
        """Pickle a retiring process's base env once per header, so its successor can start from it."""
        if not self._pickle_headers or entry.base_env is None or entry.header in self._pickled:
            return
        if self._pickle_path is not None:
            path = self._pickle_path(entry.header)
        else:
            if self._pickle_dir is None:
                self._pickle_dir = tempfile.mkdtemp(prefix="lean-pool-", dir=scratch_root())  # REPLs may write there
            path = str(Path(self._pickle_dir) / (hashlib.sha256(entry.header.encode()).hexdigest()[:16] + ".olean"))
        try:
            entry.repl.pickle_env(entry.base_env, path, timeout=self.timeouts.header)
        except (ReplError, ReplCrashed, ReplTimeout):
            return  # the successor elaborates the header instead
        self._pickled[entry.header] = path

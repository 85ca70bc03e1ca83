"""Ctrl-C that is never lost, and SIGTERM/SIGHUP that take the proof assistants down with us.

Python turns SIGINT into KeyboardInterrupt wherever the main thread happens to be. When that is a callback whose
exceptions Python ignores, the interrupt is printed ("Exception ignored in ...") and dropped: logging's at-fork hook
runs in the parent every time a subprocess is forked (each coqtop start, each coqc check), so a Ctrl-C landing
there used to let a batch run on to its end. The handler installed here also remembers the request, and the long
loops (the batch, the search) call `check()` between units of work, so a dropped interrupt still stops the run
within one step.
"""
from __future__ import annotations

import signal
import threading

from prover import sandbox

_requested = False


def _on_sigint(signum, frame) -> None:
    global _requested
    _requested = True
    raise KeyboardInterrupt


def _on_termination(signum, frame) -> None:
    """SIGTERM/SIGHUP: the proof assistants we started go first (their process groups are not ours, so nothing
    else would stop them), then the run stops as for a Ctrl-C: finished rows kept, partial work dropped."""
    global _requested
    sandbox.kill_all()
    _requested = True
    raise KeyboardInterrupt


def install() -> None:
    """Use the remembering handlers, where Python's own are in place (an ignored or replaced SIGINT, SIGTERM or
    SIGHUP is left alone)."""
    global _requested
    _requested = False
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _on_termination)


def requested() -> bool:
    return _requested


def check() -> None:
    """Raise the KeyboardInterrupt a Ctrl-C asked for, if it was swallowed where it first landed."""
    if _requested:
        raise KeyboardInterrupt

"""Ctrl-C that is never lost.

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

_requested = False


def _on_sigint(signum, frame) -> None:
    global _requested
    _requested = True
    raise KeyboardInterrupt


def install() -> None:
    """Use the remembering handler, where Python's own is in place (an ignored or replaced SIGINT is left alone)."""
    global _requested
    _requested = False
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)


def requested() -> bool:
    return _requested


def check() -> None:
    """Raise the KeyboardInterrupt a Ctrl-C asked for, if it was swallowed where it first landed."""
    if _requested:
        raise KeyboardInterrupt

"""A Ctrl-C that lands where Python drops exceptions (an at-fork hook, a finalizer) still stops the run."""
import os
import signal
import sys
import time

import pytest

from prover import interrupts


@pytest.fixture
def remembering_handler():
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    interrupts.install()
    yield
    signal.signal(signal.SIGINT, before)
    interrupts._requested = False


class InterruptedWhileFinalized:
    """Its finalizer receives the SIGINT: Python prints the KeyboardInterrupt there and drops it."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)  # the handler runs here, inside __del__


def test_a_dropped_interrupt_is_remembered_and_raised_at_the_next_check(remembering_handler, monkeypatch):
    dropped = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: dropped.append(info.exc_type))
    InterruptedWhileFinalized()  # collected at once; the KeyboardInterrupt raised in it goes nowhere
    assert dropped == [KeyboardInterrupt]
    assert interrupts.requested()
    with pytest.raises(KeyboardInterrupt):
        interrupts.check()


def test_no_interrupt_no_raise(remembering_handler):
    interrupts.check()
    assert not interrupts.requested()


def test_an_ignored_sigint_stays_ignored():
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        interrupts.install()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)

"""A Ctrl-C that lands where Python drops exceptions (an at-fork hook, a finalizer) still stops the run."""
import os
import signal
import sys
import time

import psutil
import pytest

from prover import interrupts
from prover.sandbox import descendants


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


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@pytest.mark.rocq
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_on_check_take_coqc_down_too(tmp_path, signum):
    import subprocess

    if signal.getsignal(signum) is signal.SIG_IGN:  # the child inherits it and, by design, leaves it alone
        pytest.skip(f"{signal.Signals(signum).name} is ignored in this process (run under nohup?)")

    slow = tmp_path / "Slow.v"  # 2^40 additions: coqc would run until its CPU limit
    slow.write_text("Fixpoint f (n : nat) : nat := match n with 0 => 1 | S m => f m + f m end.\n"
                    "Definition big := Eval vm_compute in f 40.\n"
                    "Theorem t : True.\nProof. exact I. Qed.\n")
    proc = subprocess.Popen([sys.executable, "-m", "prover.cli", "check", str(slow)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        below: set[int] = set()
        while time.monotonic() < deadline and not any("coqc" in _cmdline(p) for p in below):
            time.sleep(0.2)
            below = set(descendants(proc.pid))
        assert any("coqc" in _cmdline(p) for p in below), "coqc never started"
        os.kill(proc.pid, signum)
        proc.wait(timeout=30)
        time.sleep(0.5)
        assert [p for p in below if _alive(p)] == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _cmdline(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return ""

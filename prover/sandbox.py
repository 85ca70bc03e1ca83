"""The filesystem sandbox every proof-assistant process runs in: a read-only view of the machine, one private
writable temp dir (removed afterwards), no network, resource limits, its own process group.

Isolation comes from bubblewrap (Debian's `bubblewrap`, installed by scripts/install.sh), which uses Linux
mount/user namespaces. Where it is missing or the kernel refuses namespaces, processes run unconfined in their
temp dir, one line on stderr says so (once per process), and `isolated()` reads False so callers refuse the
vernacular that reaches the outside world instead.

Backends build their commands through `Sandbox.command` and start them with `limits_preexec` (or both at once with
`Sandbox.popen`), stop them with `kill_group`, and read their answers with `OutputReader` (a pipe read until a
whole message is in or a deadline passes); `payload_pid` finds the sandboxed program itself (bubblewrap's child)
for signals that must reach it, such as an interrupt.
"""
from __future__ import annotations

import errno
import functools
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import dataclass
from typing import IO, Callable, Iterable, Sequence

import psutil

# Set to "off" to run proof assistants unconfined (debugging a sandbox problem); anything else means "use it".
SANDBOX_ENV_VAR = "LLEMMA_PROVER_SANDBOX"


@dataclass(frozen=True)
class ProcessLimits:
    """Resource limits a sandboxed process runs under (None: no limit)."""

    memory_mb: int | None = 4096  # address space
    cpu_seconds: int | None = 3600  # per process lifetime


def limits_preexec(limits: ProcessLimits):
    """A preexec_fn: the child's own process group (a terminal's Ctrl-C does not reach it, a group kill takes all
    of it) and its resource limits, inherited by the sandboxed program."""

    def apply() -> None:
        os.setsid()
        if limits.memory_mb:
            mem = limits.memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        if limits.cpu_seconds:
            resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))

    return apply


def _bwrap_base() -> list[str] | None:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None
    base = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--unshare-ipc", "--unshare-uts", "--die-with-parent"]  # the program dies with bubblewrap
    if os.geteuid() == 0:
        base += ["--cap-drop", "ALL"]  # root in the sandbox could otherwise remount what we made read-only
    return base


@functools.lru_cache(maxsize=None)
def _probe() -> tuple[list[str] | None, str]:
    """(bubblewrap's base arguments, "") where a trial sandbox works, else (None, why not)."""
    if os.environ.get(SANDBOX_ENV_VAR, "").lower() == "off":
        return None, f"{SANDBOX_ENV_VAR}=off"
    base = _bwrap_base()
    if base is None:
        return None, "bubblewrap (bwrap) is not installed: apt-get install -y bubblewrap"
    try:
        trial = subprocess.run([*base, "--unshare-net", "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"bubblewrap does not start: {exc}"
    if trial.returncode != 0:
        return None, "bubblewrap cannot create namespaces here: " + " ".join(trial.stderr.split())[:200]
    return base, ""


_warned = False


def named_paths(argv: Sequence[str]) -> list[str]:
    """The places a command line names (its absolute-path arguments, or the folder of one not yet there), for a
    sandbox to make readable: a load-path folder, a transcript given by its stem."""
    named = []
    for arg in argv:
        if os.path.isabs(arg):
            named.append(arg if os.path.exists(arg) else os.path.dirname(arg))
    return [p for p in named if os.path.exists(p) and p != "/"]


def isolated() -> bool:
    """Whether proof-assistant processes run confined; says once on stderr when they do not."""
    global _warned
    base, why = _probe()
    if base is None and not _warned:
        _warned = True
        print(f"warning: no filesystem isolation for proof assistants ({why}); they run unconfined, and commands "
              f"that reach the outside world (Redirect, Extraction, Cd, Load, ...) are refused", file=sys.stderr)
    return base is not None


class Sandbox:
    """One private temp dir and the command line that confines a program to it.

    Inside, the whole filesystem reads as it is except /tmp, which is empty apart from the private dir and the
    paths given as `readable`; nothing is writable except the private dir and the paths given as `writable`.
    `network=False` gives the program no network at all (a proof checker needs none).
    """

    def __init__(self, prefix: str = "sandbox-", readable: Iterable[str | os.PathLike] = (),
                 writable: Iterable[str | os.PathLike] = (), network: bool = False):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.readable = [os.path.abspath(p) for p in readable]
        self.writable = [os.path.abspath(p) for p in writable]
        self.network = network

    def command(self, argv: Sequence[str], cwd: str | os.PathLike | None = None) -> list[str]:
        """`argv` run inside the sandbox, starting in `cwd` (default: the private dir)."""
        if not isolated():
            return list(argv)
        base, _ = _probe()
        args = list(base)
        if not self.network:
            args.append("--unshare-net")
        for path in self.readable:
            if os.path.exists(path):
                args += ["--ro-bind", path, path]
        for path in [self.dir, *self.writable]:
            if os.path.exists(path):
                args += ["--bind", path, path]
        args += ["--chdir", os.path.abspath(cwd or self.dir), "--setenv", "TMPDIR", self.dir, "--", *argv]
        return args

    def popen(self, argv: Sequence[str], limits: ProcessLimits, cwd: str | os.PathLike | None = None,
              **kwargs) -> subprocess.Popen:
        """Start `argv` in the sandbox under `limits`, in its own process group, known to `kill_all`."""
        _require_program(argv[0], cwd)  # as Popen would: inside bubblewrap a missing program is only an exit code
        proc = subprocess.Popen(self.command(argv, cwd), cwd=cwd or self.dir, preexec_fn=limits_preexec(limits), **kwargs)
        _running.add(proc)
        return proc

    def run(self, argv: Sequence[str], limits: ProcessLimits, timeout: float,
            cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
        """Run `argv` to the end with its output captured (text); past `timeout`, or on any exception here
        (Ctrl-C, SIGTERM), its whole process group is killed and the exception raised."""
        proc = self.popen(argv, limits, cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, errors="replace")
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:
            kill_group(proc)
            raise
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _require_program(program: str, cwd: str | os.PathLike | None) -> None:
    if os.sep in program:
        found = os.access(os.path.join(cwd or "", program), os.X_OK)
    else:
        found = shutil.which(program) is not None
    if not found:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)


_running: "weakref.WeakSet[subprocess.Popen]" = weakref.WeakSet()  # sandboxed processes this process started


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def kill_group(proc: subprocess.Popen, grace: float = 0.0) -> None:
    """Kill the process and everything in its group (the sandbox, the program in it and what that started), and
    reap it. With a `grace`, SIGTERM first and up to that many seconds to exit. The group is killed even when its
    leader is gone: children it left there (`lake env`'s REPL, sbt's JVM) still hold memory."""
    if grace > 0 and proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    _signal_group(proc, signal.SIGKILL)
    try:
        proc.wait(timeout=10)  # a process in uninterruptible sleep is left to the kernel
    except subprocess.TimeoutExpired:
        pass
    _running.discard(proc)


def kill_all() -> None:
    """Kill every sandboxed process still running (on SIGTERM/SIGHUP: none may outlive us). Waits for none."""
    for proc in list(_running):
        if proc.poll() is None:
            _signal_group(proc, signal.SIGKILL)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, theirs, ...): what a sandboxed process left running."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def payload_pid(proc: subprocess.Popen) -> int:
    """The pid of the program a sandboxed Popen runs: bubblewrap's child where there is a bubblewrap (signals
    sent to bubblewrap itself are not passed on), else the process itself."""
    try:
        process = psutil.Process(proc.pid)
        if process.name() != "bwrap":
            return proc.pid
        children = process.children()
    except psutil.Error:
        return proc.pid
    return children[0].pid if children else proc.pid


class OutputReader:
    """A child's output pipe, read in chunks into `buffer` until a whole message is there or a deadline passes."""

    def __init__(self, stream: IO[bytes]):
        self.fd = stream.fileno()
        self.buffer = b""

    def read_until(self, message_end: Callable[[bytes], int | None], deadline: float | None) -> bytes:
        """The buffer up to the index `message_end(buffer)` gives once it gives one, taken off the buffer.
        TimeoutError once `deadline` (a time.monotonic() value; None: no limit) passes, EOFError if the pipe closes."""
        while (end := message_end(self.buffer)) is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError("no complete answer before the deadline")
            if select.select([self.fd], [], [], left)[0]:
                chunk = os.read(self.fd, 1 << 16)
                if not chunk:
                    raise EOFError("the process closed its output")
                self.buffer += chunk
        message, self.buffer = self.buffer[:end], self.buffer[end:]
        return message

    def drain(self, quiet: float) -> None:
        """Buffer what arrives until the pipe has been quiet for `quiet` seconds (or closes)."""
        while select.select([self.fd], [], [], quiet)[0]:
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                break
            self.buffer += chunk

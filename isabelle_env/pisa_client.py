"""gRPC client of PISA (Portal-to-ISAbelle): one PisaClient per server port, a PisaPool over several.

PISA serves `server.Server` (see isabelle_env/pisa/server.proto). Setting up a session takes three calls
(InitialiseIsabelle with the Isabelle installation, IsabelleWorkingDirectory, IsabelleContext with a theory
file, which starts Isabelle) and the tagged command `<initialise>`, which names the empty top-level state
"default". Everything after is IsabelleCommand with tagged text:

  <apply to top level state> OLD <apply to top level state> ISAR <apply to top level state> NEW
      run ISAR on state OLD, keep the result as NEW; the reply is the new state's text, or
      "Step error: ..." / "Unknown error: ..." (PISA's own 10 s limit shows as "Futures timed out")
  ... normalhammer ...   as above, ISAR being Sledgehammer: the reply is "TACTIC <hammer> STATE"
  <get_proof_level> NAME, <is finished> NAME, <clone> OLD <clone> NEW, <delete> NAME, <list states>

The messages are one string each (field 1), encoded by hand (isabelle_env.pisa_wire), so the client needs grpcio
but no protobuf runtime and no generated stubs. PISA's states outlive any one command, so the backend branches by
applying tactics to any earlier name. A server that dies is restarted through a launcher, if one is
configured (isabelle_env.pisa_launcher; a process we started is ended by its process group id only); every name is then gone and
`generation` increases.
"""
from __future__ import annotations

import os
import re
import threading
from contextlib import contextmanager
from typing import Iterator, Sequence

from isabelle_env.bridge import BridgeError, ServerDied, StepResult, resolve_header
from isabelle_env.pisa_launcher import Launcher
from isabelle_env.pisa_wire import (
    APPLY,
    CLONE,
    DEFAULT_STATE,
    DELETE,
    HAMMER_TAG,
    INITIALISE,
    IS_FINISHED,
    LIST,
    MAX_MESSAGE_BYTES,
    PROOF_LEVEL,
    SERVICE,
    classify_reply,
    decode_text,
    encode_text,
)
from prover.types import BackendUnavailable

SETUP_HINT = (
    "run `prover setup isabelle`, or start PISA yourself "
    '(in Portal-to-ISAbelle: sbt "runMain pisa.server.PisaOneStageServer9000") '
    "and set LLEMMA_PROVER_PISA_PORTS=9000"
)


def _import_grpc():
    try:
        import grpc
    except ImportError as exc:
        raise BackendUnavailable("the PISA client needs grpcio: pip install 'llemma-prover[isabelle]'") from exc
    return grpc


class _Deadline(Exception):
    """Our deadline for one call passed (the server may still be working on it)."""


# -- one server ---------------------------------------------------------------------------------------------
class PisaClient:
    """Implements IsabelleBridge over one PISA server."""

    def __init__(
        self,
        port: int,
        *,
        host: str = "localhost",
        isabelle_home: str | None = None,
        theory_file: str | None = None,
        working_dir: str | None = None,
        launcher: Launcher | None = None,
        connect_timeout: float = 10.0,
        context_timeout: float = 900.0,
        grace: float = 5.0,
        probe_timeout: float = 10.0,
        hammer_command: str = "normalhammer",
    ):
        """`isabelle_home` and `theory_file` are paths on the server's machine. PISA starts Isabelle from the
        theory file's header; the DSP setup uses `<home>/src/HOL/Examples/Interactive.thy`, the default.
        `hammer_command` is "normalhammer" for current PISA, "sledgehammer" for servers before it."""
        self._grpc = _import_grpc()
        if isabelle_home is None and theory_file and "/src/" in theory_file:
            isabelle_home = theory_file.split("/src/")[0]
        if isabelle_home is None:
            raise BackendUnavailable(
                "no Isabelle found for PISA: run `prover setup isabelle` (needs Isabelle installed), or set "
                "LLEMMA_PROVER_ISABELLE_HOME to the Isabelle on the PISA server's machine"
            )
        self.port, self.host = port, host
        self.address = f"{host}:{port}"
        self.isabelle_home = isabelle_home
        self.theory_file = theory_file or os.path.join(isabelle_home, "src", "HOL", "Examples", "Interactive.thy")
        self.working_dir = working_dir
        self.generation = 0
        self.restarts = 0
        self._launcher = launcher
        self._process: object | None = None  # a server our launcher started
        self._connect_timeout = connect_timeout
        self._context_timeout = context_timeout
        self._grace = grace
        self._probe_timeout = probe_timeout
        self._hammer_command = hammer_command
        self._booted: tuple[str, str, str] | None = None  # (home, working dir, theory file) the server runs with
        self._dead: str | None = None  # why the server is considered gone; every call raises until restart()
        self._channel = None
        self._calls: dict[str, object] = {}
        if not self._connect(self._connect_timeout):
            if launcher is None:
                self._close_channel()
                raise ServerDied(f"no PISA server answers on {self.address}: {SETUP_HINT}")
            self._launch(first=True)

    # -- IsabelleBridge -----------------------------------------------------------------------------------
    def initialise(
        self,
        name: str,
        *,
        header: str | None = None,
        theory_file: str | None = None,
        imports: Sequence[str] = (),
        working_dir: str | None = None,
        timeout: float = 600.0,
    ) -> StepResult:
        header_text, file_dir = resolve_header(header, theory_file, imports)
        context_file = theory_file or self.theory_file
        directory = working_dir or file_dir or self.working_dir or os.path.dirname(context_file)
        self._boot(directory, context_file)
        return self.step(DEFAULT_STATE, header_text, name, timeout)

    def step(self, state_name: str, command: str, new_name: str, timeout: float) -> StepResult:
        try:
            reply = self._command(f"{APPLY} {state_name} {APPLY} {command} {APPLY} {new_name}", timeout + self._grace)
        except _Deadline:
            self._check_alive()
            return StepResult(timed_out=True)
        error, timed_out = classify_reply(reply)
        if timed_out:
            return StepResult(timed_out=True)
        if error:
            return StepResult(error=error)
        return StepResult(state=reply.strip(), proof_level=self.proof_level(new_name))

    def clone(self, src: str, dst: str) -> None:
        reply = self._command(f"{CLONE} {src} {CLONE} {dst}", self._probe_timeout)
        if not reply.startswith("Successfully"):
            raise BridgeError(f"PISA could not clone {src!r}: {reply}")

    def delete(self, name: str) -> None:
        self._command(f"{DELETE} {name}", self._probe_timeout)  # an unknown name is answered, not raised

    def list(self) -> list[str]:
        reply = self._command(LIST, self._probe_timeout)
        return [n.strip() for n in reply.split(" | ") if n.strip()]

    def proof_level(self, name: str) -> int:
        reply = self._command(f"{PROOF_LEVEL} {name}", self._probe_timeout).strip()
        if re.fullmatch(r"\d+", reply):
            return int(reply)
        if reply == "Unrecognised operation.":  # servers before <get_proof_level>: only finished or not
            finished = self._command(f"{IS_FINISHED} {name}", self._probe_timeout).strip()
            if finished in ("true", "false"):
                return 0 if finished == "true" else 1
            reply = finished
        raise BridgeError(f"PISA has no proof level for {name!r}: {reply}")

    def sledgehammer(self, state_name: str, timeout: float) -> str | None:
        scratch = f"{state_name}__hammered"  # PISA also applies what it found; we only want the text
        try:
            reply = self._command(
                f"{APPLY} {state_name} {APPLY} {self._hammer_command} {APPLY} {scratch}", timeout + self._grace
            )
        except _Deadline:
            self._check_alive()
            return None
        error, _ = classify_reply(reply)
        if error or HAMMER_TAG not in reply:
            return None
        self.delete(scratch)
        tactic = reply.split(HAMMER_TAG, 1)[0].strip()
        return tactic or None

    def restart(self) -> None:
        if self._launcher is None:
            raise ServerDied(
                f"PISA server on {self.address} is gone ({self._dead or 'not answering'}) and no launcher is "
                f"configured: restart it, or set LLEMMA_PROVER_PISA_LAUNCH so it is restarted for you"
            )
        self._stop_process()
        self._close_channel()
        self._launch()

    def close(self) -> None:
        self._close_channel()
        self._stop_process()

    @property
    def process(self) -> object | None:
        """The server process our launcher started, if any."""
        return self._process

    def __enter__(self) -> "PisaClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------------------
    def _connect(self, timeout: float, until_up: bool = False) -> bool:
        """A fresh channel (a dead one would wait out gRPC's reconnect backoff); whether the server answers."""
        grpc = self._grpc
        self._close_channel()
        self._channel = grpc.insecure_channel(
            self.address,
            options=[
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        self._calls = {
            method: self._channel.unary_unary(
                f"/{SERVICE}/{method}", request_serializer=encode_text, response_deserializer=decode_text
            )
            for method in ("InitialiseIsabelle", "IsabelleWorkingDirectory", "IsabelleContext", "IsabelleCommand")
        }
        if until_up:  # a server starting: keep trying (gRPC retries with backoff) until it answers
            try:
                grpc.channel_ready_future(self._channel).result(timeout=timeout)
            except grpc.FutureTimeoutError:
                return False
            return True
        settled, ready = threading.Event(), threading.Event()

        def watch(state) -> None:  # a refused connection settles it at once: no waiting out the timeout
            if state == grpc.ChannelConnectivity.READY:
                ready.set()
                settled.set()
            elif state == grpc.ChannelConnectivity.TRANSIENT_FAILURE:
                settled.set()

        self._channel.subscribe(watch, try_to_connect=True)
        settled.wait(timeout)
        self._channel.unsubscribe(watch)
        return ready.is_set()

    def _close_channel(self) -> None:
        if self._channel is not None:
            self._channel.close()
        self._channel, self._calls = None, {}

    def _launch(self, first: bool = False) -> None:
        launcher = self._launcher
        self._process = launcher.start(self.port)
        if not self._connect(launcher.startup_timeout, until_up=True):
            said = launcher.describe(self._process)
            self._stop_process()
            self._close_channel()
            self._dead = "a restart did not come up"
            raise ServerDied(
                f"started a PISA server for {self.address}, but it did not answer within "
                f"{launcher.startup_timeout:g}s{': ' + said if said else ''}"
            )
        self._dead = None
        if not first:
            self._lost_states()
            self.restarts += 1

    def _stop_process(self) -> None:
        if self._process is not None and self._launcher is not None:
            self._launcher.stop(self._process)
        self._process = None

    def _lost_states(self) -> None:
        self._booted = None
        self.generation += 1

    def _boot(self, working_dir: str, theory_file: str) -> None:
        """Start Isabelle in the server for this working directory and theory file, unless it runs with them."""
        wanted = (self.isabelle_home, working_dir, theory_file)
        if self._booted == wanted:
            return
        if self._booted is not None:
            self._lost_states()  # a new IsabelleContext replaces PISA's whole Isabelle session
        try:
            self._rpc("InitialiseIsabelle", self.isabelle_home, self._probe_timeout)
            self._rpc("IsabelleWorkingDirectory", working_dir, self._probe_timeout)
            self._rpc("IsabelleContext", theory_file, self._context_timeout)
            self._command(INITIALISE, self._probe_timeout)
        except _Deadline as exc:
            raise BackendUnavailable(
                f"PISA on {self.address} did not start Isabelle within {self._context_timeout:g}s"
            ) from exc
        except BridgeError as exc:
            raise BackendUnavailable(
                f"PISA on {self.address} could not start Isabelle with {theory_file} (it must exist on the "
                f"server's machine; `prover setup isabelle` writes one): {exc}"
            ) from exc
        self._booted = wanted

    def _command(self, text: str, timeout: float) -> str:
        return self._rpc("IsabelleCommand", text, timeout)

    def _rpc(self, method: str, text: str, timeout: float) -> str:
        if self._dead:
            raise ServerDied(f"PISA server on {self.address} is gone: {self._dead}")
        grpc = self._grpc
        try:
            return self._calls[method](text, timeout=timeout)
        except grpc.RpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise _Deadline(f"{method} ran past {timeout:g}s") from exc
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
                self._mark_dead(f"{code.name}: {exc.details()}")
                raise ServerDied(f"PISA server on {self.address} is gone ({self._dead})") from exc
            raise BridgeError(f"PISA failed on {method}: {code.name}: {exc.details()}") from exc

    def _mark_dead(self, why: str) -> None:
        self._dead = why
        self._booted = None

    def _check_alive(self) -> None:
        """After a call ran past our deadline: a server that still answers a cheap command is only busy (its
        command goes on in the background); one that does not is wedged, and the next call restarts it."""
        try:
            self._command(LIST, self._probe_timeout)
        except _Deadline:
            self._mark_dead(f"no answer for {self._probe_timeout:g}s after a command ran past its deadline")
        except ServerDied:
            pass  # already marked


# -- several servers ----------------------------------------------------------------------------------------
class PisaPool:
    """PISA servers on several ports, one client each, handed to one user at a time (parallel provers)."""

    _shared: dict[tuple, "PisaPool"] = {}
    _shared_lock = threading.Lock()

    def __init__(self, ports: Sequence[int], **client_options):
        if not ports:
            raise BackendUnavailable(f"no PISA ports configured: {SETUP_HINT}")
        self.ports = tuple(ports)
        self._options = client_options
        self._free = list(self.ports)
        self._clients: dict[int, PisaClient] = {}
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, ports: Sequence[int], **client_options) -> "PisaPool":
        """The process's pool for these ports, so backends in threads of one process get different servers."""
        key = (tuple(ports), tuple(sorted((k, repr(v)) for k, v in client_options.items())))
        with cls._shared_lock:
            if key not in cls._shared:
                cls._shared[key] = cls(ports, **client_options)
            return cls._shared[key]

    def acquire(self) -> PisaClient:
        """A client to a free server; ports whose server does not answer are skipped."""
        with self._lock:
            tried: list[str] = []
            for port in list(self._free):
                client = self._clients.get(port)
                if client is None:
                    try:
                        client = PisaClient(port, **self._options)
                    except ServerDied as exc:
                        tried.append(str(exc))
                        continue
                    self._clients[port] = client
                self._free.remove(port)
                return client
            if tried:
                raise ServerDied("; ".join(tried))
            raise BackendUnavailable(
                f"all {len(self.ports)} PISA servers ({', '.join(map(str, self.ports))}) are in use: start more "
                f"and list their ports in LLEMMA_PROVER_PISA_PORTS"
            )

    def release(self, client: PisaClient) -> None:
        with self._lock:
            if client.port not in self._free:
                self._free.append(client.port)

    @contextmanager
    def lease(self) -> Iterator[PisaClient]:
        client = self.acquire()
        try:
            yield client
        finally:
            self.release(client)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
            self._free = list(self.ports)

    @classmethod
    def close_shared(cls) -> None:
        """Close every shared pool (their servers, if a launcher started them)."""
        with cls._shared_lock:
            pools, cls._shared = list(cls._shared.values()), {}
        for pool in pools:
            pool.close()

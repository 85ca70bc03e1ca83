"""A client for the Isabelle server (`isabelle server`), following the protocol in the Isabelle system
manual, chapter "The Isabelle server".

The wire format, as the manual gives it:
  - the first line a client sends is the server's password; the server answers `OK <info>` or hangs up;
  - every message is `name argument`: the name is the longest prefix of ASCII letters, digits, `_` and
    `.`, then blanks, then the argument (empty, or JSON; the server can also send YXML);
  - a message is either one line (ending in LF or CR-LF), or a line holding only its decimal byte length
    followed by that many bytes (a final line terminator inside the block is optional). Lengths count
    UTF-8 bytes, never characters;
  - a command is answered by exactly one `OK` or `ERROR`; an asynchronous command's `OK` carries
    `{"task": id}` and the task ends later with `FINISHED` or `FAILED`, each carrying that id, with
    `NOTE` messages for it (and for other tasks) arriving at any time in between.

Our own client rather than PyPI `isabelle-client` (see isabelle_env/NOTES.md): it needs no pydantic, keeps
one connection open instead of one per command, gives every wait a deadline, sends `cancel` when one
passes, routes NOTE/FINISHED/FAILED by task id, and turns a dropped connection or a refused password into
one clear exception.
"""
from __future__ import annotations

import json
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable

REPLY_NAMES = ("OK", "ERROR", "FINISHED", "FAILED", "NOTE")
LONG_MESSAGE_OVER = 100  # bytes; longer messages go out length-prefixed, as the server itself does
_NAME = re.compile(rb"[A-Za-z0-9_.]*")
_SERVER_LINE = re.compile(
    r'server\s+"(?P<name>[^"]*)"\s*=\s*(?P<host>[^\s:]+):(?P<port>\d+)\s*\(password\s+"(?P<password>[^"]*)"\)')
_RECV_CHUNK = 1 << 16

NoteHandler = Callable[[dict], None]


class IsabelleServerError(Exception):
    """Anything that went wrong talking to an Isabelle server; the message is one line."""


class ServerConnectionLost(IsabelleServerError):
    """The connection closed or broke; nothing more can be read from it."""


class ServerPasswordRefused(ServerConnectionLost):
    """The server hung up right after the password: wrong password, or not an Isabelle server."""


class ServerTimeout(IsabelleServerError):
    """No (complete) answer within the deadline."""


class ServerProtocolError(IsabelleServerError):
    """The peer sent something the protocol does not allow."""


class CommandFailed(IsabelleServerError):
    """The server answered a command with ERROR (bad syntax, unknown session id, ...)."""

    def __init__(self, command: str, argument: Any):
        self.command = command
        self.argument = argument
        super().__init__(f"{command}: {_error_text(argument)}")


class TaskFailed(IsabelleServerError):
    """An asynchronous task ended with FAILED; `result` is its whole FAILED argument."""

    def __init__(self, command: str, result: Any):
        self.command = command
        self.result = result
        super().__init__(f"{command} failed: {_error_text(result)}")


def _error_text(argument: Any) -> str:
    if isinstance(argument, dict) and "message" in argument:
        text = str(argument["message"])
    elif isinstance(argument, str):
        text = argument
    else:
        text = json.dumps(argument)
    return " ".join(text.split())[:500] or "no message"


# -- addresses ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServerAddress:
    """Where a server listens and its password, as `isabelle server` prints them."""

    host: str
    port: int
    password: str
    name: str = ""

    def as_record(self) -> dict:
        return {"name": self.name, "host": self.host, "port": self.port, "password": self.password}

    @classmethod
    def from_record(cls, record: dict) -> "ServerAddress":
        return cls(host=record["host"], port=int(record["port"]), password=record["password"],
                   name=record.get("name", ""))


def parse_server_line(line: str) -> ServerAddress:
    """`server "NAME" = HOST:PORT (password "PW")`, the first line `isabelle server` prints."""
    m = _SERVER_LINE.search(line)
    if m is None:
        raise ValueError(f"not an `isabelle server` address line: {line.strip()[:200]!r}")
    return ServerAddress(m["host"], int(m["port"]), m["password"], m["name"])


# -- framing -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Message:
    """One protocol message: its name and its argument (parsed JSON, None when empty, else the raw text)."""

    name: str
    argument: Any = None
    raw: str = ""

    @property
    def task(self) -> str | None:
        return self.argument.get("task") if isinstance(self.argument, dict) else None


def encode_message(text: str) -> bytes:
    """The bytes of one message: a plain line when short, else byte length line + block."""
    body = text.encode("utf-8")
    if b"\n" in body or b"\r" in body or len(body) > LONG_MESSAGE_OVER or body.isdigit():
        block = body + b"\n"
        return str(len(block)).encode("ascii") + b"\n" + block
    return body + b"\n"


def parse_message(payload: bytes) -> Message:
    """`name argument` from one message's bytes (the line terminator already removed)."""
    name = _NAME.match(payload).group(0).decode("ascii")
    rest = payload[len(name):].lstrip(b" \t")
    try:
        text = rest.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ServerProtocolError(f"message {name or '?'} is not UTF-8: {exc}") from None
    if not text:
        return Message(name, None, text)
    try:
        return Message(name, json.loads(text), text)
    except ValueError:
        return Message(name, text, text)  # YXML or plain text: kept as it came


def _strip_terminator(block: bytes) -> bytes:
    if block.endswith(b"\r\n"):
        return block[:-2]
    if block.endswith(b"\n") or block.endswith(b"\r"):
        return block[:-1]
    return block


class MessageChannel:
    """Reads and writes whole protocol messages on a connected socket, every read under a deadline."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._buffer = bytearray()
        self.closed = False

    def send(self, text: str) -> None:
        self.send_bytes(encode_message(text))

    def send_line(self, text: str) -> None:
        """A short message, never length-prefixed (the password must go this way)."""
        body = text.encode("utf-8")
        if b"\n" in body or b"\r" in body:
            raise ValueError("a line message cannot contain a line break")
        self.send_bytes(body + b"\n")

    def send_bytes(self, data: bytes) -> None:
        if self.closed:
            raise ServerConnectionLost("connection to the Isabelle server is closed")
        try:
            self.sock.sendall(data)
        except OSError as exc:
            self.close()
            raise ServerConnectionLost(f"connection to the Isabelle server lost while sending: {exc}") from None

    def receive(self, deadline: float | None) -> Message:
        line = self._read_line(deadline)
        if line and line.isdigit():
            length = int(line)
            block = self._read_exactly(length, deadline, what=f"a {length}-byte message")
            return parse_message(_strip_terminator(block))
        return parse_message(line)

    def _read_line(self, deadline: float | None) -> bytes:
        while True:
            at = self._buffer.find(b"\n")
            if at >= 0:
                line = bytes(self._buffer[:at])
                del self._buffer[:at + 1]
                return line[:-1] if line.endswith(b"\r") else line
            self._fill(deadline, what="a message line")

    def _read_exactly(self, n: int, deadline: float | None, what: str) -> bytes:
        while len(self._buffer) < n:
            self._fill(deadline, what=what, have=len(self._buffer), want=n)
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def _fill(self, deadline: float | None, what: str, have: int | None = None, want: int | None = None) -> None:
        if self.closed:
            raise ServerConnectionLost("connection to the Isabelle server is closed")
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServerTimeout(f"no complete answer from the Isabelle server in time (waiting for {what})")
            self.sock.settimeout(left)
        else:
            self.sock.settimeout(None)
        try:
            chunk = self.sock.recv(_RECV_CHUNK)
        except socket.timeout:
            raise ServerTimeout(f"no complete answer from the Isabelle server in time (waiting for {what})") from None
        except OSError as exc:
            self.close()
            raise ServerConnectionLost(f"connection to the Isabelle server lost: {exc}") from None
        if not chunk:
            self.close()
            progress = f" after {have} of {want} bytes" if want is not None else ""
            partial = f" ({len(self._buffer)} bytes of an unfinished line)" if want is None and self._buffer else ""
            raise ServerConnectionLost(f"the Isabelle server closed the connection while we waited for {what}"
                                       f"{progress}{partial}")
        self._buffer += chunk

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass


# -- results -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TheoryMessage:
    """One prover message about a theory: kind (writeln, warning, error, ...), its text, where it is."""

    kind: str
    text: str
    line: int | None = None
    file: str | None = None

    @classmethod
    def from_json(cls, entry: dict) -> "TheoryMessage":
        pos = entry.get("pos") or {}
        line = pos.get("line")
        return cls(kind=str(entry.get("kind", "")), text=str(entry.get("message", "")),
                   line=int(line) if isinstance(line, (int, float)) else None, file=pos.get("file"))


@dataclass(frozen=True)
class SessionStarted:
    session_id: str
    tmp_dir: str | None = None


@dataclass(frozen=True)
class NodeResult:
    node_name: str
    theory_name: str
    ok: bool
    messages: tuple[TheoryMessage, ...]
    status: dict = field(default_factory=dict)


@dataclass(frozen=True)
class UseTheoriesResult:
    """The FINISHED result of use_theories: overall ok, all errors, and each theory node's messages."""

    ok: bool
    errors: tuple[TheoryMessage, ...]
    nodes: tuple[NodeResult, ...]
    raw: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, result: dict) -> "UseTheoriesResult":
        nodes = tuple(
            NodeResult(node_name=str(n.get("node_name", "")), theory_name=str(n.get("theory_name", "")),
                       ok=bool((n.get("status") or {}).get("ok", False)),
                       messages=tuple(TheoryMessage.from_json(m) for m in n.get("messages", ())),
                       status=dict(n.get("status") or {}))
            for n in result.get("nodes", ())
        )
        return cls(ok=bool(result.get("ok", False)),
                   errors=tuple(TheoryMessage.from_json(m) for m in result.get("errors", ())),
                   nodes=nodes, raw=result)

    def node(self, theory: str) -> NodeResult | None:
        """The node for `theory` (plain or session-qualified name, or its file name)."""
        for node in self.nodes:
            if node.theory_name == theory or node.theory_name.rsplit(".", 1)[-1] == theory:
                return node
            if node.node_name.rsplit("/", 1)[-1] in (theory, theory + ".thy"):
                return node
        return None


# -- the client ----------------------------------------------------------------------------------------
class IsabelleServerClient:
    """One connection to an Isabelle server. Not thread-safe: one command at a time."""

    def __init__(self, channel: MessageChannel, server_info: Any = None):
        self.channel = channel
        self.server_info = server_info  # what the server sent with its OK to the password
        self._pending: dict[str, Message] = {}  # FINISHED/FAILED that arrived while we awaited something else
        self._notes: dict[str, list[dict]] = {}

    @classmethod
    def connect(cls, address: ServerAddress, timeout: float = 30.0) -> "IsabelleServerClient":
        """Open a connection and pass the password; ServerPasswordRefused if the server hangs up on it."""
        try:
            sock = socket.create_connection((address.host, address.port), timeout=timeout)
        except OSError as exc:
            raise ServerConnectionLost(f"cannot connect to the Isabelle server at {address.host}:{address.port}: "
                                       f"{exc.strerror or exc}") from None
        channel = MessageChannel(sock)
        channel.send_line(address.password)
        try:
            reply = channel.receive(time.monotonic() + timeout)
        except ServerConnectionLost:
            raise ServerPasswordRefused(f"the Isabelle server at {address.host}:{address.port} closed the connection "
                                        "after the password (wrong password, or not an Isabelle server)") from None
        except ServerTimeout:
            channel.close()
            raise
        if reply.name != "OK":
            channel.close()
            raise ServerProtocolError(f"expected OK after the password, got {reply.name or '?'}: {reply.raw[:200]}")
        return cls(channel, reply.argument)

    # -- plumbing -------------------------------------------------------------------------------------
    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> "IsabelleServerClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _send(self, command: str, argument: Any) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.]+", command):
            raise ValueError(f"not a server command name: {command!r}")
        text = command if argument is None else f"{command} {json.dumps(argument, ensure_ascii=False)}"
        self.channel.send(text)

    def _next(self, deadline: float | None, on_note: NoteHandler | None, task: str | None = None) -> Message:
        """The next message that is not a NOTE (NOTEs go to `on_note` when they are `task`'s)."""
        while True:
            message = self.channel.receive(deadline)
            if not message.name and not message.raw:
                continue  # a stray line terminator after a length-prefixed block: not a message
            if message.name not in REPLY_NAMES:
                raise ServerProtocolError(f"unknown reply {message.name or '(empty)'!r} from the server")
            if message.name != "NOTE":
                return message
            note = message.argument if isinstance(message.argument, dict) else {"message": message.argument}
            if on_note is not None and (task is None or message.task in (task, None)):
                on_note(note)
            elif message.task is not None:
                self._notes.setdefault(message.task, []).append(note)

    def command(self, command: str, argument: Any = None, *, timeout: float | None = 60.0,
                on_note: NoteHandler | None = None) -> Any:
        """Send a command and return its OK argument; CommandFailed on ERROR."""
        self._send(command, argument)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            message = self._next(deadline, on_note)
            if message.name == "OK":
                return message.argument
            if message.name == "ERROR":
                raise CommandFailed(command, message.argument)
            if message.task is None:
                raise ServerProtocolError(f"{message.name} without a task id")
            self._pending[message.task] = message  # another task's end; kept for its await

    def start_task(self, command: str, argument: Any = None, *, timeout: float | None = 60.0) -> str:
        """Start an asynchronous command and return its task id."""
        result = self.command(command, argument, timeout=timeout)
        if not isinstance(result, dict) or not isinstance(result.get("task"), str):
            raise ServerProtocolError(f"{command} did not answer with a task id: {result!r}")
        return result["task"]

    def await_task(self, task: str, *, timeout: float | None = None, on_note: NoteHandler | None = None,
                   command: str = "task") -> dict:
        """Wait for `task` to end: its FINISHED argument, or TaskFailed. On timeout, cancel it and raise."""
        if on_note is not None:
            for note in self._notes.pop(task, ()):
                on_note(note)
        deadline = None if timeout is None else time.monotonic() + timeout
        while task not in self._pending:
            try:
                message = self._next(deadline, on_note, task)
            except ServerTimeout:
                self._cancel_quietly(task)
                raise ServerTimeout(f"{command} did not finish within {timeout:g}s (task cancelled)") from None
            if message.name in ("OK", "ERROR"):
                raise ServerProtocolError(f"unexpected {message.name} while no command was waiting for one")
            if message.task is None:
                raise ServerProtocolError(f"{message.name} without a task id")
            self._pending[message.task] = message
        message = self._pending.pop(task)
        self._notes.pop(task, None)
        result = message.argument if isinstance(message.argument, dict) else {"message": message.argument}
        if message.name == "FAILED":
            raise TaskFailed(command, result)
        return result

    def run_task(self, command: str, argument: Any = None, *, timeout: float | None = None,
                 on_note: NoteHandler | None = None) -> dict:
        task = self.start_task(command, argument, timeout=timeout if timeout is not None else 60.0)
        return self.await_task(task, timeout=timeout, on_note=on_note, command=command)

    def _cancel_quietly(self, task: str) -> None:
        try:
            self.command("cancel", {"task": task}, timeout=10.0)
        except IsabelleServerError:
            pass

    # -- the commands ---------------------------------------------------------------------------------
    def echo(self, value: Any, *, timeout: float = 30.0) -> Any:
        return self.command("echo", value, timeout=timeout)

    def help(self, *, timeout: float = 30.0) -> list[str]:
        return self.command("help", timeout=timeout)

    def cancel(self, task: str, *, timeout: float = 30.0) -> None:
        self.command("cancel", {"task": task}, timeout=timeout)

    def shutdown(self, *, timeout: float = 30.0) -> None:
        self.command("shutdown", timeout=timeout)

    def session_start(self, session: str = "HOL", *, dirs: list[str] | tuple[str, ...] = (),
                      include_sessions: list[str] | tuple[str, ...] = (), options: list[str] | tuple[str, ...] = (),
                      print_mode: list[str] | tuple[str, ...] = (), preferences: str | None = None,
                      timeout: float | None = 1800.0, on_note: NoteHandler | None = None) -> SessionStarted:
        """Start a PIDE session (building its heap first if needed: the timeout must allow for that)."""
        argument: dict[str, Any] = {"session": session}
        if dirs:
            argument["dirs"] = list(dirs)
        if include_sessions:
            argument["include_sessions"] = list(include_sessions)
        if options:
            argument["options"] = list(options)
        if print_mode:
            argument["print_mode"] = list(print_mode)
        if preferences is not None:
            argument["preferences"] = preferences
        result = self.run_task("session_start", argument, timeout=timeout, on_note=on_note)
        if not isinstance(result.get("session_id"), str):
            raise ServerProtocolError(f"session_start finished without a session_id: {result!r}")
        return SessionStarted(result["session_id"], result.get("tmp_dir"))

    def session_stop(self, session_id: str, *, timeout: float | None = 120.0) -> dict:
        return self.run_task("session_stop", {"session_id": session_id}, timeout=timeout)

    def use_theories(self, session_id: str, theories: list[str] | tuple[str, ...], master_dir: str | None = None, *,
                     options: list[str] | tuple[str, ...] = (), unicode_symbols: bool | None = None,
                     export_pattern: str | None = None, check_delay: float | None = None,
                     check_limit: int | None = None, watchdog_timeout: float | None = None,
                     nodes_status_delay: float | None = None, timeout: float | None = 600.0,
                     on_note: NoteHandler | None = None) -> UseTheoriesResult:
        """Load `theories` into the session and wait for them to be processed."""
        argument: dict[str, Any] = {"session_id": session_id, "theories": list(theories)}
        optional = {"master_dir": master_dir, "unicode_symbols": unicode_symbols, "export_pattern": export_pattern,
                    "check_delay": check_delay, "check_limit": check_limit, "watchdog_timeout": watchdog_timeout,
                    "nodes_status_delay": nodes_status_delay}
        argument.update({k: v for k, v in optional.items() if v is not None})
        if options:
            argument["options"] = list(options)
        return UseTheoriesResult.from_json(self.run_task("use_theories", argument, timeout=timeout, on_note=on_note))

    def purge_theories(self, session_id: str, theories: list[str] | tuple[str, ...] = (), master_dir: str | None = None,
                       *, all: bool = False, timeout: float = 60.0) -> dict:
        argument: dict[str, Any] = {"session_id": session_id, "theories": list(theories)}
        if master_dir is not None:
            argument["master_dir"] = master_dir
        if all:
            argument["all"] = True
        return self.command("purge_theories", argument, timeout=timeout) or {}

"""TEST DOUBLE for the Isabelle server: a scripted TCP peer on loopback. It is not Isabelle.

It speaks the server's framing as the Isabelle system manual describes it (password line first; messages
`name argument`, either one line or a decimal byte-length line followed by that many bytes), and does
what a test script tells it, one accepted connection at a time:

    def script(peer):
        assert peer.read_line() == b"secret"
        peer.reply("OK", {"isabelle_name": "Isabelle-double"})
        name, argument = peer.read_command()
        peer.reply("OK", argument)               # echo

    with ScriptedIsabelleServerDouble(script) as double:
        client = IsabelleServerClient.connect(double.address("secret"))

`SessionServerDouble` is a ready-made script for the commands the checker uses (session_start,
use_theories, session_stop, purge_theories): it answers use_theories by calling `judge(theory_text)`
on the theory file the client wrote, and records every command it received.
"""
from __future__ import annotations

import json
import re
import socket
import threading
import uuid
from pathlib import Path
from typing import Any, Callable

from isabelle_env.server_client import ServerAddress

_NAME = re.compile(rb"[A-Za-z0-9_.]*")


class PeerConnection:
    """The double's side of one connection."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = bytearray()
        self.received: list[bytes] = []  # every message payload read, in order (password line included)
        self.long_lengths: list[int] = []  # byte lengths announced by length-prefixed messages we read

    # reading
    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def read_line(self) -> bytes | None:
        while b"\n" not in self.buffer:
            if not self._fill():
                return None
        at = self.buffer.index(b"\n")
        line = bytes(self.buffer[:at]).rstrip(b"\r")
        del self.buffer[:at + 1]
        self.received.append(line)
        return line

    def read_message(self) -> bytes | None:
        line = self.read_line()
        if line is None or not line.isdigit():
            return line
        n = int(line)
        self.long_lengths.append(n)
        while len(self.buffer) < n:
            if not self._fill():
                return None
        block = bytes(self.buffer[:n])
        del self.buffer[:n]
        if block.endswith(b"\n"):
            block = block[:-1]
        self.received.append(block)
        return block

    def read_command(self) -> tuple[str, Any] | None:
        payload = self.read_message()
        if payload is None:
            return None
        name = _NAME.match(payload).group(0).decode()
        rest = payload[len(name):].lstrip(b" \t").decode("utf-8")
        return name, (json.loads(rest) if rest else None)

    # writing
    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self, name: str, argument: Any = None, *, long: bool | None = None) -> None:
        """Send `name argument`; long=True forces the length-prefixed form, None uses it above 100 bytes."""
        text = name if argument is None else f"{name} {json.dumps(argument, ensure_ascii=False)}"
        body = text.encode("utf-8")
        if long or (long is None and len(body) > 100):
            block = body + b"\n"
            self.send_raw(str(len(block)).encode() + b"\n" + block)
        else:
            self.send_raw(body + b"\n")

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class ScriptedIsabelleServerDouble:
    """TEST DOUBLE: listens on 127.0.0.1 and runs `script(peer)` for each connection, in a thread."""

    def __init__(self, script: Callable[[PeerConnection], None], connections: int = 1):
        self.script = script
        self.connections = connections
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.peers: list[PeerConnection] = []
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def address(self, password: str = "double-password") -> ServerAddress:
        return ServerAddress("127.0.0.1", self.port, password, "test-double")

    def _serve(self) -> None:
        for _ in range(self.connections):
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            peer = PeerConnection(sock)
            self.peers.append(peer)
            try:
                self.script(peer)
            except BaseException as exc:  # reported by the test through `errors`
                self.errors.append(exc)
            finally:
                peer.close()

    def __enter__(self) -> "ScriptedIsabelleServerDouble":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.listener.close()
        self.thread.join(timeout=10)


class SessionServerDouble(ScriptedIsabelleServerDouble):
    """TEST DOUBLE of a server with sessions: `judge(theory_text) -> (ok, [message dicts])` plays Isabelle.

    It answers session_start / use_theories / session_stop / purge_theories with the documented result
    shapes (task ids, NOTE progress, FINISHED), reading the theory file from the client's master_dir.
    """

    def __init__(self, judge: Callable[[str], tuple[bool, list[dict]]], password: str = "double-password",
                 connections: int = 1):
        self.judge = judge
        self.password = password
        self.commands: list[tuple[str, Any]] = []
        self.theory_texts: list[str] = []
        super().__init__(self._session_script, connections)

    def _session_script(self, peer: PeerConnection) -> None:
        if peer.read_line() != self.password.encode():
            return  # hang up, as the real server does
        peer.reply("OK", {"isabelle_id": "double", "isabelle_name": "Isabelle-test-double"})
        sessions: set[str] = set()
        while (command := peer.read_command()) is not None:
            name, argument = command
            self.commands.append((name, argument))
            task = str(uuid.uuid4())
            if name == "session_start":
                peer.reply("OK", {"task": task})
                peer.reply("NOTE", {"task": task, "kind": "writeln", "message": f"Starting session {argument['session']}"})
                session_id = str(uuid.uuid4())
                sessions.add(session_id)
                peer.reply("FINISHED", {"task": task, "session_id": session_id, "tmp_dir": "/tmp/double"})
            elif name == "use_theories":
                if argument.get("session_id") not in sessions:
                    peer.reply("ERROR", {"kind": "error", "message": "No session " + str(argument.get("session_id"))})
                    continue
                peer.reply("OK", {"task": task})
                theory = argument["theories"][0]
                text = (Path(argument["master_dir"]) / f"{theory}.thy").read_text(encoding="utf-8")
                self.theory_texts.append(text)
                ok, messages = self.judge(text)
                peer.reply("NOTE", {"task": task, "kind": "writeln", "message": f"theory Draft.{theory} 100%",
                                    "theory": f"Draft.{theory}", "session": "", "percentage": 100})
                errors = [m for m in messages if m.get("kind") == "error"]
                node = {"node_name": f"{argument['master_dir']}/{theory}.thy", "theory_name": f"Draft.{theory}",
                        "status": {"ok": ok, "total": 3, "unprocessed": 0, "running": 0, "warned": 0,
                                   "failed": 0 if ok else 1, "finished": 3, "canceled": False,
                                   "consolidated": True, "percentage": 100},
                        "messages": messages, "exports": []}
                peer.reply("FINISHED", {"task": task, "ok": ok, "errors": errors, "nodes": [node]})
            elif name == "session_stop":
                sessions.discard(argument.get("session_id"))
                peer.reply("OK", {"task": task})
                peer.reply("FINISHED", {"task": task, "ok": True, "return_code": 0})
            elif name == "purge_theories":
                peer.reply("OK", {"purged": argument.get("theories", []), "retained": []})
            elif name == "echo":
                peer.reply("OK", argument)
            else:
                peer.reply("ERROR", f"Bad command {name!r}")

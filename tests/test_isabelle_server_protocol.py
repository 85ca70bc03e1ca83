"""isabelle_env.server_client against ScriptedIsabelleServerDouble, a TEST DOUBLE (scripted TCP peer on
loopback; not Isabelle): password exchange, `name argument` messages, short and byte-length-prefixed
framing in both directions, OK/ERROR/NOTE/FINISHED/FAILED, task ids, and broken connections."""
from __future__ import annotations

import json

import pytest

from isabelle_env.server_client import (
    CommandFailed,
    IsabelleServerClient,
    ServerConnectionLost,
    ServerPasswordRefused,
    ServerProtocolError,
    ServerTimeout,
    TaskFailed,
    encode_message,
    parse_message,
    parse_server_line,
)
from isabelle_server_double import ScriptedIsabelleServerDouble, SessionServerDouble

PASSWORD = "4c8f2a0e-double"
INFO = {"isabelle_id": "double", "isabelle_name": "Isabelle-test-double"}


def greet(peer, password=PASSWORD):
    assert peer.read_line() == password.encode()
    peer.reply("OK", INFO)


def run(script, client_steps, connections=1):
    """Run `script` on the double and `client_steps(client)` against it; re-raise the double's errors."""
    with ScriptedIsabelleServerDouble(script, connections) as double:
        with IsabelleServerClient.connect(double.address(PASSWORD), timeout=10) as client:
            result = client_steps(client)
    if double.errors:
        raise double.errors[0]
    return result, double


# -- addresses and framing as pure functions -------------------------------------------------------------
def test_server_line_is_parsed():
    address = parse_server_line('server "llemma" = 127.0.0.1:4711 (password "c0ffee-42")\n')
    assert (address.name, address.host, address.port, address.password) == ("llemma", "127.0.0.1", 4711, "c0ffee-42")
    with pytest.raises(ValueError):
        parse_server_line("Isabelle2022: server starting")


def test_short_and_long_encoding_counts_bytes():
    assert encode_message('echo "x"') == b'echo "x"\n'
    text = 'echo "' + "∀" * 60 + '"'  # 66 characters, 186 bytes
    encoded = encode_message(text)
    header, block = encoded.split(b"\n", 1)
    assert int(header) == len(text.encode("utf-8")) + 1 == len(block)
    assert int(header) != len(text) + 1
    assert encode_message("12345").startswith(b"6\n")  # digits alone would read as a length line


def test_message_name_and_argument():
    assert parse_message(b'OK {"a": 1}').argument == {"a": 1}
    assert parse_message(b"OK").argument is None
    assert parse_message(b'OK["x"]').name == "OK"  # empty separator before a bracket
    assert parse_message(b'OK["x"]').argument == ["x"]
    yxml = parse_message(b"OK \x05\x06markup\x05text\x05\x06\x05")
    assert yxml.name == "OK" and isinstance(yxml.argument, str)


# -- the password ----------------------------------------------------------------------------------------
def test_password_line_first_then_server_info():
    def script(peer):
        greet(peer)
        assert peer.read_command() is None  # the client closes without further commands

    result, double = run(script, lambda client: client.server_info)
    assert result == INFO
    assert double.peers[0].received[0] == PASSWORD.encode()


def test_bad_password_is_a_clear_error():
    def script(peer):
        assert peer.read_line() == b"wrong"  # the real server silently hangs up on a bad password

    with ScriptedIsabelleServerDouble(script) as double:
        with pytest.raises(ServerPasswordRefused, match="wrong password"):
            IsabelleServerClient.connect(double.address("wrong"), timeout=10)
    assert not double.errors


def test_connect_refused_is_connection_lost():
    with ScriptedIsabelleServerDouble(lambda peer: None, connections=0) as double:
        address = double.address()
    with pytest.raises(ServerConnectionLost, match="cannot connect"):
        IsabelleServerClient.connect(address, timeout=5)


# -- synchronous commands ----------------------------------------------------------------------------------
def test_echo_short_message_and_error_reply():
    def script(peer):
        greet(peer)
        assert peer.read_command() == ("echo", [1, 2, 3])
        peer.reply("OK", [1, 2, 3])
        assert peer.read_command() == ("frobnicate", None)
        peer.reply("ERROR", "Bad command 'frobnicate'")
        assert peer.read_command() == ("help", None)
        peer.reply("OK", ["cancel", "echo", "help"], long=True)

    def steps(client):
        assert client.echo([1, 2, 3]) == [1, 2, 3]
        with pytest.raises(CommandFailed, match="Bad command 'frobnicate'"):
            client.command("frobnicate")
        return client.help()

    result, double = run(script, steps)
    assert result == ["cancel", "echo", "help"]
    assert double.peers[0].received[1] == b"echo [1, 2, 3]"  # short form: one line, no length


def test_long_multibyte_message_from_the_server():
    big = "∀x∈ℝ. ‹α› " * 8000  # ~ 13 characters, ~ 26 bytes each: > 64 KiB of bytes
    assert len(big.encode("utf-8")) > 65536 and len(big.encode("utf-8")) != len(big)

    def script(peer):
        greet(peer)
        peer.read_command()
        body = ("OK " + json.dumps({"text": big}, ensure_ascii=False)).encode("utf-8")
        peer.send_raw(str(len(body) + 2).encode() + b"\n" + body + b"\r\n")  # CR-LF inside the block
        peer.read_command()
        body = ("OK " + json.dumps("ünïcödé", ensure_ascii=False)).encode("utf-8")
        peer.send_raw(str(len(body)).encode() + b"\n" + body)  # no terminator at all: allowed
        peer.read_command()
        peer.send_raw('OK "short ∎"\r\n'.encode("utf-8"))  # short message ending in CR-LF

    def steps(client):
        return [client.echo(1), client.echo(2), client.echo(3)]

    (first, second, third), _ = run(script, steps)
    assert first == {"text": big}
    assert second == "ünïcödé"
    assert third == "short ∎"


def test_long_multibyte_message_to_the_server():
    big = "λ‹x›⟹" * 20000  # 5 characters, 13 bytes each

    def script(peer):
        greet(peer)
        name, argument = peer.read_command()
        assert (name, argument) == ("echo", {"text": big})
        announced = peer.long_lengths[-1]
        payload = peer.received[-1]
        assert announced == len(payload) + 1  # byte length of payload + final newline
        assert announced != len(payload.decode("utf-8")) + 1
        peer.reply("OK", {"length": announced})

    result, _ = run(script, lambda client: client.echo({"text": big}))
    assert result["length"] > 65536


# -- asynchronous tasks ----------------------------------------------------------------------------------
def test_task_notes_then_finished_with_other_tasks_interleaved():
    def script(peer):
        greet(peer)
        name, argument = peer.read_command()
        assert name == "session_build" and argument == {"session": "HOL"}
        peer.reply("NOTE", {"task": "other", "message": "unrelated progress"})  # before the OK: still fine
        peer.reply("OK", {"task": "t1"})
        peer.reply("NOTE", {"task": "t1", "kind": "writeln", "message": "Building HOL ..."})
        peer.reply("FINISHED", {"task": "other", "ok": True})
        peer.reply("NOTE", {"task": "t1", "kind": "writeln", "message": "Finished HOL (0:01:02 elapsed time)"})
        peer.reply("FINISHED", {"task": "t1", "ok": True, "return_code": 0, "sessions": []})

    def steps(client):
        notes = []
        task = client.start_task("session_build", {"session": "HOL"})
        result = client.await_task(task, timeout=10, on_note=notes.append)
        other = client.await_task("other", timeout=10)  # its FINISHED was kept while we awaited t1
        return task, result, notes, other

    (task, result, notes, other), _ = run(script, steps)
    assert task == "t1"
    assert result["return_code"] == 0 and result["task"] == "t1"
    assert [n["message"] for n in notes] == ["Building HOL ...", "Finished HOL (0:01:02 elapsed time)"]
    assert other == {"task": "other", "ok": True}


def test_failed_task_raises_with_its_message():
    def script(peer):
        greet(peer)
        peer.read_command()
        peer.reply("OK", {"task": "t9"})
        peer.reply("FAILED", {"task": "t9", "kind": "error", "message": "Bad session \"HOL-Nope\""})

    with pytest.raises(TaskFailed, match='Bad session "HOL-Nope"') as caught:
        run(script, lambda client: client.session_start("HOL-Nope", timeout=10))
    assert caught.value.result["task"] == "t9"


def test_task_timeout_cancels_the_task():
    seen = []

    def script(peer):
        greet(peer)
        peer.read_command()
        peer.reply("OK", {"task": "slow"})
        seen.append(peer.read_command())  # the client's cancel
        peer.reply("OK")
        peer.read_command()  # wait for the client to go away

    with pytest.raises(ServerTimeout, match="use_theories did not finish"):
        run(script, lambda client: client.use_theories("sid", ["T"], timeout=0.3))
    assert seen == [("cancel", {"task": "slow"})]


def test_unknown_reply_is_a_protocol_error():
    def script(peer):
        greet(peer)
        peer.read_command()
        peer.reply("HELLO", {"x": 1})

    with pytest.raises(ServerProtocolError, match="HELLO"):
        run(script, lambda client: client.echo(1))


# -- connection loss ---------------------------------------------------------------------------------------
def test_peer_closes_in_the_middle_of_a_long_message():
    def script(peer):
        greet(peer)
        peer.read_command()
        peer.send_raw(b"1000\nOK {\"text\": \"only a bit")  # announces 1000 bytes, sends 23, hangs up

    with pytest.raises(ServerConnectionLost, match="after 23 of 1000 bytes"):
        run(script, lambda client: client.echo(1))


def test_peer_closes_in_the_middle_of_a_line():
    def script(peer):
        greet(peer)
        peer.read_command()
        peer.send_raw(b'OK {"unfinished"')

    with pytest.raises(ServerConnectionLost, match="closed the connection"):
        run(script, lambda client: client.echo(1))


def test_peer_closes_while_a_task_runs_and_later_calls_fail_cleanly():
    def script(peer):
        greet(peer)
        peer.read_command()
        peer.reply("OK", {"task": "t"})
        peer.reply("NOTE", {"task": "t", "message": "working"})

    def steps(client):
        task = client.start_task("session_start", {"session": "HOL"})
        with pytest.raises(ServerConnectionLost):
            client.await_task(task, timeout=10)
        with pytest.raises(ServerConnectionLost, match="closed"):
            client.echo(1)
        return True

    assert run(script, steps)[0]


# -- the session commands, with the documented argument and result shapes ---------------------------------
def test_session_start_use_theories_purge_stop(tmp_path):
    (tmp_path / "Scratch.thy").write_text('theory Scratch imports Main begin\nlemma "x = x" by simp\nend\n')
    judge_messages = [{"kind": "writeln", "message": "theorem x = x", "pos": {"line": 2, "file": "Scratch.thy"}},
                      {"kind": "error", "message": "Failed to finish proof", "pos": {"line": 3}}]
    double = SessionServerDouble(lambda text: (False, judge_messages), password=PASSWORD)
    with double:
        with IsabelleServerClient.connect(double.address(PASSWORD), timeout=10) as client:
            notes = []
            started = client.session_start("HOL-Number_Theory", include_sessions=["HOL-Library"], timeout=10,
                                           on_note=notes.append)
            result = client.use_theories(started.session_id, ["Scratch"], str(tmp_path), watchdog_timeout=60,
                                         timeout=10)
            purged = client.purge_theories(started.session_id, ["Scratch"], str(tmp_path))
            stopped = client.session_stop(started.session_id, timeout=10)
            with pytest.raises(CommandFailed, match="No session"):
                client.use_theories(started.session_id, ["Scratch"], str(tmp_path), timeout=10)
    assert not double.errors
    assert [name for name, _ in double.commands] == [
        "session_start", "use_theories", "purge_theories", "session_stop", "use_theories"]
    assert double.commands[0][1] == {"session": "HOL-Number_Theory", "include_sessions": ["HOL-Library"]}
    assert double.commands[1][1] == {"session_id": started.session_id, "theories": ["Scratch"],
                                     "master_dir": str(tmp_path), "watchdog_timeout": 60}
    assert notes and "Starting session" in notes[0]["message"]
    assert started.tmp_dir == "/tmp/double"
    assert result.ok is False
    assert [e.text for e in result.errors] == ["Failed to finish proof"]
    node = result.node("Scratch")
    assert node is not None and node.theory_name == "Draft.Scratch"
    assert [(m.kind, m.line) for m in node.messages] == [("writeln", 2), ("error", 3)]
    assert purged["purged"] == ["Scratch"]
    assert stopped["ok"] is True

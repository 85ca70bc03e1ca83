"""Shared fixtures (the shipped miniF2F-rocq valid split, a live Rocq backend, a real vLLM OpenAI server) and the
`rocq` marker: tests that need a live Rocq are skipped, with the reason, where coqtop is not on PATH."""
import shutil

import pytest

from coq_env.minif2f import load_split

NO_COQTOP = "coqtop not found (Rocq tests need it: apt-get install -y coq libcoq-coquelicot)"


def have_coqtop() -> bool:
    return shutil.which("coqtop") is not None


def pytest_collection_modifyitems(config, items):
    if have_coqtop():
        return
    skip = pytest.mark.skip(reason=NO_COQTOP)
    for item in items:
        if item.get_closest_marker("rocq") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def valid():
    """miniF2F-rocq valid theorems by name (data only: no Rocq needed)."""
    return {t.name: t for t in load_split("valid")}


@pytest.fixture(autouse=True, scope="session")
def _no_hammer_unless_asked():
    """The hammer off (as `--no-hammer` everywhere) for the tests that do not test it: a hammer call takes seconds
    per theorem and would change what their searches find. The hammer's own tests turn it on."""
    mp = pytest.MonkeyPatch()
    mp.setenv("LLEMMA_PROVER_HAMMER", "0")
    yield
    mp.undo()


@pytest.fixture
def backend():
    """A live Rocq backend (without its hammer: see hammer_backend); skips the test where coqtop is missing."""
    if not have_coqtop():
        pytest.skip(NO_COQTOP)
    from coq_env.backend import RocqBackend

    with RocqBackend() as b:
        yield b


@pytest.fixture
def hammer_backend():
    """A live Rocq backend with CoqHammer; skips the test where coqtop or CoqHammer is missing."""
    if not have_coqtop():
        pytest.skip(NO_COQTOP)
    from coq_env import hammer
    from coq_env.backend import RocqBackend

    if hammer.unavailable_reason():
        pytest.skip(hammer.unavailable_reason())
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(hammer.ENV_SWITCH)
        with RocqBackend() as b:
            yield b


@pytest.fixture(scope="session")
def vllm_server_url(tmp_path_factory):
    """A real vLLM OpenAI-compatible server on 127.0.0.1 serving the default model (under tests/vllm_server.py's
    SERVED_NAMES), started once for the whole run (about 50 s; idle it takes no CPU) and always stopped at the
    end; skips where vLLM or the model is missing."""
    from vllm_server import running_server, vllm_unavailable

    reason = vllm_unavailable()
    if reason:
        pytest.skip(reason)
    from model_store import default_model_dir

    log_path = tmp_path_factory.mktemp("vllm-server") / "server.log"
    try:
        with running_server(default_model_dir(), log_path) as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc))

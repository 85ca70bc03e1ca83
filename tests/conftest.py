"""Shared fixtures (the shipped miniF2F-rocq valid split, a live Rocq backend) and the `rocq` marker: tests that
need a live Rocq are skipped, with the reason, where coqtop is not on PATH."""
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


@pytest.fixture
def backend():
    """A live Rocq backend; skips the test where coqtop is missing."""
    if not have_coqtop():
        pytest.skip(NO_COQTOP)
    from coq_env.backend import RocqBackend

    with RocqBackend() as b:
        yield b

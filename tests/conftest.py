"""Shared fixtures: the shipped miniF2F-rocq valid split and a live Rocq backend."""
import shutil

import pytest

from coq_env.backend import RocqBackend
from coq_env.minif2f import load_split

if shutil.which("coqtop") is None:  # every live test needs it; say why instead of failing obscurely
    pytest.exit("coqtop not found: apt-get install -y coq libcoq-coquelicot", returncode=2)


@pytest.fixture(scope="session")
def valid():
    return {t.name: t for t in load_split("valid")}


@pytest.fixture
def backend():
    with RocqBackend() as b:
        yield b

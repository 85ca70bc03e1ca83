"""The filesystem sandbox of proof-assistant processes, on live coqtop and coqc: Coq commands that write files
(Redirect, Extraction, Cd) write nothing outside the process's private temp dir, and that dir is removed."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from coq_env.coqtop import Coqtop
from coq_env.verify import check_proof_text
from prover import sandbox

pytestmark = pytest.mark.skipif(not sandbox.isolated(), reason="bubblewrap cannot isolate processes on this machine")


@pytest.fixture
def outside():
    """A folder outside /tmp (which the sandbox replaces): the sandbox must still make it read-only."""
    folder = Path(tempfile.mkdtemp(prefix="llemma-sandbox-test-", dir="/var/tmp"))
    yield folder
    for path in folder.rglob("*"):
        path.unlink()
    folder.rmdir()


def _writes(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.rocq
def test_coqtop_cannot_write_outside_its_private_dir(outside, tmp_path):
    with Coqtop() as coq:
        private = Path(coq._sandbox.dir)
        for target in (outside, tmp_path):
            assert coq.send(f'Redirect "{target}/X" Print nat.', 10).error
            assert coq.send(f'Extraction "{target}/P.ml" nat.', 10).error
        assert coq.send('Redirect "inside" Print nat.', 10).error is None  # its own dir is writable
        assert (private / "inside.out").exists()
        assert coq.send(f'Cd "{outside}".', 10).error is None  # it may look around: the machine reads as it is
        assert coq.send('Redirect "Y" Print nat.', 10).error  # but not write there
    assert _writes(outside) == [] and _writes(tmp_path) == []
    assert not private.exists()  # removed with the process


@pytest.mark.rocq
def test_a_checked_file_cannot_write_outside_its_private_dir(outside):
    text = (f'Redirect "{outside}/pwned" Print nat.\n'
            f'Extraction "{outside}/stolen.ml" nat.\n'
            "Theorem t : 1 = 1.\nProof. reflexivity. Qed.\n")
    verdict = check_proof_text(text)
    assert not verdict.accepted
    assert _writes(outside) == []


@pytest.mark.rocq
def test_the_sandbox_reads_the_folders_its_load_path_names(tmp_path):
    (tmp_path / "Lib.v").write_text("Definition seven := 7.\n")
    with Coqtop(args=("-Q", str(tmp_path), "Mine")) as coq:  # under /tmp, which the sandbox otherwise hides
        assert coq.send('Load "' + str(tmp_path / "Lib.v") + '".', 10).error is None
        assert "7" in coq.send("Compute seven.", 10).output


def test_a_missing_program_is_reported_as_popen_would(tmp_path):
    with sandbox.Sandbox() as box, pytest.raises(FileNotFoundError):
        box.popen([str(tmp_path / "no-such-program")], sandbox.ProcessLimits())


def test_without_isolation_one_line_says_so_once(monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "_probe", lambda: (None, "bubblewrap (bwrap) is not installed"))
    monkeypatch.setattr(sandbox, "_warned", False)
    assert not sandbox.isolated() and not sandbox.isolated()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "no filesystem isolation" in lines[0] and "bubblewrap" in lines[0]
    with sandbox.Sandbox() as box:
        assert box.command(["coqtop", "-v"]) == ["coqtop", "-v"]  # unconfined, in its temp dir
    assert os.environ.get(sandbox.SANDBOX_ENV_VAR, "") != "off"


@pytest.mark.rocq
def test_without_isolation_check_refuses_what_reaches_the_outside_world(monkeypatch, outside):
    monkeypatch.setattr(sandbox, "_probe", lambda: (None, "bubblewrap (bwrap) is not installed"))
    monkeypatch.setattr(sandbox, "_warned", True)
    verdict = check_proof_text(f'Redirect "{outside}/pwned" Print nat.\nTheorem t : 1 = 1.\nProof. reflexivity. Qed.\n')
    assert not verdict.accepted and "without a sandbox" in verdict.reason and "Redirect" in verdict.reason
    assert _writes(outside) == []
    assert check_proof_text("Theorem t : 1 = 1.\nProof. reflexivity. Qed.\n").accepted  # plain files still pass

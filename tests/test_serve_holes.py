"""POST /prove-hole on a real loopback server: the hole at an editor's cursor in a Rocq file on disk (a copy of
tests/data/coq-project with Base.v compiled), proved by the automation alone (the generator is `--model none`'s),
answered with a patch `git apply` takes, written on request; paths outside the served folders and web pages refused."""
import shutil
import subprocess

import httpx
import pytest

from coq_env.project import project_for
from prover.generators import AutomationOnly
from prover.hole_at_cursor import hole_at, HoleRequestError
from prover.plugins import FileHole
from prover.serve import ServeConfig, SuggestionServer
from prover.types import Theorem
from serve_helpers import loopback, post_json
from test_prove_files import EASY, PROJECT

# the automation closes double_3 by `reflexivity.`; its statement is on line 4, its Admitted on line 5
PROVED_EASY = EASY.replace("double 3 = 6.\nAdmitted.", "double 3 = 6.\nProof.\n  reflexivity.\nQed.")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The folder the server may work in, holding the compiled test project, and the server's port on loopback."""
    root = tmp_path_factory.mktemp("served")
    shutil.copytree(PROJECT, root / "compiled")
    (root / "compiled" / "theories" / "Easy.v").write_text(EASY)
    if shutil.which("coqc"):
        base = root / "compiled" / "theories" / "Base.v"
        done = subprocess.run(["coqc", "-q", *project_for(base).flags(), str(base)], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    config = ServeConfig(backend="rocq", hammer=False, request_timeout=120, tactic_timeout=5,
                         files_under=(str(root),))
    with loopback(SuggestionServer(AutomationOnly(), config)) as port:
        yield root, port


@pytest.fixture
def project(served, request):
    """A copy of the compiled project of the test's own, inside the served folder."""
    root, _ = served
    folder = root / request.node.name
    shutil.copytree(root / "compiled", folder)
    return folder


def prove_hole(port, body, **headers):
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
        return post_json(client, "/prove-hole", body, **headers)


@pytest.mark.rocq
def test_the_hole_at_the_cursor_is_proved_and_its_patch_applies(served, project):
    easy = project / "theories" / "Easy.v"
    r = prove_hole(served[1], {"backend": "rocq", "path": str(easy), "line": 4, "column": 3})  # on the statement
    answer = r.json()
    assert r.status_code == 200, answer
    assert {key: answer[key] for key in ("hole", "line", "status", "proof", "depends_on", "written")} == {
        "hole": "double_3", "line": 5, "status": "proved", "proof": ["reflexivity."], "depends_on": [],
        "written": False}
    assert easy.read_text() == EASY  # nothing written unless asked
    assert answer["patch_root"] == str(project)
    subprocess.run(["git", "init", "-q", "."], cwd=project, check=True)
    applied = subprocess.run(["git", "apply", "-"], input=answer["patch"], cwd=project, capture_output=True,
                             text=True)
    assert applied.returncode == 0, applied.stderr
    assert easy.read_text() == PROVED_EASY


@pytest.mark.rocq
def test_write_puts_the_proof_into_the_file_and_it_compiles(served, project):
    easy = project / "theories" / "Easy.v"
    r = prove_hole(served[1], {"path": str(easy), "line": 5, "write": True, "budget_seconds": 60})
    assert r.status_code == 200 and r.json()["written"] is True, r.json()
    assert easy.read_text() == PROVED_EASY
    compiled = subprocess.run(["coqc", "-q", *project_for(easy).flags(), str(easy)], capture_output=True, text=True,
                              timeout=300)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr


@pytest.mark.rocq
def test_a_proof_resting_on_an_open_lemma_says_so(served, project):
    r = prove_hole(served[1], {"path": str(project / "theories" / "Easy.v"), "line": 13})  # inside its proof
    answer = r.json()
    assert (answer["hole"], answer["status"], answer["depends_on"]) == ("double_S_even", "proved",
                                                                        ["double_even_open"])
    assert answer["reason"] == "depends on open lemma double_even_open"


@pytest.mark.rocq
def test_a_cursor_outside_every_hole_is_a_clear_422(served, project):
    r = prove_hole(served[1], {"path": str(project / "theories" / "Easy.v"), "line": 2})
    assert r.status_code == 422
    assert r.json()["error"] == "no hole at line 2 (the file's holes are at lines 5, 8, 14)"


def test_paths_that_are_not_absolute_or_not_under_the_served_folders_are_refused(served, tmp_path):
    root, port = served
    outside = tmp_path / "Outside.v"
    outside.write_text(EASY)
    (root / "link-out.v").symlink_to(outside)  # a link inside the folder leading out of it
    for path, status, message in [
        ("Easy.v", 400, "path must be an absolute path"),
        (str(outside), 403, "is outside the folders this server may work on"),
        (str(root / "link-out.v"), 403, "is outside the folders this server may work on"),
        (str(root / "nowhere.v"), 404, "no such file"),
        (str(root), 400, "is not a regular file"),
    ]:
        r = prove_hole(port, {"path": path, "line": 5})
        assert r.status_code == status and message in r.json()["error"], (path, r.text)
    bindings = [["-R", str(tmp_path), "Foo"], ["-I", str(root), "Foo"], ["-R", str(root), "-load-vernac-source"]]
    for binding, status in zip(bindings, (403, 400, 400)):
        r = prove_hole(port, {"path": str(root / "compiled" / "theories" / "Easy.v"), "line": 5,
                              "load_paths": [binding]})
        assert r.status_code == status, (binding, r.text)
    assert outside.read_text() == EASY


def test_a_web_page_cannot_drive_it(served, project):
    easy = project / "theories" / "Easy.v"
    body = {"path": str(easy), "line": 5, "write": True}
    r = prove_hole(served[1], body, Origin="http://evil.example")
    assert r.status_code == 403 and "origin" in r.json()["error"]
    with httpx.Client(base_url=f"http://127.0.0.1:{served[1]}") as client:  # a "simple" cross-site POST
        r = client.post("/prove-hole", content=str(body).encode(), headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert easy.read_text() == EASY


def test_the_hole_at_a_line_is_the_one_ending_there_else_the_nearest_after_it_in_the_same_lemma():
    def hole(label, statement_line, line):
        theorem = Theorem(name=label, statement="", header="", backend="rocq")
        return FileHole(theorem, PROJECT, "x.v", line, label, statement_line=statement_line)

    holes = [hole("a", 1, 3), hole("b#admit1", 5, 8), hole("b#admit2", 5, 10), hole("c", None, 12)]
    assert [hole_at(holes, line).label for line in (1, 3, 5, 8, 9, 10, 12)] == \
        ["a", "a", "b#admit1", "b#admit1", "b#admit2", "b#admit2", "c"]
    for line in (4, 11, 13):
        with pytest.raises(HoleRequestError, match=f"no hole at line {line} "):
            hole_at(holes, line)

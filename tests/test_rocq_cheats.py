"""Generic `prover check FILE.v` (no benchmark) on live coqc: a file is accepted only if each theorem proves its
statement as written, from the standard library alone, with standard symbols and names meaning what they mean.

The files are under tests/data/rocq-generic: `cheats/` holds the nine files issue 19 found accepted and variants
of each (a section hypothesis discharged into the theorem's type, an unused axiom behind attributes, a standard
notation or name given a meaning of the file's own); `honest/` holds files that must stay accepted. Each cheat
file's opening comment says which word the refusal must name: `Refused, naming "WORD".`
"""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from coq_env.backend import AUTOMATION_IMPORT
from coq_env.verify import check_proof_text

DATA = Path(__file__).parent / "data" / "rocq-generic"
CHEATS = sorted((DATA / "cheats").glob("*.v"))
HONEST = sorted((DATA / "honest").glob("*.v"))


def check(path):
    """What `prover check FILE.v` runs."""
    return check_proof_text(path.read_text(), extra_header=(AUTOMATION_IMPORT,))


def named_cause(path):
    return re.search(r'naming "(.+?)"\.', path.read_text()).group(1)


@pytest.mark.rocq
@pytest.mark.parametrize("path", CHEATS, ids=[p.stem for p in CHEATS])
def test_a_cheating_file_is_refused_with_a_one_line_reason_naming_the_cheat(path):
    verdict = check(path)
    assert verdict.accepted is False
    assert verdict.reason and "\n" not in verdict.reason, verdict.reason
    assert named_cause(path) in verdict.reason, verdict.reason


@pytest.mark.rocq
@pytest.mark.parametrize("path", HONEST, ids=[p.stem for p in HONEST])
def test_an_honest_file_is_accepted(path):
    verdict = check(path)
    assert verdict.accepted, verdict.reason


def test_the_nine_files_of_issue_19_are_among_the_cheats():
    assert sum("Issue 19" in p.read_text().splitlines()[0] for p in CHEATS) == 9


@pytest.mark.rocq
def test_a_section_theorem_is_refused_with_the_type_it_really_proves():
    verdict = check(DATA / "cheats" / "section-hypothesis-false.v")
    assert "'False -> 1 = 2'" in verdict.reason and "outside the section" in verdict.reason


@pytest.mark.rocq
def test_cli_refuses_a_section_hypothesis_cheat_with_exit_1_and_one_line():
    cheat = DATA / "cheats" / "section-hypothesis-false.v"
    done = subprocess.run([sys.executable, "-m", "prover.cli", "check", str(cheat)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("rejected: ") and done.stdout.count("\n") == 1
    assert "section" in done.stdout

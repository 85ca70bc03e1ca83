"""competition-rocq, our own benchmark (coq_env/data/competition-rocq): every file parses into its theorem,
names are unique, the loader refuses a bad split, no statement repeats a miniF2F-rocq one, and a fixed sample
compiles (checks.py --compile compiles all of them)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from coq_env.competition import DATA, families, load_competition
from coq_env.minif2f import load_split
from coq_env.plugin import PLUGIN

FAMILIES = {"equations", "polynomials", "inequalities", "induction", "divisibility", "digits", "floor",
            "remainders", "functions", "real"}
SAMPLE = ("textbook_sum_squares", "textbook_floor_hermite_two", "textbook_prime_square_minus_one",
          "textbook_rpower_equation", "textbook_mod_crt_three_five")


def body(statement: str) -> str:
    """The statement after `Theorem name`, whitespace normalised: what it claims, whatever it is called."""
    return " ".join(re.sub(r"^\s*\w+\s+[\w']+\s*", "", statement).split()).lstrip(": ")


def test_every_file_parses_into_its_theorem_once():
    theorems = load_competition("all")
    files = sorted(p.stem for p in (DATA / "all").glob("*.v"))
    assert [t.name for t in theorems] == files and len(set(files)) == len(files) >= 60
    for t in theorems:
        assert t.statement.startswith(f"Theorem {t.name} ") and t.statement.endswith(".")
        assert t.split == "all" and t.benchmark == "competition-rocq" and t.backend == "rocq"
        assert "Require" in t.header
    assert PLUGIN.benchmarks["competition-rocq"] is load_competition


def test_every_theorem_has_a_family_and_a_source():
    sources = json.loads((DATA / "sources.json").read_text())
    assert set(sources) == {t.name for t in load_competition("all")}
    assert set(families().values()) == FAMILIES
    assert all(entry["source"] for entry in sources.values())


def test_a_bad_split_is_refused_naming_the_valid_one():
    with pytest.raises(ValueError, match=r"unknown split 'valid' \(choose from all\)"):
        load_competition("valid")


def test_no_statement_or_name_repeats_minif2f():
    ours = {t.name: body(t.statement) for t in load_competition("all")}
    theirs = [t for split in ("valid", "test") for t in load_split(split)]
    assert not set(ours) & {t.name for t in theirs}
    assert not set(ours.values()) & {body(t.statement) for t in theirs}


@pytest.mark.skipif(not shutil.which("coqc"), reason="needs coqc")
def test_a_fixed_sample_compiles(tmp_path):
    theorems = {t.name: t for t in load_competition("all")}
    for name in SAMPLE:
        (tmp_path / f"{name}.v").write_text((DATA / "all" / f"{name}.v").read_text() + "Admitted.\n")
        run = subprocess.run(["coqc", f"{name}.v"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, (name, run.stdout, run.stderr)
        assert theorems[name].statement in (DATA / "all" / f"{name}.v").read_text()

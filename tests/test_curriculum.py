"""`prover curriculum`: synthetic theorems across competition families, written as holes for `prover prove`, and
the per-family report of a run over them."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from coq_env.curriculum import FAMILIES, MANIFEST, draw_family, write_curriculum
from prover.batch import latest_rows, read_rows

PROVER = [sys.executable, "-m", "prover.cli"]


def prover(*args, cwd=None):
    return subprocess.run([*PROVER, *map(str, args)], capture_output=True, text=True, timeout=600, cwd=cwd)


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_draws_the_same_distinct_statements_for_a_seed_and_others_for_another(family):
    first = draw_family(family, 8, seed=4)
    assert [t.statement for t in first] == [t.statement for t in draw_family(family, 8, seed=4)]
    assert len(first) == 8
    assert len({t.header + t.statement.split("\n", 1)[1] for t in first}) == 8  # distinct beyond their names
    assert [t.statement for t in first] != [t.statement for t in draw_family(family, 8, seed=5)]
    assert [t.name for t in first] == [f"cur_{family}_4_{k}" for k in range(8)]
    assert all(t.statement.startswith(f"Theorem {t.name}") and "Proof" not in t.statement for t in first)


def test_a_family_draws_the_same_whatever_other_families_are_drawn_with_it():
    assert draw_family("floor", 3, 9) == draw_family("floor", 3, 9)
    assert len({t.name for f in FAMILIES for t in draw_family(f, 3, 9)}) == 3 * len(FAMILIES)


@pytest.mark.parametrize("family", ["functional_equation", "instance_chain"])
def test_a_logarithm_like_rule_holds_for_positive_arguments_only_so_the_statement_is_not_vacuous(family):
    # For every x and y, the instance at 0 gives f 0 = f a + f 0, so f a = 0 against the given f a = c <> 0.
    rules = [line for t in draw_family(family, 24, seed=3) for line in t.statement.splitlines()
             if re.search(r"\((\w) \* (\w)\)", line)]
    assert rules and all(re.search(r"forall (\w) (\w), 0 < \1 -> 0 < \2 -> ", line) for line in rules), rules


@pytest.mark.rocq
def test_two_of_each_family_compile_as_holes_and_the_folder_is_a_family_a_folder_with_a_manifest(tmp_path):
    summary = write_curriculum(tmp_path / "cur", list(FAMILIES), 2, seed=11)
    assert summary["rejected"] == 0, [c.get("rejections") for c in summary["families"].values()]
    assert summary["written"] == 2 * len(FAMILIES)
    rows = [json.loads(line) for line in (tmp_path / "cur" / MANIFEST).read_text().splitlines()]
    assert [r["family"] for r in rows] == [f for f in FAMILIES for _ in range(2)]
    for row in rows:
        text = (tmp_path / "cur" / row["file"]).read_text()
        assert row["file"] == f"{row['family']}/{row['name']}.v" and row["seed"] == 11
        assert text.startswith("Require Import") and text.endswith("Proof.\nAdmitted.\n")


@pytest.mark.rocq
def test_the_cli_writes_the_layout_and_a_rerun_overwrites_it_cleanly(tmp_path):
    out = tmp_path / "cur"
    done = prover("curriculum", "--families", "linear_system,digits", "--count", "2", "--seed", "3", "--out", out,
                  "--no-progress")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert list(summary["families"]) == ["linear_system", "digits"] and summary["written"] == 4
    before = {p.relative_to(out): p.read_text() for p in out.rglob("*") if p.is_file()}
    assert {str(p) for p in before} == {MANIFEST, *(f"{f}/cur_{f}_3_{k}.v" for f in ("linear_system", "digits")
                                                    for k in range(2))}
    done = prover("curriculum", "--families", "floor", "--count", "1", "--seed", "3", "--out", out, "--no-progress")
    assert done.returncode == 0, done.stderr
    assert {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} == {MANIFEST, "floor/cur_floor_3_0.v"}
    assert not (out / "digits").exists()


def test_an_unknown_family_is_one_line_and_exit_2(tmp_path):
    done = prover("curriculum", "--families", "polynomial,geometry", "--count", "1", "--out", tmp_path / "cur")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "geometry" in lines[0] and "polynomial" in lines[0]
    assert not (tmp_path / "cur").exists()


def test_a_folder_that_is_not_a_curriculum_is_not_overwritten(tmp_path):
    (tmp_path / "mine.v").write_text("(* mine *)\n")
    done = prover("curriculum", "--families", "floor", "--count", "1", "--out", tmp_path)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert (tmp_path / "mine.v").read_text() == "(* mine *)\n"


@pytest.mark.rocq
def test_a_run_over_a_curriculum_has_rows_in_their_family_folder_and_the_report_counts_per_family(tmp_path):
    out, run = tmp_path / "cur", tmp_path / "run"
    write_curriculum(out, ["linear_system", "polynomial"], 1, seed=2)
    done = prover("prove", out, "--model", "none", "--budget-seconds", "10", "--max-expansions", "4",
                  "--tactic-timeout", "2", "--no-hammer", "--no-progress", "--out", run)
    assert done.returncode == 0, done.stderr
    rows = latest_rows(read_rows(run / "results.jsonl"))
    assert sorted(Path(r["file"]).parent.name for r in rows) == ["linear_system", "polynomial"]
    done = prover("report", run, "--by-category")
    assert done.returncode == 0, done.stderr
    table = done.stdout[done.stdout.index("by category"):]
    for family in ("linear_system", "polynomial"):
        proved = sum(r["status"] == "proved" for r in rows if r["file"].startswith(family + "/"))
        assert any(family in line and f"{proved}/1" in line for line in table.splitlines()), table
    proved = sum(r["status"] == "proved" for r in rows)
    done = prover("train-data", run, "--split", "train", "--out", tmp_path / "steps.jsonl")
    assert done.returncode == 0, done.stderr
    assert (json.loads(done.stdout)["rows_written"] > 0) == (proved > 0)  # a user's holes are train rows

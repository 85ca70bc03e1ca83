"""The contamination guard: n-gram overlap of proofstep rows with benchmark statements."""
import json

import pytest
from click.testing import CliRunner

from coq_env.minif2f import load_split
from prover.cli import main
from prover.contamination import NgramGuard, is_structure, statement_body, tokens
from prover.proofsteps import ProofStep, read_proofsteps


@pytest.fixture(scope="module")
def guard():
    return NgramGuard.from_theorems([t for split in ("valid", "test") for t in load_split(split)])


def row(state, tactic="reflexivity.", theorem="t"):
    return ProofStep(state=state, tactic=tactic, theorem=theorem, source="stdlib:X.v", split="train")


def test_text_is_normalised_the_way_goals_are_printed():
    # Coq prints `(ln a) / (ln 8)` as `ln a / ln 8`, drops scope keys in scope, and lists `x, y : R`.
    assert tokens("(ln a) / (ln 8) = 5%R") == tokens("ln a / ln 8 = 5") == ["ln", "a", "/", "ln", "8", "=", "5"]
    assert tokens("x, y : R") == tokens("x y : R") == ["x", "y", ":", "r"]
    assert tokens("a <= b -> h0") == ["a", "<=", "b", "->", "h0"]
    assert statement_body("Theorem mathd_numbertheory_200 :\n  139 mod 11 = 7.") == "139 mod 11 = 7"


def test_the_guard_covers_both_splits_and_names_the_theorem(guard):
    assert guard.benchmark == "minif2f-rocq" and guard.n == 10
    valid_goal = "  x : nat -> Z\n  ============================\n  x 1%nat = 211%Z -> x 2%nat = 375%Z -> x 3 = 420"
    assert guard.match(valid_goal)[1] == "aimeII_2001_p3"  # a valid-split theorem
    test_theorem = load_split("test")[0]
    body = " ".join(statement_body(test_theorem.statement).split())
    assert guard.match(f"1 goal\n  ============================\n  {body}")[1] == test_theorem.name


def test_a_short_statement_is_its_own_ngram(guard):
    ngram, name = guard.match("1 goal\n  \n  ============================\n  139 mod 11 = 7")
    assert (ngram, name) == ("139 mod 11 = 7", "mathd_numbertheory_200")
    assert guard.match("139 mod 11 = 8") is None


def test_ngrams_of_pure_structure_are_no_evidence(guard):
    assert is_structure(tuple(tokens(": forall x y : nat, x + y =")))
    assert not is_structure(tuple(tokens("x 531 + x 753")))
    commutativity = "1 goal\n  \n  comm : forall x y : nat, x + y = y + x\n  ============================\n  S n * m = n * m + m"
    assert guard.match(commutativity) is None


def test_filter_drops_overlapping_rows_keeps_clean_ones_and_reports(guard, tmp_path):
    leaked_state = row("1 goal\n  \n  ============================\n  (ln a) / (ln 8) + (ln (b * b)) / (ln 4) = 5",
                       theorem="leak")
    leaked_tactic = row("1 goal\n  ============================\n  True", tactic="assert (139 mod 11 = 7) by reflexivity.")
    clean = row("1 goal\n  \n  n : nat\n  ============================\n  n + 0 = n", tactic="lia.")
    report = guard.new_report()
    assert list(guard.filter([leaked_state, clean, leaked_tactic], report)) == [clean]
    assert (report.rows_checked, report.rows_dropped) == (3, 2)
    assert dict(report.by_field) == {"state": 1, "tactic": 1}
    report.write(tmp_path / "report.json")
    written = json.loads((tmp_path / "report.json").read_text())
    assert written["benchmark_theorems_matched"] == {"aime_1984_p5": 1, "mathd_numbertheory_200": 1}
    first = written["examples"][0]
    assert first["theorem"] == "leak" and first["benchmark_theorem"] == "aime_1984_p5" and first["field"] == "state"
    assert first["ngram"] == "ln a / ln 8 + ln b * b"


@pytest.mark.rocq
def test_extract_drops_a_leaked_row_and_writes_the_report(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "Leak.v").write_text("Require Import Arith.\n"
                                "Lemma leak : 139 mod 11 = 7.\nProof. reflexivity. Qed.\n"
                                "Lemma fine (n : nat) : n + 0 = n.\nProof. now rewrite Nat.add_0_r. Qed.\n")
    out = tmp_path / "rows.jsonl"
    result = CliRunner().invoke(main, ["extract", "--source", str(src), "--out", str(out), "--workers", "1",
                                       "--no-progress"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows_after_dedupe"] == 2 and summary["rows_dropped_contamination"] == 1
    assert [r.theorem for r in read_proofsteps(out)] == ["fine"]
    report = json.loads((tmp_path / "rows.jsonl.contamination.json").read_text())
    assert report["rows_dropped"] == 1 and report["examples"][0]["benchmark_theorem"] == "mathd_numbertheory_200"

    unguarded = tmp_path / "unguarded.jsonl"
    result = CliRunner().invoke(main, ["extract", "--source", str(src), "--out", str(unguarded), "--workers", "1",
                                       "--no-progress", "--no-contamination-guard"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows_dropped_contamination"] is None
    assert [r.theorem for r in read_proofsteps(unguarded)] == ["leak", "fine"]
    assert not (tmp_path / "unguarded.jsonl.contamination.json").exists()

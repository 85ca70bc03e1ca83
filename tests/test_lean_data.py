"""The miniF2F Lean 4 data shipped in the package: every split complete, every theorem stated the same way."""
import json
import re
from pathlib import Path

import pytest
import tomllib

from lean_env.minif2f import load_llemma_pointers
from lean_env.minif2f import (
    DATA,
    SPLITS,
    VARIANTS,
    load_deepseek_few_shot,
    load_deepseek_split,
    load_llemma_split,
    load_split,
)
from lean_env.verify import code_view, static_problem

LOADERS = {
    "minif2f-lean4": load_split,
    "minif2f-lean4-deepseek": load_deepseek_split,
    "minif2f-lean4-llemma": load_llemma_split,
}


@pytest.mark.parametrize("bench_name", LOADERS)
@pytest.mark.parametrize("split", SPLITS)
def test_each_split_has_244_theorems_with_unique_names_and_every_field_filled(bench_name, split):
    theorems = LOADERS[bench_name](split)
    assert len(theorems) == 244
    assert len({t.name for t in theorems}) == 244
    for t in theorems:
        assert t.name and t.statement and t.backend == "lean"
        assert t.split == split and t.benchmark == bench_name
        if bench_name != "minif2f-lean4-llemma":  # LeanDojo's theorems take their header from the repository
            assert t.header.startswith("import Mathlib")


@pytest.mark.parametrize("bench_name", LOADERS)
def test_statements_are_the_declaration_alone_without_a_proof_tail(bench_name):
    for t in (t for split in SPLITS for t in LOADERS[bench_name](split)):
        assert re.match(rf"theorem {re.escape(t.name)}\s", t.statement), t.name
        code = code_view(t.statement)[0]
        assert ":=" not in code, f"{t.name}: a proof tail (or a default argument) is left in the statement"
        assert not re.search(r"\b(sorry|by)\s*$", code), t.name
        assert code_view(t.statement)[1] is None, f"{t.name}: the statement cannot be read safely"


def test_test_and_valid_do_not_share_theorems():
    for loader in LOADERS.values():
        assert not {t.name for t in loader("valid")} & {t.name for t in loader("test")}


def test_the_three_sets_name_the_same_problems_up_to_the_known_differences():
    # PROVENANCE: DeepSeek vs yangky11 differ only by the case of one name; DeepSeek vs Llemma only in
    # valid imo_2006_p3 (DeepSeek) vs imo_2006_p6 (Llemma).
    names = {b: {t.name for s in SPLITS for t in LOADERS[b](s)} for b in LOADERS}
    assert {n.lower() for n in names["minif2f-lean4-deepseek"]} == {n.lower() for n in names["minif2f-lean4"]}
    assert names["minif2f-lean4-deepseek"] - names["minif2f-lean4-llemma"] == {"imo_2006_p3"}
    assert names["minif2f-lean4-llemma"] - names["minif2f-lean4-deepseek"] == {"imo_2006_p6"}


def test_each_variant_shares_one_header_and_its_pin():
    for variant in VARIANTS.values():
        rows = [json.loads(line) for line in (DATA / variant.file).read_text().splitlines()]
        assert len({r["header"] for r in rows}) == 1
    rows = [json.loads(line) for line in (DATA / VARIANTS["yangky11-v4.24"].file).read_text().splitlines()]
    assert {r["lean_toolchain"] for r in rows} == {"leanprover/lean4:v4.24.0"}
    assert {r["mathlib_rev"] for r in rows} == {VARIANTS["yangky11-v4.24"].mathlib_rev}


def test_llemma_pointers_lead_into_one_repository_at_one_commit():
    for split, file_path in (("valid", "MiniF2F/Validation.lean"), ("test", "MiniF2F/Test.lean")):
        pointers = load_llemma_pointers(split)
        assert len(pointers) == 244
        assert {p.url for p in pointers} == {"https://github.com/rah4927/lean-dojo-mew"}
        assert {p.commit for p in pointers} == {"d00c776260c77de7e70125ef0cd119de6c0ff1de"}
        assert {p.file_path for p in pointers} == {file_path}


def test_the_few_shot_examples_are_valid_split_theorems_with_clean_proofs():
    shots = load_deepseek_few_shot()
    assert len(shots) == 67 and all(t.split == "valid" for t, _ in shots)
    assert all(proof.strip() for _, proof in shots)


def test_unknown_splits_and_variants_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="valid, test"):
        load_split("train")
    with pytest.raises(ValueError, match="yangky11-v4.24"):
        load_split("valid", "lean3")


def test_the_data_ships_with_its_provenance_and_license_and_is_packaged():
    assert "5746b7d6c47855ce1294bed87329618ff7f1bc31" in (DATA / "PROVENANCE.txt").read_text()
    license_text = (DATA / "LICENSE").read_text()
    assert license_text.count("MIT") >= 3 and "no license file" in license_text
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["lean_env"]
    shipped = {p.name for p in DATA.iterdir()}
    covered = {p.name for g in globs for p in (Path(__file__).parents[1] / "lean_env").glob(g)}
    assert shipped <= covered


def test_a_benchmark_statement_with_a_comment_in_it_still_matches_its_file():
    t = next(t for t in load_split("valid") if t.name == "amc12b_2002_p3")  # "-- note: we use (n^2 + 2 - 3 * n) ..."
    assert "--" in t.statement
    assert static_problem(f"{t.header}\n\n{t.statement} := by\n  decide\n", t) is None

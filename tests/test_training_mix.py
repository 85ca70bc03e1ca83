"""`python -m training mix`: a fine-tuning data mix rebuilt from a recipe (training/mix.py)."""
import json
from collections import Counter

from click.testing import CliRunner

from training.__main__ import main


def _write_rows(path, rows):
    """Proofstep rows (model_store.proofsteps) with the given state, tactic and split."""
    path.write_text("".join(json.dumps({"theorem": "t", "source": path.name, "backend": "rocq", **r}) + "\n"
                            for r in rows))


def _recipe(tmp_path, text):
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def _mix(recipe, out):
    result = CliRunner().invoke(main, ["mix", str(recipe), "--out", str(out)])
    return result, [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def test_parts_are_filtered_sampled_repeated_and_the_same_seed_gives_the_same_mix(tmp_path):
    real = [{"state": f"x : {'R' if i % 2 else 'nat'}\n====\nx = x", "tactic": f"t{i}.", "split": "train"}
            for i in range(40)]
    real.append({"state": "x : R\n====\nheld out", "tactic": "valid.", "split": "valid"})
    real.append({"state": "x : R\n====\nlong tactic", "tactic": "a" * 100, "split": "train"})
    own = [{"state": "n : nat\n====\nn mod 7 < 7", "tactic": f"own{i}.", "split": "train"} for i in range(3)]
    _write_rows(tmp_path / "real.jsonl", real)
    _write_rows(tmp_path / "own.jsonl", own)
    recipe = _recipe(tmp_path, f"""seed: 3
parts:
  - path: {tmp_path / 'real.jsonl'}
    sample: 5
    max_tactic_chars: 60
    state_matches: ": R\\\\b"
  - path: {tmp_path / 'own.jsonl'}
    repeat: 4
""")
    result, rows = _mix(recipe, tmp_path / "a.jsonl")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["rows"] == 17 == len(rows)
    assert [p["passed_filter"] for p in summary["parts"]] == [20, 3]
    tactics = Counter(r["tactic"] for r in rows)
    assert all(tactics[f"own{i}."] == 4 for i in range(3))
    drawn = [t for t in tactics if t.startswith("t")]
    assert len(drawn) == 5 and all(int(t[1:-1]) % 2 for t in drawn)  # only the R states, no long or valid rows
    _, again = _mix(recipe, tmp_path / "b.jsonl")
    assert again == rows


def test_a_bad_recipe_is_one_line(tmp_path):
    recipe = _recipe(tmp_path, f"parts:\n  - path: {tmp_path / 'x.jsonl'}\n    smaple: 3\n")
    result, _ = _mix(recipe, tmp_path / "out.jsonl")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "unknown key(s) smaple" in result.output
    recipe = _recipe(tmp_path, f"parts:\n  - path: {tmp_path / 'missing.jsonl'}\n")
    result, _ = _mix(recipe, tmp_path / "out.jsonl")
    assert result.exit_code == 2 and "cannot read" in result.output
    assert not (tmp_path / "out.jsonl").exists()

"""JSON-lines reading, durable appends and atomic whole-file writes (prover.jsonl)."""
from __future__ import annotations

import pytest

from prover.jsonl import BadLine, append_row, atomic_file, iter_rows, read_rows, write_atomic


def test_a_garbage_line_is_skipped_with_one_warning_and_the_rows_around_it_count(tmp_path, capsys):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": 1}\nnot json\n\n[1, 2]\n{"a": 2}\n')
    assert read_rows(path) == [{"a": 1}, {"a": 2}]
    assert read_rows(path) == [{"a": 1}, {"a": 2}]
    warnings = capsys.readouterr().err.splitlines()
    assert [w.split(":")[2] for w in warnings] == ["2", "4"]  # each said once, by its line number


def test_strict_reading_names_the_first_bad_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"name": "a"}\n{"name": 3}\n')
    with pytest.raises(BadLine) as raised:
        read_rows(path, ("name",), strict=True)
    assert raised.value.number == 2 and str(raised.value) == f"{path}:2: no 'name'"


def test_a_last_line_without_newline_is_read_skipped_or_cut_as_asked(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}')
    assert read_rows(path) == [{"a": 1}, {"a": 2}]  # a data file without a final newline
    assert read_rows(path, tail="skip") == [{"a": 1}] and path.read_text().endswith("}")  # a log still writing
    assert [n for n, _ in iter_rows(path, tail="cut")] == [1] and path.read_text() == '{"a": 1}\n'
    append_row(path, {"a": 3})
    assert read_rows(path) == [{"a": 1}, {"a": 3}]


def test_an_atomic_write_that_fails_leaves_the_old_file_and_no_temp_file(tmp_path):
    path = tmp_path / "out.json"
    write_atomic(path, "old")
    with pytest.raises(RuntimeError):
        with atomic_file(path) as f:
            f.write("half of the new")
            raise RuntimeError("killed mid-write")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.json"]
    write_atomic(path, b"new")
    assert path.read_bytes() == b"new"


def test_an_atomic_write_makes_the_missing_folders_above_its_file(tmp_path):
    path = tmp_path / "runs" / "synth" / "mod.jsonl"
    write_atomic(path, "rows")
    assert path.read_text() == "rows" and [p.name for p in path.parent.iterdir()] == ["mod.jsonl"]

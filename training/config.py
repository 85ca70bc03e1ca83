"""One plain training config (nanoGPT-style): a dataclass, filled from a YAML file and `--set KEY=VALUE`."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

CONFIG_DIR = Path(__file__).parent / "configs"


class ConfigError(ValueError):
    pass


@dataclass
class TrainConfig:
    kind: str = "pretrain"  # pretrain: token-shard mixture; finetune: proofstep rows, loss on the tactic only
    model: str = "default"  # default (SmolLM2-135M), a Hugging Face folder, or a hub id
    init: str = "pretrained"  # pretrained | random (the model's architecture, fresh weights: tests, smoke runs)
    model_overrides: dict = field(default_factory=dict)  # config fields to change, e.g. a tiny num_hidden_layers
    rope_theta: float | None = None  # RoPE base override (Llemma 7B: 1e4, down from Code Llama's 1e6)
    data: str = ""  # pretrain: folder of token shards (`python -m training tokenize`); finetune: .jsonl file(s), comma-separated
    mixture: dict = field(default_factory=dict)  # pretrain: subset -> weight
    seq_len: int = 4096
    batch_size: int = 1024  # sequences per optimizer step, over all ranks and micro-steps
    micro_batch: int = 4  # sequences per forward pass on one rank
    steps: int = 1000
    lr: float = 1e-4
    min_lr_ratio: float = 1 / 30  # cosine decays to lr * min_lr_ratio
    warmup_steps: int = 500
    weight_decay: float = 0.1
    betas: tuple = (0.9, 0.95)
    eps: float = 1e-8
    grad_clip: float = 1.0
    precision: str = "auto"  # auto: bf16 autocast on GPU, fp32 on CPU | bf16 | fp32
    activation_checkpointing: bool = False
    lora: dict | None = None  # finetune with LoRA: {r, alpha, dropout, target_modules}
    adapter: str = ""  # finetune: start from this LoRA adapter folder's weights (its own r and targets), e.g. a last round's
    seed: int = 0
    eval_every: int = 100
    eval_batches: int = 8
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    log_every: int = 1
    tensorboard: bool = False
    out: str = "runs/train/run"

    def validate(self) -> None:
        if self.kind not in ("pretrain", "finetune"):
            raise ConfigError(f"kind must be pretrain or finetune, not {self.kind!r}")
        if self.init not in ("pretrained", "random"):
            raise ConfigError(f"init must be pretrained or random, not {self.init!r}")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ConfigError(f"precision must be auto, bf16 or fp32, not {self.precision!r}")
        if not self.data:
            raise ConfigError("no data: set `data` in the config or with --set data=PATH")
        if self.kind == "pretrain" and not self.mixture:
            raise ConfigError("a pretrain config needs a mixture (subset: weight)")
        for name in ("seq_len", "batch_size", "micro_batch", "steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.batch_size % self.micro_batch:
            raise ConfigError(f"batch_size {self.batch_size} is not a multiple of micro_batch {self.micro_batch}")
        if self.lora is not None and self.kind != "finetune":
            raise ConfigError("lora is for finetune configs")
        if self.adapter and self.kind != "finetune":
            raise ConfigError("adapter is for finetune configs")
        if self.adapter and not (Path(self.adapter) / "adapter_config.json").is_file():
            raise ConfigError(f"adapter {self.adapter!r} is not a LoRA adapter folder (no adapter_config.json)")

    @property
    def uses_lora(self) -> bool:
        """Training a LoRA adapter: a fresh one (`lora`) or a continued one (`adapter`)."""
        return bool(self.lora or self.adapter)

    def grad_accum(self, world_size: int) -> int:
        per_step = self.micro_batch * world_size
        if self.batch_size % per_step:
            raise ConfigError(f"batch_size {self.batch_size} is not a multiple of micro_batch x ranks = {per_step}")
        return self.batch_size // per_step

    def to_dict(self) -> dict:
        return asdict(self)


def config_path(spec: str) -> Path:
    path = Path(spec)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"no config file {spec}")
        return path
    named = CONFIG_DIR / f"{spec}.yaml"
    if not named.is_file():
        known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
        raise ConfigError(f"unknown config {spec!r} (known: {known}; or give a .yaml path)")
    return named


def load_config(spec: str | dict, overrides=(), kind: str | None = None) -> TrainConfig:
    """A config from a name, a YAML path or a dict, with KEY=VALUE overrides (VALUE read as YAML)."""
    if isinstance(spec, dict):
        raw = dict(spec)
    else:
        path = config_path(spec)
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: a config is a mapping of fields")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        raw[key.strip()] = yaml.safe_load(value)
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown config field {unknown[0]!r}")
    if kind is not None:
        if raw.get("kind", kind) != kind:
            raise ConfigError(f"this is a {raw['kind']} config; use `python -m training {raw['kind']}`")
        raw["kind"] = kind
    if "betas" in raw:
        raw["betas"] = tuple(raw["betas"])
    for f in fields(TrainConfig):  # YAML 1.1 reads 5e-4 (no dot) as a string
        if f.type in ("float", "float | None") and isinstance(raw.get(f.name), str):
            try:
                raw[f.name] = float(raw[f.name])
            except ValueError:
                raise ConfigError(f"{f.name} must be a number, not {raw[f.name]!r}") from None
    try:
        config = TrainConfig(**raw)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None
    return config

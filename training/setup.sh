#!/usr/bin/env bash
# Creates training/.venv (idempotent): Debian's /usr/bin/python3 with its system packages
# (python3-torch 1.13 + OpenBLAS, numpy, sentencepiece, pytest) plus the PyPI pins in requirements.txt.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt"
  echo "$want" > "$stamp"
fi
"$venv/bin/python" -c 'import torch, sentencepiece, sacrebleu, safetensors; print("torch", torch.__version__, "sacrebleu", sacrebleu.__version__, "safetensors", safetensors.__version__)'

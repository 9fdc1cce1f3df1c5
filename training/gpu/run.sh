#!/usr/bin/env bash
# On the lent GPU machine, from the repository root, in ONE device-tool call (training/README.md, "GPU (lent machine)"):
#
#   bash training/gpu/run.sh --minutes 8        # carry: ["training/gpu/pack"], timeout_s: 600
#
# Trains from training/gpu/pack/ on CUDA (bf16) for --minutes and writes to $OUT: weights.000.. (a portable
# checkpoint in parts of <= 15 MiB), manifest.json, log.jsonl (train.py's log) and run.log (this output).
# Arguments go to training/gpu/run.py (and, when it does not know them, to train.py). PYTHON picks the interpreter.
set -uo pipefail
out="${OUT:-training/work/gpu/out}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
{
  echo "run.sh: $(date -u +%FT%TZ) $(uname -m) $(nproc) cores"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "${PYTHON:-python3}" -m training.gpu.run --out "$out" "$@"
  rc=$?
  echo "run.sh: exit $rc at $(date -u +%FT%TZ)"
  ls -l "$out"
  exit $rc
} 2>&1 | tee "$out/run.log"

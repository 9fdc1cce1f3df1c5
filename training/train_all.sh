#!/usr/bin/env bash
# Background driver: trains routing variants side by side, one process each (one thread, bf16 autocast on
# PyTorch 2 from training/.venv-fast; see training/README.md "Speed"), so two runs keep both cores busy
# with no gradient exchange. DDP=1 trains them one after another instead, each as one data-parallel run of
# NPROC processes (torchrun), which is the fastest way to finish ONE model.
#
#   nohup training/train_all.sh >> training/work/runs/train_all.out 2>&1 &
#
# Budgets are in src+tgt tokens: every run keeps weights-only snapshots tokens-<N>M.pt at SAVE_AT_TOKENS (the
# inverse-sqrt schedule does not depend on the budget, so snapshots of longer runs are equal-budget points) and
# stops at MAX_TOKENS. Every run checkpoints every 5 minutes and resumes exactly: rerunning this script after an
# interruption continues whatever is incomplete (a run with a DONE file is skipped). A run may start from a
# committed portable checkpoint or export folder: INIT_<variant>=path.
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_TOKENS="${MAX_TOKENS:-25M}"
SAVE_AT_TOKENS="${SAVE_AT_TOKENS:-$(seq -s, -f '%gM' 5 5 100)}"
WARMUP="${WARMUP:-1000}"
VARIANTS="${VARIANTS:-task_task token_task}"
PRECISION="${PRECISION:-bf16}"
COMPILE_LOSS="${COMPILE_LOSS:-1}"  # torch.compile the loss (torch 2 + gcc): +25 % tokens/s measured
DDP="${DDP:-0}"
NPROC="${NPROC:-2}"
PY="${PY:-training/.venv-fast/bin/python}"
[ -x "$PY" ] || PY=training/.venv/bin/python
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" OMP_NUM_THREADS=1
RUNS=training/work/runs
mkdir -p "$RUNS"

run() {  # variant
  local v="$1" enc="${1%_*}" dec="${1#*_}" dir="$RUNS/$1" init_var="INIT_$1" init=()
  [ -n "${!init_var:-}" ] && init=(--init-from "${!init_var}")
  local args=(--config small --enc-routing "$enc" --dec-routing "$dec" --threads 1 --precision "$PRECISION"
    --warmup "$WARMUP" --save-at-tokens "$SAVE_AT_TOKENS" --max-train-tokens "$MAX_TOKENS" --max-steps 1000000
    --run-dir "$dir" --ckpt-minutes 5 "${init[@]}")
  [ "$COMPILE_LOSS" = 1 ] && args+=(--compile-loss)
  echo "$(date -u +%FT%TZ) start $v to $MAX_TOKENS tokens (ddp=$DDP)"
  if [ "$DDP" = 1 ]; then
    "$PY" -m torch.distributed.run --standalone --nproc_per_node="$NPROC" -m training.taskmoe_train.train "${args[@]}" >> "$dir.out" 2>&1
  else
    "$PY" -m training.taskmoe_train.train "${args[@]}" >> "$dir.out" 2>&1
  fi
  echo "$(date -u +%FT%TZ) end $v"
}

# Encode the corpus once (cached in training/work/cache) before parallel runs would both write that cache.
"$PY" -c 'from pathlib import Path
from training.taskmoe_train.tokenizer import Tokenizer
from training.taskmoe_train.train import load_split
load_split(Path("training/work/data"), Tokenizer("training/work/spm/spm.model"), "train", 128, Path("training/work/cache"))'

for v in $VARIANTS; do
  mkdir -p "$RUNS/$v"
  if [ -f "$RUNS/$v/DONE" ]; then continue; fi
  if [ "$DDP" = 1 ]; then run "$v"; else run "$v" & fi
done
wait
echo "$(date -u +%FT%TZ) all done"

#!/usr/bin/env bash
# Background driver: trains the four routing variants with the same data, dims and step budget, all four
# at once, one thread each (torch keeps only ~1.1 of 2 cores busy with 2 threads; one-thread processes
# get ~1,500-2,000 tokens per CPU-second each). Running them side by side keeps every variant at about
# the same step, so a session that must stop early still has an equal-budget snapshot of all four.
# Every run checkpoints every 5 minutes and resumes exactly, so rerunning this script after an
# interruption continues whatever is incomplete:
#
#   nohup training/train_all.sh >> training/work/runs/train_all.out 2>&1 &
#   echo -5 > /proc/$!/autogroup   # the kernel shares CPU between sessions (autogroups), not processes
#
# Equal budget: BUDGET_STEPS steps of ~4k padded (src+tgt) tokens each, warmup WARMUP; runs/<variant>/.
# The inverse-sqrt schedule does not depend on the step budget, so the weights-only snapshots kept at
# SAVE_AT are equal-budget points too (used if a session ends before every variant reaches the budget).
# Then, if LONG_STEPS > BUDGET_STEPS, task-MoE and the hybrid continue (same schedule) in runs/<variant>_long/.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET_STEPS="${BUDGET_STEPS:-1500}"
WARMUP="${WARMUP:-500}"
SAVE_AT="${SAVE_AT:-$(seq -s, 500 100 3000)}"
LONG_STEPS="${LONG_STEPS:-0}"
# Variants to train now (a session may train only those still missing).
VARIANTS="${VARIANTS:-task_task token_task token_token dense_dense}"
PY=/usr/bin/python3
# Shared 2-core machine: sleeping (not spinning) OpenMP threads waste far less CPU under contention.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
RUNS=training/work/runs
mkdir -p "$RUNS"

run() {  # variant max_steps dir
  local enc="${1%_*}" dec="${1#*_}"
  echo "$(date -u +%FT%TZ) start $3 to step $2"
  $PY -m training.taskmoe_train.train --config small --enc-routing "$enc" --dec-routing "$dec" --threads 1 \
    --warmup "$WARMUP" --save-at "$SAVE_AT" --run "$3" --max-steps "$2" --ckpt-minutes 5 >> "$3.out" 2>&1
  echo "$(date -u +%FT%TZ) end $3"
}

lane() {  # variants to train one after another
  for v in "$@"; do
    [ -f "$RUNS/$v/DONE" ] || run "$v" "$BUDGET_STEPS" "$RUNS/$v"
  done
}

# Encode the corpus once (cached in training/work/cache) before two lanes would both write that cache.
$PY -c 'from pathlib import Path
from training.taskmoe_train.tokenizer import Tokenizer
from training.taskmoe_train.train import load_split
load_split(Path("training/work/data"), Tokenizer("training/work/spm/spm.model"), "train", 128, Path("training/work/cache"))'

for v in $VARIANTS; do
  lane "$v" &
done
wait

if [ "$LONG_STEPS" -gt "$BUDGET_STEPS" ]; then
  for v in task_task token_task; do
    if [ ! -f "$RUNS/${v}_long/ckpt.pt" ]; then
      mkdir -p "$RUNS/${v}_long"
      cp "$RUNS/$v/ckpt.pt" "$RUNS/${v}_long/ckpt.pt"
    fi
  done
  for v in task_task token_task; do
    [ -f "$RUNS/${v}_long/DONE" ] || run "$v" "$LONG_STEPS" "$RUNS/${v}_long" &
  done
  wait
fi
echo "$(date -u +%FT%TZ) all done"

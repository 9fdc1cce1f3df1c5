#!/usr/bin/env bash
# Background driver: trains the four routing variants one after another (2 cores: never in
# parallel) with the same data, dims and step budget, then continues task-MoE and hybrid for the
# long shipped runs. Every run checkpoints every 5 minutes and resumes exactly, so rerunning this
# script after an interruption continues whatever is incomplete:
#
#   nohup nice -n 10 training/train_all.sh > training/work/runs/train_all.out 2>&1 &
#
# Equal budget: BUDGET_STEPS steps of ~4k padded (src+tgt) tokens each; runs/<variant>/.
# Long runs: runs/<variant>_long/ start from the finished budget checkpoint (same LR schedule, so
# this is the same run continued) up to LONG_STEPS.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET_STEPS="${BUDGET_STEPS:-2400}"
LONG_STEPS="${LONG_STEPS:-12000}"
PY=/usr/bin/python3
# Shared 2-core machine: sleeping (not spinning) OpenMP threads waste far less CPU under contention.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
RUNS=training/work/runs
mkdir -p "$RUNS"

run() {  # variant max_steps dir
  local enc="${1%_*}" dec="${1#*_}"
  echo "$(date -u +%FT%TZ) start $3 to step $2"
  $PY -m training.taskmoe_train.train --config small --enc-routing "$enc" --dec-routing "$dec" \
    --run "$3" --max-steps "$2" --ckpt-minutes 5 >> "$3.out" 2>&1
  echo "$(date -u +%FT%TZ) end $3"
}

for v in task_task token_task token_token dense_dense; do
  [ -f "$RUNS/$v/DONE" ] || run "$v" "$BUDGET_STEPS" "$RUNS/$v"
done
for v in task_task token_task; do
  if [ ! -f "$RUNS/${v}_long/ckpt.pt" ]; then
    mkdir -p "$RUNS/${v}_long"
    cp "$RUNS/$v/ckpt.pt" "$RUNS/${v}_long/ckpt.pt"
  fi
  [ -f "$RUNS/${v}_long/DONE" ] || run "$v" "$LONG_STEPS" "$RUNS/${v}_long"
done
echo "$(date -u +%FT%TZ) all done"

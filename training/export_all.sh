#!/usr/bin/env bash
# Exports and evaluates the four variants at one equal-budget point, after training/train_all.sh:
#
#   training/export_all.sh [BUDGET] [MAX_SENTS]
#
# BUDGET: a token budget every run has a snapshot of (runs/<variant>/tokens-BUDGET.pt, e.g. 25M), or "final" for
# each run's ckpt.pt (default: the largest budget all runs have a snapshot of). The shipped variants (task-MoE and the
# hybrid) go to models/<variant>/ with goldens and beam references; token-MoE and dense go to
# training/work/export/ (evaluated, not committed). Scores: full sets (or the first MAX_SENTS lines), greedy and
# beam 4, plus the copy and Apertium baselines and the claims, into models/results.json and models/README.md
# (about 2 core-hours per variant: training/README.md "Evaluation").
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=training/work/runs
PY=training/.venv/bin/python
MAX_SENTS="${2:-0}"
# Variants without a run (not trained in this session) are left out; the step is common to those trained.
have() { for v in "$@"; do if [ -d "$RUNS/$v" ]; then echo "$v"; fi; done; }
SHIPPED=$(have task_task token_task | xargs)
OTHERS=$(have token_token dense_dense | xargs)
[ -n "$SHIPPED$OTHERS" ] || { echo "no runs under $RUNS" >&2; exit 1; }

if [ -n "${1:-}" ]; then
  BUDGET="$1"
else
  BUDGET=$(for v in $SHIPPED $OTHERS; do ls "$RUNS/$v" | sed -n 's/^tokens-\([0-9.]*\)M\.pt$/\1/p' | sort -g | tail -1; done | sort -g | head -1)
  [ -n "$BUDGET" ] || { echo "no snapshot common to the runs" >&2; exit 1; }
  BUDGET="${BUDGET}M"
fi
ckpt="tokens-$BUDGET.pt"
[ "$BUDGET" = final ] && ckpt=ckpt.pt
echo "exporting every variant at $ckpt"

mkdir -p training/work/export
for v in $SHIPPED $OTHERS; do
  case " $SHIPPED " in *" $v "*) out="models/$v" ;; *) out="training/work/export/$v" ;; esac
  rm -rf "$out"
  $PY -m training.taskmoe_train.export --run "$RUNS/$v" --ckpt "$ckpt" --out "$out" > /dev/null
  echo "exported $v -> $out"
done
# shellcheck disable=SC2086
$PY test/fixtures/models/make_beam.py $(for v in $SHIPPED; do echo "models/$v"; done)

[ -n "$SHIPPED" ] || { echo "no shipped variant trained" >&2; exit 1; }
# Evaluate on the FULL dev and test sets, greedy and beam 4 (evaluate.py's defaults), all variants in parallel (one
# thread each; results.json is locked while written), then the baselines and every claim with its paired-bootstrap
# interval. MAX_SENTS (second argument, default 0 = all) scores the first N lines instead, for a quick look only.
ev() { $PY -m training.eval.evaluate --results models --max-sents "$MAX_SENTS" "$@"; }
# shellcheck disable=SC2086
for v in $SHIPPED; do ev --models models --variants "$v" & done
# shellcheck disable=SC2086
for v in $OTHERS; do ev --models training/work/export --variants "$v" & done
wait
ev --baselines
ev --judge
echo "done: models/results.json, models/README.md"

#!/usr/bin/env bash
# One command that a session runs first to continue this round's training on a fresh machine, in the background:
#
#   nohup training/continue.sh >> training/work/continue.out 2>&1 &
#
# 1. system packages (scripts/install-system-deps.sh) and training/.venv-fast (PyTorch 2; about 5 minutes),
# 2. the corpus (training.data.build, deterministic; about 10 minutes with the downloads) unless already built,
# 3. the tokenizer the committed checkpoints were trained with (training/checkpoints/spm.model), never retrained,
# 4. train_all.sh for VARIANTS (default: the variants with a committed checkpoint), each continued from
#    training/checkpoints/<variant>.pt unless its run folder already has a ckpt.pt (then it resumes exactly).
# Extra environment (MAX_TOKENS, SAVE_AT_TOKENS, VARIANTS, DDP) passes through to train_all.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "$(date -u +%FT%TZ) continue: setup"
bash scripts/install-system-deps.sh > /dev/null
bash training/setup.sh --fast
if [ ! -f training/work/data/counts.json ]; then
  echo "$(date -u +%FT%TZ) continue: corpus"
  /usr/bin/python3 -m training.data.build --out training/work/data
fi
mkdir -p training/work/spm
cmp -s training/checkpoints/spm.model training/work/spm/spm.model || cp training/checkpoints/spm.model training/work/spm/spm.model
if [ -z "${VARIANTS:-}" ]; then
  VARIANTS=$(for f in training/checkpoints/*.pt; do [ -e "$f" ] && basename "$f" .pt; done | xargs)
fi
for v in $VARIANTS; do
  if [ -f "training/checkpoints/$v.pt" ] && [ ! -f "training/work/runs/$v/ckpt.pt" ]; then
    export "INIT_$v=training/checkpoints/$v.pt"
  fi
done
echo "$(date -u +%FT%TZ) continue: train_all.sh VARIANTS='$VARIANTS'"
VARIANTS="$VARIANTS" exec training/train_all.sh

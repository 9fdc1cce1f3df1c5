"""taskmoe's Python side: data build, tokenizer, model, training, evaluation, export."""

import os

# On these 2-core machines OpenBLAS's own threads fight torch's OpenMP threads (measured: 2,600
# tokens/s with OMP 2 + OpenBLAS 1, 1,800 with OMP 1 + OpenBLAS 2, 300 with both at 2).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Spinning OpenMP threads are ruinous on shared cores: an evaluation beside a training run went from
# 100+ s to 1-4 s per 50 sentences once the other process stopped spinning/competing.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

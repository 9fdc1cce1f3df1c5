"""taskmoe's Python side: data build, tokenizer, model, training, evaluation, export."""

import os

# On these 2-core machines OpenBLAS's own threads fight torch's OpenMP threads (measured: 2,600
# tokens/s with OMP 2 + OpenBLAS 1, 1,800 with OMP 1 + OpenBLAS 2, 300 with both at 2).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

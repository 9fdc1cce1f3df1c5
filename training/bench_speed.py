"""Training speed on this machine, side by side in one run: tokens/s of the real training loop (train.py).

  training/.venv-fast/bin/python -m training.bench_speed --out training/work/bench_speed.json

Each configuration trains the small task/task model from scratch on the same corpus and batches for
--steps steps and is timed over the steps after the first --warm (start-up, allocator warm-up); they run one after
another with nothing else of ours running (pause background training first). "Per machine" is what the whole
machine trains per second: one process, one data-parallel run, or two independent runs side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEBIAN = "/usr/bin/python3"  # Debian's torch 1.13 + OpenBLAS: the 'before'
FAST = str(REPO / "training/.venv-fast/bin/python")  # PyTorch 2 from PyPI


def configs() -> list[dict]:
    return [
        {"name": "torch 1.13 (Debian) fp32, 1 process x 1 thread", "py": DEBIAN, "threads": 1, "precision": "fp32"},
        {"name": "torch 2 fp32, 1 process x 1 thread", "py": FAST, "threads": 1, "precision": "fp32"},
        {"name": "torch 2 bf16, 1 process x 1 thread", "py": FAST, "threads": 1, "precision": "bf16"},
        {"name": "torch 2 bf16 + compiled loss, 1 process x 1 thread", "py": FAST, "threads": 1, "precision": "bf16", "compile": True},
        {"name": "torch 2 bf16 + compiled loss, 1 process x 2 threads", "py": FAST, "threads": 2, "precision": "bf16", "compile": True},
        {"name": "torch 2 bf16 + compiled loss, DDP 2 processes x 1 thread (one model)", "py": FAST, "threads": 1, "precision": "bf16", "compile": True, "ddp": 2},
        {"name": "torch 2 bf16 + compiled loss, 2 independent runs x 1 thread (two models)", "py": FAST, "threads": 1, "precision": "bf16", "compile": True, "side_by_side": 2},
    ]  # fmt: skip


def train_cmd(c: dict, run: Path, steps: int, log_every: int) -> list[str]:
    args = [
        "-m", "training.taskmoe_train.train", "--config", "small", "--enc-routing", "task", "--dec-routing", "task",
        "--threads", str(c["threads"]), "--precision", c["precision"], "--max-steps", str(steps),
        "--log-every", str(log_every), "--ckpt-minutes", "0", "--warmup", "1000", "--run-dir", str(run),
    ]  # fmt: skip
    if c.get("compile"):
        args.append("--compile-loss")
    if c.get("ddp"):
        return [c["py"], "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={c['ddp']}", *args]
    return [c["py"], *args]


def measure(c: dict, steps: int, warm: int, tmp: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(c["threads"]), "OPENBLAS_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    n = c.get("side_by_side", 1)
    runs = [tmp / f"{abs(hash(c['name']))}-{i}" for i in range(n)]
    t0 = time.time()
    procs = [
        subprocess.Popen(
            train_cmd(c, r, steps, warm), cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        for r in runs
    ]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"{c['name']} failed:\n{err[-2000:]}")
    per_run = []
    for r in runs:
        log = [json.loads(x) for x in (r / "log.jsonl").read_text().splitlines()]
        timed = [x for x in log if x["step"] > warm]
        # tok_per_s is the window's tokens over its wall time; weight windows by tokens
        toks = sum(x["tokens"] - prev["tokens"] for prev, x in zip(log, log[1:]) if x["step"] > warm)
        secs = sum((x["tokens"] - prev["tokens"]) / x["tok_per_s"] for prev, x in zip(log, log[1:]) if x["step"] > warm)
        per_run.append({"tokens": toks, "seconds": round(secs, 2), "tok_per_s": round(toks / secs, 1), "windows": len(timed)})
    return {
        "config": c["name"],
        "python": c["py"],
        "per_run_tok_per_s": [x["tok_per_s"] for x in per_run],
        "per_machine_tok_per_s": round(sum(x["tok_per_s"] for x in per_run), 1),
        "timed_tokens": sum(x["tokens"] for x in per_run),
        "wall_s": round(time.time() - t0, 1),
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warm", type=int, default=10, help="steps not timed (also the log window)")
    ap.add_argument("--only", default="", help="comma-separated indices of configs() to run")
    ap.add_argument("--out", type=Path, default=REPO / "training/work/bench_speed.json")
    a = ap.parse_args(argv)
    cs = configs()
    if a.only:
        cs = [cs[int(i)] for i in a.only.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="bench-speed-"))
    rows = []
    try:
        for c in cs:
            r = measure(c, a.steps, a.warm, tmp)
            rows.append(r)
            print(json.dumps(r), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = rows[0]["per_machine_tok_per_s"]
    for r in rows:
        r["vs_first"] = round(r["per_machine_tok_per_s"] / base, 2)
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")), ""
    )
    out = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "steps": a.steps,
        "warm": a.warm,
        "rows": rows,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1) + "\n")
    print("| configuration | tokens/s per run | tokens/s per machine | vs first |\n|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['config']} | {' + '.join(f'{x:,.0f}' for x in r['per_run_tok_per_s'])} | {r['per_machine_tok_per_s']:,.0f} | {r['vs_first']:.2f}x |"
        )


if __name__ == "__main__":
    sys.exit(main())

"""Trains on a lent GPU from a pack (pack.py) and writes the weights back as parts (unpack.py joins them).

On the GPU machine, from the repository root (training/gpu/run.sh wraps this and tees the output to $OUT/run.log):

  python3 -m training.gpu.run --minutes 8            # bf16 on CUDA, 64k-token batches, lr 2e-3, warmup 300

What it does: loads training/gpu/pack/ (no sentencepiece needed: if the module is missing, an empty stand-in
lets train.py import; --pairs never tokenizes), checks that the pack's model config is what train.py will build,
runs train.py's train() with --pairs, --precision bf16, --max-minutes and the batch settings below (extra
arguments go to train.py unchanged, later ones winning), and then writes to --out ($OUT):

  weights.000 ... weights.00N   a portable checkpoint (portable.py's format: f16 weights, step/data state, config)
                                cut into parts of at most 15 MiB (4 parts for the small config)
  manifest.json                 checksums of the parts and the whole, state, config, tokens/s, device, arguments
  log.jsonl                     train.py's log

Each new ckpt.pt of the run (written every --ckpt-minutes) is mirrored there while training runs, so a hard kill
still leaves the last one (manifest error "partial: ..."); if training raises or gets SIGTERM, the last ckpt.pt is
brought back and the manifest says why. The collate function is replaced by an equal, vectorised one
(fast_collate): on a GPU the per-pair Python loop of train.collate would cost about as much as a step on 64k-token
batches.

Batch and learning rate: the CPU runs take 4,096-token batches at peak lr 1e-3 (warmup 1,000 steps). Here a
batch is 16x that (65,536 padded tokens, about 55k real) and the peak lr 2e-3: Ott et al. (2018, "Scaling Neural
Machine Translation") went from 25k- to 400k-token batches (16x) with Adam by doubling the lr (5e-4 -> 1e-3);
sqrt scaling (4e-3) is the upper bound and post-warmup instability is the risk, so 2x. Warmup 300 steps (about
17M tokens, a tenth of what 8 minutes should see). The model config is the pack's, identical to the CPU runs',
so `train.py --init-from` continues the result on CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import threading
import time
import traceback
import types
from pathlib import Path

import numpy as np
import torch

from .pack import MIB, PART_BYTES, load_pack, portable_bytes, write_parts

MAX_FILES = 8  # the device tool brings back at most 8 files of at most 16 MiB each
MAX_FILE_BYTES = 16 * MIB


class Terminated(BaseException):
    pass


def allow_missing_sentencepiece() -> bool:
    """train.py imports tokenizer.py, which imports sentencepiece; with --pairs it is never called."""
    try:
        import sentencepiece  # noqa: F401

        return False
    except ImportError:
        sys.modules["sentencepiece"] = types.ModuleType("sentencepiece")
        return True


def fast_collate(pairs, idx):
    """train.collate without the per-pair loop: src [B,S], tgt_in [B,T], tgt_out [B,T], task [B] (same values)."""
    from training.taskmoe_train.model import BOS, EOS, PAD

    ss = [pairs[i][0] for i in idx]
    ts = [pairs[i][1] for i in idx]
    B = len(idx)
    sl = np.fromiter((len(x) for x in ss), dtype=np.int64, count=B)
    tl = np.fromiter((len(x) for x in ts), dtype=np.int64, count=B)
    S, T = int(sl.max()), int(tl.max()) + 1
    src = np.full((B, S), PAD, dtype=np.int64)
    src[np.arange(S)[None, :] < sl[:, None]] = np.concatenate(ss)
    tcat = np.concatenate(ts)
    pos = np.arange(T)[None, :]
    tin = np.full((B, T), PAD, dtype=np.int64)
    tin[:, 0] = BOS
    tin[(pos >= 1) & (pos <= tl[:, None])] = tcat
    tout = np.full((B, T), PAD, dtype=np.int64)
    tout[pos < tl[:, None]] = tcat
    tout[np.arange(B), tl] = EOS
    task = np.fromiter((pairs[i][2] for i in idx), dtype=np.int64, count=B)
    return torch.from_numpy(src), torch.from_numpy(tin), torch.from_numpy(tout), torch.from_numpy(task)


def train_argv(a, meta: dict, rest: list[str]) -> list[str]:
    ta = meta["train_args"]
    argv = [
        "--config", ta["config"], "--enc-routing", ta["enc_routing"], "--dec-routing", ta["dec_routing"],
        "--max-train-len", str(ta["max_train_len"]), "--pairs", str(a.pack), "--run-dir", str(a.run_dir), "--cache", "",
        "--precision", a.precision, "--max-tokens", str(a.max_tokens), "--lr", str(a.lr), "--warmup", str(a.warmup),
        "--max-minutes", str(a.minutes), "--max-steps", "1000000000", "--ckpt-minutes", str(a.ckpt_minutes),
        "--log-every", str(a.log_every), "--threads", str(a.threads),
    ]  # fmt: skip
    if ta.get("override"):
        argv += ["--override", ta["override"]]
    if (a.pack / "init.pt").exists():
        argv += ["--init-from", str(a.pack / "init.pt")]
    if a.cpu:
        argv += ["--cpu"]
    return argv + rest


def device_info(cpu: bool) -> dict:
    if cpu or not torch.cuda.is_available():
        return {"device": "cpu", "torch": torch.__version__}
    p = torch.cuda.get_device_properties(0)
    return {
        "device": p.name,
        "gpu_memory_gib": round(p.total_memory / 2**30, 1),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pack", type=Path, default=Path("training/gpu/pack"))
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or "training/work/gpu/out"))
    ap.add_argument("--run-dir", type=Path, default=Path("/tmp/taskmoe-gpu-run"))
    ap.add_argument("--minutes", type=float, default=8.0, help="training time (train.py --max-minutes)")
    ap.add_argument("--max-tokens", type=int, default=65536)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    ap.add_argument("--ckpt-minutes", type=float, default=2.0)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--stem", default="weights")
    ap.add_argument("--mirror-every", type=float, default=5.0, help="seconds between looks for a new ckpt.pt to mirror")
    ap.add_argument("--cpu", action="store_true", help="run the same path on the CPU (tests)")
    ap.add_argument("--slow-collate", action="store_true", help="keep train.collate")
    a, rest = ap.parse_known_args(argv)
    if not (a.pack / "pack.json").exists():
        raise SystemExit(f"run: no pack at {a.pack} (make it with training.gpu.pack and name it in the call's carry)")
    t_wall = time.time()
    stub = allow_missing_sentencepiece()
    from training.taskmoe_train import train as tr

    if not a.slow_collate:
        tr.collate = fast_collate
    if not a.cpu and not torch.cuda.is_available():
        raise SystemExit("run: no CUDA device here (--cpu runs the same code path on the CPU)")
    if not a.cpu:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    meta = load_pack(a.pack)
    ta = meta["train_args"]
    over = json.loads(ta["override"]) if ta.get("override") else {}
    cfg = tr.make_config(ta["config"], ta["enc_routing"], ta["dec_routing"], meta["vocab_size"], **over).to_dict()
    if cfg != meta["config"]:
        raise SystemExit("run: the pack's config differs from what train.py builds from its arguments (model.py changed?)")
    targv = train_argv(a, meta, rest)
    info = device_info(a.cpu)
    print(json.dumps({"run": info, "sentencepiece_stub": stub, "train_argv": targv}), flush=True)

    def write_out(model_state, state, config, error) -> dict:
        entry = write_parts(portable_bytes(model_state, state, config), a.out, a.stem)
        if (a.run_dir / "log.jsonl").exists():
            shutil.copyfile(a.run_dir / "log.jsonl", a.out / "log.jsonl")
        manifest = {
            "format": "taskmoe-gpu-1",
            "weights": entry,
            "state": state,
            "config": config,
            "tokens_per_s": round(state["tokens"] / max(state["train_seconds"], 1e-9), 1),
            "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if info["device"] != "cpu" else None,
            "wall_s": round(time.time() - t_wall, 1),
            **info,
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()},
            "train_argv": targv,
            "pack": {k: meta[k] for k in ("n_pairs", "n_tokens", "max_len", "spm_sha256", "init_from") if k in meta},
            "error": error,
        }
        tmp = a.out / "manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=1) + "\n")
        os.replace(tmp, a.out / "manifest.json")
        return manifest

    def from_ckpt(error: str) -> dict:
        c = torch.load(a.run_dir / "ckpt.pt", map_location="cpu", weights_only=False)
        return write_out(c["model"], c["state"], c["config"], error)

    # While training runs, each new ckpt.pt (every --ckpt-minutes) is mirrored to --out, so that even a hard kill
    # (the call's time limit) leaves the last one there.
    stop = threading.Event()

    def mirror() -> None:
        seen = None
        while not stop.wait(a.mirror_every):
            try:
                m = (a.run_dir / "ckpt.pt").stat().st_mtime_ns
                if m != seen:
                    seen = m
                    from_ckpt("partial: training was still running")
            except Exception:  # a checkpoint being replaced; the next round takes it
                seen = None

    def on_term(signum, frame):  # a timeout's SIGTERM: bring back the last checkpoint, as for an error
        raise Terminated(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    mirror_thread = threading.Thread(target=mirror, daemon=True)
    mirror_thread.start()
    try:
        res = tr.train(tr.parser().parse_args(targv))
        stop.set()
        mirror_thread.join()
        manifest = write_out(res["model"].state_dict(), res["state"], res["config"].to_dict(), None)
    except (Exception, Terminated) as e:  # bring back the last periodic checkpoint rather than nothing
        stop.set()
        mirror_thread.join(timeout=60)
        try:
            traceback.print_exc()
        except OSError:  # the output pipe may be gone (a timeout kills tee too)
            pass
        if not (a.run_dir / "ckpt.pt").exists():
            raise
        manifest = from_ckpt(repr(e))
    files = [p.name for p in a.out.iterdir() if p.is_file()]
    big = [n for n in files if (a.out / n).stat().st_size > MAX_FILE_BYTES]
    n_files = len(files) + ("run.log" not in files)  # run.sh's run.log is one more
    if big or n_files > MAX_FILES or manifest["weights"]["bytes"] > (MAX_FILES - 3) * PART_BYTES:
        print(f"run: WARNING: {a.out} will not all come back: {n_files} files, over 16 MiB: {big}", file=sys.stderr)
    try:
        print(
            json.dumps({k: manifest[k] for k in ("state", "tokens_per_s", "peak_gpu_memory_gib", "wall_s", "error")}), flush=True
        )
    except OSError:
        pass
    return manifest


if __name__ == "__main__":
    main()

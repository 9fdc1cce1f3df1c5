"""Trains one routing variant with periodic checkpoints and exact resume, on one or many processes.

  python -m training.taskmoe_train.train --config small --enc-routing task --dec-routing task \
      --data training/work/data --spm training/work/spm/spm.model --run training/work/runs/task_task \
      --max-steps 3000

Data parallel (torch.distributed, DistributedDataParallel): the same entry point under torchrun, one thread per
process; gloo on CPUs, nccl on CUDA GPUs; multi-node unchanged:

  torchrun --nproc_per_node=2 -m training.taskmoe_train.train --threads 1 --precision bf16 --run-dir R ...
  torchrun --nnodes=2 --nproc_per_node=8 --rdzv-backend=c10d --rdzv-endpoint=HOST:29400 -m training.taskmoe_train.train ...

A step takes one batch (at most --max-tokens padded tokens) per process, consecutive batches of the same
deterministic epoch order, so the data order does not depend on the process count and a run may resume with
another one. --precision bf16 runs forward and backward under torch.autocast (bfloat16 matmuls); the master
weights, Adam moments, softmaxes and the loss stay f32.

Rerunning the same command resumes from <run>/ckpt.pt (model, optimizer, step, RNG states and data
position), so a stopped run continues exactly where it was.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from .model import LANGS, PAD, PRESETS, ModelConfig, TaskMoETransformer
from .portable import load_portable
from .tokenizer import BOS, EOS, Tokenizer


def variant_name(enc: str, dec: str) -> str:
    return f"{enc}_{dec}"


def make_config(preset: str, enc: str, dec: str, vocab_size: int, **over) -> ModelConfig:
    return ModelConfig(vocab_size=vocab_size, enc_routing=enc, dec_routing=dec, **{**PRESETS[preset], **over})


# ----------------------------------------------------------------------------- data


def load_split(data: Path, tok: Tokenizer, split: str, max_len: int, cache_dir: Path | None = None):
    """Encodes <data>/<lang>/<split>.{src,tgt} of all languages -> list of (src_ids, tgt_ids, task)."""
    key = hashlib.sha1((str(data.resolve()) + split + str(max_len)).encode() + tok.path.read_bytes()).hexdigest()[:16]
    cp = cache_dir / f"enc-{split}-{key}.pt" if cache_dir else None
    if cp is not None and cp.exists():
        return torch.load(cp, weights_only=False)
    out = []
    for task, lang in enumerate(LANGS):
        if not (data / lang).exists():
            continue
        src = (data / lang / f"{split}.src").read_text(encoding="utf-8").splitlines()
        tgt = (data / lang / f"{split}.tgt").read_text(encoding="utf-8").splitlines()
        for (
            s,
            t,
        ) in zip(src, tgt):
            si, ti = tok.source_ids(s, lang), tok.encode(t)
            if len(si) <= max_len and len(ti) + 1 <= max_len:
                out.append((np.array(si, dtype=np.int32), np.array(ti, dtype=np.int32), task))
    if cp is not None:
        cp.parent.mkdir(parents=True, exist_ok=True)
        torch.save(out, cp)
    return out


def epoch_batches(lengths: np.ndarray, max_tokens: int, epoch: int, seed: int) -> list[np.ndarray]:
    """Token-bucketed batches for one epoch, a pure function of (epoch, seed).

    Shuffle, sort by length inside chunks of 100 batches' worth, cut batches whose padded size
    (src+tgt) stays under max_tokens, shuffle the batches.
    """
    rng = np.random.default_rng(seed * 1000003 + epoch)
    perm = rng.permutation(len(lengths))
    chunk = max(1, 100 * max_tokens // max(1, int(lengths[:, 0].mean() + lengths[:, 1].mean())))
    batches = []
    for c0 in range(0, len(perm), chunk):
        idx = perm[c0 : c0 + chunk]
        idx = idx[np.argsort(lengths[idx].max(1), kind="stable")]
        cur, ms, mt = [], 0, 0
        for i in idx:
            s, t = lengths[i]
            ns, nt = max(ms, s), max(mt, t)
            if cur and (len(cur) + 1) * (ns + nt) > max_tokens:
                batches.append(np.array(cur))
                cur, ns, nt = [], s, t
            cur.append(i)
            ms, mt = ns, nt
        if cur:
            batches.append(np.array(cur))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def collate(pairs, idx) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """-> src [B,S], tgt_in [B,T] (<s> + y), tgt_out [B,T] (y + </s>), task [B]."""
    B = len(idx)
    S = max(len(pairs[i][0]) for i in idx)
    T = max(len(pairs[i][1]) for i in idx) + 1
    src = torch.full((B, S), PAD, dtype=torch.long)
    tin = torch.full((B, T), PAD, dtype=torch.long)
    tout = torch.full((B, T), PAD, dtype=torch.long)
    task = torch.zeros(B, dtype=torch.long)
    for b, i in enumerate(idx):
        s, t, k = pairs[i]
        src[b, : len(s)] = torch.from_numpy(s.astype(np.int64))
        tt = torch.from_numpy(t.astype(np.int64))
        tin[b, 0] = BOS
        tin[b, 1 : len(t) + 1] = tt
        tout[b, : len(t)] = tt
        tout[b, len(t)] = EOS
        task[b] = k
    return src, tin, tout, task


def smoothed_ce(logits, target, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Label-smoothed cross entropy in f32 averaged over non-pad targets; also returns the plain NLL (no gradient).

    With lse = logsumexp(z): -log p[t] = lse - z[t] and the smoothing term -mean(log p) = lse - mean(z), so no
    [tokens, vocab] log-probabilities are materialised (the logits are the largest tensors of a step)."""
    z = logits.float()
    lse = torch.logsumexp(z, -1)
    mask = target != PAD
    nll = lse - z.gather(-1, target[..., None])[..., 0]
    smooth = lse - z.mean(-1)
    loss = ((1 - eps) * nll + eps * smooth)[mask].mean()
    return loss, nll.detach()[mask].mean()


def loss_function(compile_loss: bool):
    """smoothed_ce, compiled by torch.compile where asked and available (torch 2): inductor fuses the f32 cast and
    the passes over the logits (measured on CPU: a 16k vocabulary's loss 742 -> 533 ms forward + backward)."""
    if compile_loss and hasattr(torch, "compile"):
        return torch.compile(smoothed_ce, dynamic=True)
    return smoothed_ce


# ----------------------------------------------------------------------------- training


def lr_at(step: int, peak: float, warmup: int) -> float:
    """Inverse square root schedule with linear warmup (step counts from 1)."""
    step = max(step, 1)
    return peak * min(step / warmup, math.sqrt(warmup / step))


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(s: dict) -> None:
    torch.set_rng_state(s["torch"])
    np.random.set_state(s["numpy"])
    random.setstate(s["python"])


def save_ckpt(path: Path, **state) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


class Dist:
    """The process group (torchrun's environment), or a single process without one."""

    def __init__(self, cpu: bool) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = torch.cuda.is_available() and not cpu
        self.device = torch.device(f"cuda:{local}" if cuda else "cpu")
        if cuda:
            torch.cuda.set_device(self.device)
        self.backend = ("nccl" if cuda else "gloo") if self.world > 1 else "none"
        if self.world > 1:
            dist.init_process_group(self.backend)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def sum(self, values: list[float]) -> list[float]:
        """Sums a few numbers over all processes."""
        if self.world == 1:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self.device if self.backend == "nccl" else "cpu")
        dist.all_reduce(t)
        return t.tolist()

    def gather(self, obj):
        """[obj of rank 0, obj of rank 1, ...] on every process."""
        if self.world == 1:
            return [obj]
        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def close(self) -> None:
        if self.world > 1:
            dist.destroy_process_group()


def parse_token_counts(spec: str) -> list[int]:
    """ "25M,35M,1.5e6" -> [25_000_000, 35_000_000, 1_500_000]."""
    out = []
    for x in (t.strip() for t in spec.split(",")):
        if not x:
            continue
        mult = {"K": 1e3, "M": 1e6, "G": 1e9}.get(x[-1].upper(), 1)
        out.append(int(float(x[:-1] if mult != 1 else x) * mult))
    return sorted(out)


def token_label(n: int) -> str:
    return f"{n / 1e6:g}M" if n % 100_000 == 0 else str(n)


def train(args) -> dict:
    torch.set_num_threads(args.threads)
    dd = Dist(args.cpu)
    device = dd.device
    run = Path(args.run)
    run.mkdir(parents=True, exist_ok=True)
    if args.pairs:  # a pre-encoded corpus (training/gpu/pack.py): no tokenizer, no sentencepiece
        from training.gpu.pack import load_pack, load_pairs

        tok, vocab_size = None, load_pack(Path(args.pairs))["vocab_size"]
    else:
        tok = Tokenizer(args.spm)
        vocab_size = tok.vocab_size
    over = json.loads(args.override) if args.override else {}
    cfg = make_config(args.config, args.enc_routing, args.dec_routing, vocab_size, **over)
    cache = Path(args.cache) if args.cache else None
    max_len = min(cfg.max_len, args.max_train_len)
    if not dd.main:
        dd.barrier()  # rank 0 encodes the corpus into the cache first
    pairs = load_pairs(Path(args.pairs), max_len) if args.pairs else load_split(Path(args.data), tok, "train", max_len, cache)
    if dd.main:
        dd.barrier()
    if args.limit_pairs:
        pairs = pairs[: args.limit_pairs]
    lengths = np.array([(len(s), len(t) + 1) for s, t, _ in pairs], dtype=np.int64)

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    model = TaskMoETransformer(cfg).to(device)
    # fused Adam (one kernel for all parameters) where this torch has it for the device: 2.4+ on CPUs
    fused = {"fused": True} if int(torch.__version__.split(".")[0]) >= 2 else {}
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-9, **fused)
    state = {"step": 0, "epoch": 0, "batch_in_epoch": 0, "tokens": 0, "train_seconds": 0.0}
    ckpt = run / "ckpt.pt"
    rng_restored = False
    if ckpt.exists():
        ck = torch.load(ckpt, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optim"])
        state = ck["state"]
        rngs = ck["rng"] if isinstance(ck["rng"], list) else [ck["rng"]]
        if len(rngs) == dd.world:
            set_rng_state(rngs[dd.rank])
            rng_restored = True
        if dd.main:
            print(f"resumed {ckpt} at step {state['step']}", file=sys.stderr)
    elif args.init_from:
        p = load_portable(Path(args.init_from))
        if p["config"] != cfg.to_dict():
            raise SystemExit(f"{args.init_from} was trained with another config than --config/--override/routing")
        model.load_state_dict(p["model"])
        state = dict(p["state"])
        if dd.main:
            print(f"started from {args.init_from} at step {state['step']} (fresh optimizer moments)", file=sys.stderr)
    if not rng_restored and dd.world > 1:
        # distinct dropout masks per process (the weights are the same: DDP broadcasts rank 0's)
        torch.manual_seed(args.seed + 1000 * dd.rank + state["step"])
    net = model
    if dd.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    autocast = (
        (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if args.precision == "bf16" else (lambda: nullcontext())
    )
    meta = {
        "config": cfg.to_dict(),
        "args": vars(args),
        "n_pairs": len(pairs),
        "device": str(device),
        "torch": torch.__version__,
        "world_size": dd.world,
        "backend": dd.backend,
    }
    log = None
    if dd.main:
        (run / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
        log = open(run / "log.jsonl", "a")

    def checkpoint():
        rngs = dd.gather(rng_state())
        if dd.main:
            save_ckpt(ckpt, model=model.state_dict(), optim=opt.state_dict(), state=state, rng=rngs, config=cfg.to_dict())

    def snapshot(name: str) -> None:
        if dd.main:
            save_ckpt(run / name, model=model.state_dict(), state=dict(state), config=cfg.to_dict())

    loss_fn = loss_function(args.compile_loss)
    batches = epoch_batches(lengths, args.max_tokens, state["epoch"], args.seed)
    t_start = time.time()
    t_ckpt = time.time()
    win_tok, win_t, win_cpu, win_loss, win_aux, win_n = 0, time.time(), time.process_time(), 0.0, 0.0, 0
    save_at = {int(x) for x in args.save_at.split(",") if x}
    save_at_tokens = [n for n in parse_token_counts(args.save_at_tokens) if n > state["tokens"]]
    stop_tokens = parse_token_counts(args.max_train_tokens)[0] if args.max_train_tokens else 0
    model.train()
    out_of_time = False
    while state["step"] < args.max_steps and not (stop_tokens and state["tokens"] >= stop_tokens) and not out_of_time:
        if state["batch_in_epoch"] + dd.world > len(batches):
            state["epoch"] += 1
            state["batch_in_epoch"] = 0
            batches = epoch_batches(lengths, args.max_tokens, state["epoch"], args.seed)
        t0 = time.time()
        idx = batches[state["batch_in_epoch"] + dd.rank]
        src, tin, tout, task = (x.to(device) for x in collate(pairs, idx))
        step = state["step"] + 1
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.lr, args.warmup)
        with autocast():
            logits, aux = net(src, tin, task)
        loss, nll = loss_fn(logits, tout, args.label_smoothing)
        n_moe = max(model.n_moe_layers(), 1)
        total = loss + cfg.aux_loss_weight * aux.float() / n_moe
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        # One small all-reduce a step: tokens, losses, and the time-based decisions (any process's clock decides
        # for all, so the collective calls of checkpoint() stay matched and every process stops at the same step).
        now = time.time()
        ntok, nll_sum, aux_sum, due, late = dd.sum(
            [
                float((src != PAD).sum() + (tout != PAD).sum()),
                nll.item() / dd.world,
                float(aux.detach()) / n_moe / dd.world,
                float(bool(args.ckpt_minutes and now - t_ckpt > args.ckpt_minutes * 60)),
                float(bool(args.max_minutes and now - t_start > args.max_minutes * 60)),
            ]
        )
        ntok, out_of_time = int(ntok), late > 0
        state["step"] = step
        state["batch_in_epoch"] += dd.world
        state["tokens"] += ntok
        state["train_seconds"] += time.time() - t0
        win_tok += ntok
        win_loss += nll_sum
        win_aux += aux_sum
        win_n += 1
        if dd.main and (step % args.log_every == 0 or step == args.max_steps):
            dt = time.time() - win_t
            dcpu = time.process_time() - win_cpu
            rec = {
                "step": step,
                "epoch": state["epoch"],
                "nll": round(win_loss / win_n, 4),
                "aux": round(win_aux / win_n, 4),
                "lr": round(lr_at(step, args.lr, args.warmup), 7),
                "tok_per_s": round(win_tok / dt, 1),
                # CPU seconds of this process; tokens / (cpu_s / threads) estimates the uncontended rate
                "tok_per_cpu_s": round(win_tok / dd.world / max(dcpu, 1e-9), 1),
                "tokens": state["tokens"],
                "train_min": round(state["train_seconds"] / 60, 2),
                "world": dd.world,
                "precision": args.precision,
                "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()
            win_tok, win_t, win_cpu, win_loss, win_aux, win_n = 0, time.time(), time.process_time(), 0.0, 0.0, 0
        if due > 0 or (args.ckpt_every and step % args.ckpt_every == 0):
            checkpoint()
            t_ckpt = time.time()
        if step in save_at:
            # A weights-only snapshot: the inverse-sqrt schedule does not depend on max_steps, so every variant's
            # snapshot at the same step is an equal-budget point even if a later run is cut short.
            snapshot(f"step-{step}.pt")
        while save_at_tokens and state["tokens"] >= save_at_tokens[0]:
            # An equal-budget point in tokens: the first step at which the run has seen that many.
            snapshot(f"tokens-{token_label(save_at_tokens.pop(0))}.pt")
    checkpoint()
    if dd.main and (state["step"] >= args.max_steps or (stop_tokens and state["tokens"] >= stop_tokens)):
        (run / "DONE").write_text(json.dumps(state) + "\n")
    dd.close()
    return {"model": model, "state": state, "config": cfg}


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="train one taskmoe routing variant")
    ap.add_argument("--config", default="small", choices=sorted(PRESETS))
    ap.add_argument("--override", default="", help='JSON dict of ModelConfig overrides, e.g. {"dropout":0}')
    ap.add_argument("--enc-routing", default="task", choices=["token", "task", "dense"])
    ap.add_argument("--dec-routing", default="task", choices=["token", "task", "dense"])
    ap.add_argument("--data", default="training/work/data")
    ap.add_argument("--spm", default="training/work/spm/spm.model")
    # --run-dir: torchrun's own parser rejects "--run" as an ambiguous prefix of its --run-path
    ap.add_argument("--run-dir", "--run", dest="run", required=True, help="run folder (checkpoints, logs)")
    ap.add_argument("--cache", default="training/work/cache")
    ap.add_argument("--max-steps", type=int, default=3000)
    ap.add_argument("--max-minutes", type=float, default=0.0, help="stop (and checkpoint) after this many minutes")
    ap.add_argument("--max-train-tokens", default="", help="stop once this many src+tgt tokens are seen, e.g. 25M")
    ap.add_argument("--save-at-tokens", default="", help="comma-separated token counts (e.g. 25M) at which to keep tokens-N.pt")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="bf16: autocast forward/backward")
    ap.add_argument("--compile-loss", action="store_true", help="torch.compile the loss (torch 2; needs a C++ compiler)")
    ap.add_argument("--max-tokens", type=int, default=4096, help="padded src+tgt tokens per batch")
    ap.add_argument("--max-train-len", type=int, default=128)
    ap.add_argument("--limit-pairs", type=int, default=0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--ckpt-every", type=int, default=0)
    ap.add_argument("--save-at", default="", help="comma-separated steps at which to keep weights-only step-N.pt")
    ap.add_argument("--pairs", default="", help="a pack folder (training/gpu/pack.py) to train on instead of --data/--spm")
    ap.add_argument("--cpu", action="store_true")
    ap.add_argument(
        "--init-from",
        default="",
        help="portable checkpoint or export folder (models/<variant>; portable.py) to start from when --run has none",
    )
    return ap


def main(argv=None) -> None:
    train(parser().parse_args(argv))


if __name__ == "__main__":
    main()

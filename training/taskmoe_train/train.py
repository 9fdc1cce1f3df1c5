"""Trains one routing variant with periodic checkpoints and exact resume.

  /usr/bin/python3 -m training.taskmoe_train.train --config small --enc-routing task --dec-routing task \
      --data training/work/data --spm training/work/spm/spm.model --run training/work/runs/task_task \
      --max-steps 3000

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
from pathlib import Path

import numpy as np
import torch

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
        return torch.load(cp)
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
    """Label-smoothed cross entropy averaged over non-pad targets; also returns the plain NLL."""
    lp = torch.log_softmax(logits.float(), dim=-1)
    mask = target != PAD
    nll = -lp.gather(-1, target[..., None])[..., 0]
    smooth = -lp.mean(-1)
    loss = ((1 - eps) * nll + eps * smooth)[mask].mean()
    return loss, nll[mask].mean()


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


def train(args) -> dict:
    torch.set_num_threads(args.threads)
    run = Path(args.run)
    run.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(args.spm)
    over = json.loads(args.override) if args.override else {}
    cfg = make_config(args.config, args.enc_routing, args.dec_routing, tok.vocab_size, **over)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    pairs = load_split(
        Path(args.data), tok, "train", min(cfg.max_len, args.max_train_len), Path(args.cache) if args.cache else None
    )
    if args.limit_pairs:
        pairs = pairs[: args.limit_pairs]
    lengths = np.array([(len(s), len(t) + 1) for s, t, _ in pairs], dtype=np.int64)

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    model = TaskMoETransformer(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-9)
    state = {"step": 0, "epoch": 0, "batch_in_epoch": 0, "tokens": 0, "train_seconds": 0.0}
    ckpt = run / "ckpt.pt"
    if ckpt.exists():
        ck = torch.load(ckpt, map_location=device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optim"])
        state = ck["state"]
        set_rng_state(ck["rng"])
        print(f"resumed {ckpt} at step {state['step']}", file=sys.stderr)
    elif args.init_from:
        p = load_portable(Path(args.init_from))
        if p["config"] != cfg.to_dict():
            raise SystemExit(f"{args.init_from} was trained with another config than --config/--override/routing")
        model.load_state_dict(p["model"])
        state = dict(p["state"])
        print(f"started from {args.init_from} at step {state['step']} (fresh optimizer moments)", file=sys.stderr)
    meta = {"config": cfg.to_dict(), "args": vars(args), "n_pairs": len(pairs), "device": str(device), "torch": torch.__version__}
    (run / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    log = open(run / "log.jsonl", "a")

    def checkpoint():
        save_ckpt(ckpt, model=model.state_dict(), optim=opt.state_dict(), state=state, rng=rng_state(), config=cfg.to_dict())

    batches = epoch_batches(lengths, args.max_tokens, state["epoch"], args.seed)
    t_start = time.time()
    t_ckpt = time.time()
    win_tok, win_t, win_cpu, win_loss, win_aux, win_n = 0, time.time(), time.process_time(), 0.0, 0.0, 0
    save_at = {int(x) for x in args.save_at.split(",") if x}
    model.train()
    while state["step"] < args.max_steps:
        if args.max_minutes and time.time() - t_start > args.max_minutes * 60:
            break
        if state["batch_in_epoch"] >= len(batches):
            state["epoch"] += 1
            state["batch_in_epoch"] = 0
            batches = epoch_batches(lengths, args.max_tokens, state["epoch"], args.seed)
        t0 = time.time()
        idx = batches[state["batch_in_epoch"]]
        src, tin, tout, task = (x.to(device) for x in collate(pairs, idx))
        step = state["step"] + 1
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.lr, args.warmup)
        logits, aux = model(src, tin, task)
        loss, nll = smoothed_ce(logits, tout, args.label_smoothing)
        n_moe = max(model.n_moe_layers(), 1)
        total = loss + cfg.aux_loss_weight * aux / n_moe
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        ntok = int((src != PAD).sum() + (tout != PAD).sum())
        state["step"] = step
        state["batch_in_epoch"] += 1
        state["tokens"] += ntok
        state["train_seconds"] += time.time() - t0
        win_tok += ntok
        win_loss += nll.item()
        win_aux += float(aux) / n_moe
        win_n += 1
        if step % args.log_every == 0 or step == args.max_steps:
            dt = time.time() - win_t
            dcpu = time.process_time() - win_cpu
            rec = {
                "step": step,
                "epoch": state["epoch"],
                "nll": round(win_loss / win_n, 4),
                "aux": round(win_aux / win_n, 4),
                "lr": round(lr_at(step, args.lr, args.warmup), 7),
                "tok_per_s": round(win_tok / dt, 1),
                # CPU seconds over all threads; tokens / (cpu_s / threads) estimates the uncontended rate
                "tok_per_cpu_s": round(win_tok / max(dcpu, 1e-9), 1),
                "tokens": state["tokens"],
                "train_min": round(state["train_seconds"] / 60, 2),
                "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()
            win_tok, win_t, win_cpu, win_loss, win_aux, win_n = 0, time.time(), time.process_time(), 0.0, 0.0, 0
        if args.ckpt_minutes and time.time() - t_ckpt > args.ckpt_minutes * 60:
            checkpoint()
            t_ckpt = time.time()
        if args.ckpt_every and step % args.ckpt_every == 0:
            checkpoint()
        if step in save_at:
            # A weights-only snapshot: the inverse-sqrt schedule does not depend on max_steps, so every variant's
            # snapshot at the same step is an equal-budget point even if a later run is cut short.
            save_ckpt(run / f"step-{step}.pt", model=model.state_dict(), state=state, config=cfg.to_dict())
    checkpoint()
    if state["step"] >= args.max_steps:
        (run / "DONE").write_text(json.dumps(state) + "\n")
    return {"model": model, "state": state, "config": cfg}


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="train one taskmoe routing variant")
    ap.add_argument("--config", default="small", choices=sorted(PRESETS))
    ap.add_argument("--override", default="", help='JSON dict of ModelConfig overrides, e.g. {"dropout":0}')
    ap.add_argument("--enc-routing", default="task", choices=["token", "task", "dense"])
    ap.add_argument("--dec-routing", default="task", choices=["token", "task", "dense"])
    ap.add_argument("--data", default="training/work/data")
    ap.add_argument("--spm", default="training/work/spm/spm.model")
    ap.add_argument("--run", required=True)
    ap.add_argument("--cache", default="training/work/cache")
    ap.add_argument("--max-steps", type=int, default=3000)
    ap.add_argument("--max-minutes", type=float, default=0.0, help="stop (and checkpoint) after this many minutes")
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

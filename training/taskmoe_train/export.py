"""Exports a trained variant to models/<variant>/ for the TypeScript engine.

Files: config.json (model config, ids, tensor index), spm.model, weights-NNN.safetensors (f16,
shards < 50 MB), goldens.json + goldens.safetensors (PyTorch reference outputs computed in f32 from
the f16-rounded weights, one sentence at a time).

  /usr/bin/python3 -m training.taskmoe_train.export --run training/work/runs/task_task --out models/task_task
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .model import LANGS, ModelConfig, TaskMoETransformer, param_counts
from .tokenizer import BOS, EOS, PAD, UNK, Tokenizer

SHARD_BYTES = 45 * 1024 * 1024
GOLDEN_STEPS = 64


def load_checkpoint(run: Path, name: str = "ckpt.pt") -> tuple[TaskMoETransformer, dict]:
    ck = torch.load(run / name, map_location="cpu", weights_only=False)
    cfg = ModelConfig(**ck["config"])
    model = TaskMoETransformer(cfg)
    model.load_state_dict(ck["model"])
    return model.eval(), ck["state"]


def round_f16(model: TaskMoETransformer) -> None:
    """Rounds every parameter to f16 and back (what the engine will load)."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())


def load_export(d: Path) -> tuple[TaskMoETransformer, Tokenizer, dict]:
    """Reloads an exported variant from its safetensors shards (f16 -> f32)."""
    conf = json.loads((d / "config.json").read_text())
    keys = {k for k in ModelConfig.__dataclass_fields__}
    cfg = ModelConfig(**{k: v for k, v in conf.items() if k in keys})
    model = TaskMoETransformer(cfg)
    sd = {}
    for shard in conf["shards"]:
        sd.update({k: v.float() for k, v in load_file(str(d / shard)).items()})
    model.load_state_dict(sd)
    return model.eval(), Tokenizer(d / "spm.model"), conf


def golden_inputs(data: Path, per_lang: int = 2, max_words: int = 12) -> dict[str, list[str]]:
    out = {}
    for lang in LANGS:
        if not (data / lang).exists():
            continue
        lines = (data / lang / "test.lohelp.src").read_text(encoding="utf-8").splitlines()
        pick = [s for s in lines if 3 <= len(s.split()) <= max_words][:per_lang]
        out[lang] = pick
    return out


@torch.no_grad()
def make_goldens(model: TaskMoETransformer, tok: Tokenizer, inputs: dict[str, list[str]]):
    meta, arrays = {"max_steps": GOLDEN_STEPS, "cases": []}, {}
    for task, lang in enumerate(LANGS):
        for i, text in enumerate(inputs.get(lang, [])):
            ids = tok.source_ids(text, lang)
            src = torch.tensor([ids])
            t = torch.tensor([task])
            enc, _ = model.encode(src, t)  # [1, S, d]
            logits, _ = model.decode(torch.tensor([[BOS]]), enc, src != PAD, t)  # [1, 1, V]
            out = model.greedy(src, t, max_steps=GOLDEN_STEPS)[0]
            name = f"{lang}.{i}"
            arrays[f"{name}.encoder_out"] = enc[0].contiguous()
            arrays[f"{name}.logits0"] = logits[0, 0].contiguous()
            meta["cases"].append(
                {
                    "name": name,
                    "lang": lang,
                    "task_id": task,
                    "text": text,
                    "src_ids": ids,
                    "greedy_ids": out,
                    "greedy_text": tok.decode(out),
                    "argmax0": int(logits[0, 0].argmax()),
                }
            )
    return meta, arrays


def export(model: TaskMoETransformer, tok: Tokenizer, out: Path, variant: str, data: Path | None, info: dict) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("weights-*.safetensors"):
        old.unlink()
    round_f16(model)
    cfg = model.cfg
    sd = {k: v.detach().half().contiguous() for k, v in model.state_dict().items()}
    shards, cur, size = [], {}, 0
    for k, v in sd.items():
        b = v.numel() * 2
        if cur and size + b > SHARD_BYTES:
            shards.append(cur)
            cur, size = {}, 0
        cur[k] = v
        size += b
    shards.append(cur)
    tensors, names = {}, []
    for n, sh in enumerate(shards):
        fn = f"weights-{n:03d}.safetensors"
        save_file(sh, str(out / fn), metadata={"format": "pt", "variant": variant})
        names.append(fn)
        for k, v in sh.items():
            tensors[k] = {"shape": list(v.shape), "dtype": "F16", "shard": fn}
    shutil.copyfile(tok.path, out / "spm.model")
    conf = {
        "variant": variant,
        "d_model": cfg.d_model,
        "n_heads": cfg.n_heads,
        "d_ff": cfg.d_ff,
        "enc_layers": cfg.enc_layers,
        "dec_layers": cfg.dec_layers,
        "n_experts": cfg.n_experts,
        "top_k": cfg.top_k,
        "enc_routing": cfg.enc_routing,
        "dec_routing": cfg.dec_routing,
        "moe_layers": {"encoder": cfg.moe_layers("encoder"), "decoder": cfg.moe_layers("decoder")},
        "vocab_size": cfg.vocab_size,
        "max_len": cfg.max_len,
        "n_tasks": cfg.n_tasks,
        "languages": list(LANGS),
        "lang_tag_ids": tok.lang_tag_ids,
        "pad_id": PAD,
        "bos_id": BOS,
        "eos_id": EOS,
        "unk_id": UNK,
        "ln_eps": cfg.ln_eps,
        "tokenizer": "spm.model",
        "params": param_counts(model),
        "training": info,
        "shards": names,
        "tensors": tensors,
        # training-only settings, kept so the config reloads into ModelConfig
        "dropout": cfg.dropout,
        "capacity_factor": cfg.capacity_factor,
        "aux_loss_weight": cfg.aux_loss_weight,
    }
    (out / "config.json").write_text(json.dumps(conf, indent=1, ensure_ascii=False) + "\n")
    if data is not None:
        model32, tok2, _ = load_export(out)  # goldens from exactly what was written
        meta, arrays = make_goldens(model32, tok2, golden_inputs(data))
        meta["variant"] = variant
        (out / "goldens.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
        save_file(arrays, str(out / "goldens.safetensors"))
    return conf


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--spm", type=Path, default=Path("training/work/spm/spm.model"))
    ap.add_argument("--data", type=Path, default=Path("training/work/data"))
    ap.add_argument("--variant", default="")
    ap.add_argument("--ckpt", default="ckpt.pt", help="file in --run: ckpt.pt or a step-N.pt snapshot")
    a = ap.parse_args(argv)
    model, state = load_checkpoint(a.run, a.ckpt)
    variant = a.variant or f"{model.cfg.enc_routing}_{model.cfg.dec_routing}"
    meta = json.loads((a.run / "meta.json").read_text()) if (a.run / "meta.json").exists() else {}
    args = meta.get("args", {})
    info = {
        "steps": state["step"],
        "tokens_seen": state["tokens"],
        "train_minutes": round(state["train_seconds"] / 60, 1),
        "epochs": state["epoch"] + (state["batch_in_epoch"] > 0) * 0,
        "max_steps": args.get("max_steps"),
        "complete": (a.run / "DONE").exists() and a.ckpt == "ckpt.pt",
        "preset": args.get("config"),
        "torch": torch.__version__,
        "started_from": args.get("init_from") or None,
        # step, epoch and batch position: `train.py --init-from <this folder>` continues the run from here
        "resume": {k: state[k] for k in ("step", "epoch", "batch_in_epoch", "tokens", "train_seconds")},
    }
    conf = export(model, Tokenizer(a.spm), a.out, variant, a.data, info)
    print(json.dumps({k: conf[k] for k in ("variant", "params", "training", "shards")}, indent=1))


if __name__ == "__main__":
    main()

"""Starting points small enough to commit: f16 weights plus the step/data-order state, no optimizer moments.

A full `ckpt.pt` holds the f32 weights and Adam's two moments (about 290 MB for a small MoE variant), too big to commit
every session. Two smaller forms carry a run on:

- an export folder (`models/<variant>/`, written by export.py): its f16 shards are the weights and
  `config.json`'s `training.resume` holds the step, epoch and batch position. The shipped model is its own checkpoint,
  so nothing else needs committing;
- a portable checkpoint, `python -m training.taskmoe_train.portable --run R --out F` (about 48 MB): the same content
  in one torch file.

`train.py --run NEW --init-from F_OR_FOLDER` starts from those weights at the same step, epoch and batch position
(same data order, same learning-rate schedule) with fresh Adam moments (beta2 = 0.98 re-estimates them within ~100
steps): a near-exact resume, not a bit-exact one (that is `ckpt.pt`, which resumes exactly).
"""

import argparse
from pathlib import Path

import torch


def save_portable(run: Path, out: Path, ckpt: str = "ckpt.pt") -> dict:
    """From run/ckpt (the full checkpoint, or a weights-only step-N.pt snapshot, which has the state too)."""
    ck = torch.load(run / ckpt, map_location="cpu", weights_only=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    portable = {
        "model": {k: v.half() if v.is_floating_point() else v for k, v in ck["model"].items()},
        "state": ck["state"],
        "config": ck["config"],
    }
    torch.save(portable, out)
    return ck["state"]


def load_export_state(d: Path) -> dict:
    """An export folder as a starting point: {model (f32 state dict), state, config}."""
    from .export import load_export

    model, _, conf = load_export(d)
    state = conf.get("training", {}).get("resume")
    if not state:
        raise SystemExit(f"{d}/config.json has no training.resume (exported before resumable exports)")
    return {"model": model.state_dict(), "state": dict(state), "config": model.cfg.to_dict()}


def load_portable(path: Path) -> dict:
    if path.is_dir():
        return load_export_state(path)
    p = torch.load(path, map_location="cpu", weights_only=False)
    p["model"] = {k: v.float() if v.is_floating_point() else v for k, v in p["model"].items()}
    return p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--run", required=True, help="run folder holding ckpt.pt")
    ap.add_argument("--ckpt", default="ckpt.pt", help="ckpt.pt or a step-N.pt snapshot in --run")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    state = save_portable(Path(a.run), Path(a.out), a.ckpt)
    print(f"wrote {a.out} at step {state['step']}")


if __name__ == "__main__":
    main()

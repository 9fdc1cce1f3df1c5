"""Joins what a GPU run brought back (run.py's parts) into one portable checkpoint that train.py --init-from takes.

  training/.venv/bin/python -m training.gpu.unpack --from FILES_AT --out training/work/gpu/task_task.pt

FILES_AT is the folder where the device tool put $OUT's files (its reply's files_at). Every part and the whole are
checked against manifest.json's sha256, the file is written, then loaded back with portable.load_portable into the
model its config describes (strict); --expect-config PRESET,ENC,DEC (e.g. small,task,task) also checks that the
config is what train.py builds for those arguments with this corpus's vocabulary (--vocab-size, default the
manifest's). log.jsonl is copied beside the output as <out>.log.jsonl.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from .pack import join_parts


def unpack(src: Path, out: Path) -> dict:
    import torch

    from training.taskmoe_train.model import ModelConfig, TaskMoETransformer
    from training.taskmoe_train.portable import load_portable

    manifest = json.loads((src / "manifest.json").read_text())
    data = join_parts(src, manifest["weights"])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    p = load_portable(out)
    if p["config"] != manifest["config"] or p["state"] != manifest["state"]:
        raise SystemExit(f"{out}: config or state differs from manifest.json")
    model = TaskMoETransformer(ModelConfig(**p["config"]))
    model.load_state_dict(p["model"])  # strict: every tensor present with its shape
    bad = [k for k, v in p["model"].items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise SystemExit(f"{out}: non-finite weights in {bad[:5]}")
    if (src / "log.jsonl").exists():
        shutil.copyfile(src / "log.jsonl", out.with_suffix(".log.jsonl"))
    return {"out": str(out), "bytes": len(data), **{k: manifest.get(k) for k in ("state", "tokens_per_s", "device", "error")}}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--from", dest="src", type=Path, required=True, help="folder holding manifest.json and the parts")
    ap.add_argument("--out", type=Path, required=True, help="the portable checkpoint to write (.pt)")
    ap.add_argument("--expect-config", default="", help="PRESET,ENC,DEC the config must equal (train.py's make_config)")
    ap.add_argument("--override", default="", help="JSON ModelConfig overrides for --expect-config")
    ap.add_argument("--vocab-size", type=int, default=0)
    a = ap.parse_args(argv)
    res = unpack(a.src, a.out)
    if a.expect_config:
        from training.taskmoe_train.train import make_config

        preset, enc, dec = a.expect_config.split(",")
        conf = json.loads((a.src / "manifest.json").read_text())["config"]
        over = json.loads(a.override) if a.override else {}
        want = make_config(preset, enc, dec, a.vocab_size or conf["vocab_size"], **over).to_dict()
        if conf != want:
            diff = {k: (conf.get(k), want.get(k)) for k in set(conf) | set(want) if conf.get(k) != want.get(k)}
            raise SystemExit(f"{a.out}: config differs from {a.expect_config}: {diff}")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

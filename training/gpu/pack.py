"""Packs the encoded training corpus (and optionally a starting checkpoint) for a lent GPU machine.

The GPU machine gets the working tree (at most 64 MiB with the carried paths) and may lack sentencepiece, so
the corpus travels already encoded: load_split's output (the pairs train.py trains on) as one xz-compressed
uint16 stream (the vocabulary is below 65,536), plus `pack.json` (counts, model config, checksums):

  training/.venv/bin/python -m training.gpu.pack            # -> training/gpu/pack/ (ignored by git)

`pairs.xz` holds, as little-endian uint16: the n source lengths, the n target lengths, the n task ids, then every
pair's source ids followed by its target ids (no <s>/</s> added to the target: collate adds them). The 856k
pairs of the 16k-piece corpus (28.5M tokens, 54 MiB as uint16) pack into about 15 MiB.

`--init-from F` adds a starting point (a portable checkpoint or an export folder, stored as a f16 portable
checkpoint `init.pt`, about 46 MiB for the small config): with the corpus that exceeds the default limit.

The pack must stay under --limit-mib (56 MiB by default, leaving 8 MiB of the 64 MiB for the working tree's
own files) and, with the files that travel anyway (git's tracked and untracked-not-ignored files), under the
device tool's 64 MiB; either check failing is an error (exit status 2 and 3; the pack is removed on the
first, kept on the second). `--check` measures an existing pack (checksums too) and the tree without repacking.

The weights come back the other way (run.py -> unpack.py) as parts of at most PART_BYTES each; write_parts and
join_parts live here so that both ends share them.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import lzma
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

MIB = 1024 * 1024
PACK_LIMIT_MIB = 56.0
TREE_LIMIT = 64 * MIB  # the device tool's limit on what travels (tracked + untracked-not-ignored + carried)
PART_BYTES = 15 * MIB  # returned files: at most 8, each at most 16 MiB
FORMAT = 1


class PackTooLarge(ValueError):
    pass


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def file_sha256(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------- the corpus


def encode_pairs(pairs) -> bytes:
    """[(src int array, tgt int array, task)] -> the uncompressed pairs.xz body (uint16 little-endian)."""
    n = len(pairs)
    head = np.empty(3 * n, dtype="<u2")
    head[:n] = [len(s) for s, _, _ in pairs]
    head[n : 2 * n] = [len(t) for _, t, _ in pairs]
    head[2 * n :] = [k for _, _, k in pairs]
    parts = [a for s, t, _ in pairs for a in (s, t)]
    toks = np.concatenate(parts) if n else np.zeros(0, dtype=np.int64)
    if toks.size and (toks.min() < 0 or toks.max() > 0xFFFF):
        raise ValueError("token ids outside uint16")
    return head.tobytes() + toks.astype("<u2").tobytes()


def decode_pairs(body: bytes, n: int) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """The inverse of encode_pairs: int32 arrays (views of one buffer), python int tasks."""
    a = np.frombuffer(body, dtype="<u2")
    sl, tl, task = a[:n].astype(np.int64), a[n : 2 * n].astype(np.int64), a[2 * n : 3 * n].tolist()
    toks = a[3 * n :].astype(np.int32)
    if toks.size != int(sl.sum() + tl.sum()):
        raise ValueError(f"pairs body holds {toks.size} tokens, its lengths say {int(sl.sum() + tl.sum())}")
    ends = np.cumsum(sl + tl)
    starts = ends - sl - tl
    return [(toks[a0 : a0 + ls], toks[a0 + ls : e], k) for a0, ls, e, k in zip(starts.tolist(), sl.tolist(), ends.tolist(), task)]


def load_pack(pack: Path) -> dict:
    """pack.json as a dict, checksums verified."""
    meta = json.loads((pack / "pack.json").read_text())
    if meta.get("format") != FORMAT:
        raise SystemExit(f"{pack}/pack.json: format {meta.get('format')}, expected {FORMAT}")
    for name, f in meta["files"].items():
        if file_sha256(pack / name) != f["sha256"]:
            raise SystemExit(f"{pack}/{name}: sha256 differs from pack.json (a partial copy?)")
    return meta


def load_pairs(pack: Path, max_len: int | None = None) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """The packed pairs, as load_split returned them; with max_len, filtered as load_split filters."""
    meta = load_pack(pack)
    body = lzma.decompress((pack / "pairs.xz").read_bytes())
    if sha256(body) != meta["body_sha256"]:
        raise SystemExit(f"{pack}/pairs.xz decodes to other bytes than were packed")
    pairs = decode_pairs(body, meta["n_pairs"])
    if max_len is not None and max_len != meta["max_len"]:
        if max_len > meta["max_len"]:
            raise SystemExit(f"{pack} holds pairs of at most {meta['max_len']} tokens; --max-train-len asks for {max_len}")
        pairs = [p for p in pairs if len(p[0]) <= max_len and len(p[1]) + 1 <= max_len]
    return pairs


# ----------------------------------------------------------------------------- sizes


def tree_bytes(repo: Path) -> int:
    """Bytes of what the device tool sends besides the carried paths: tracked files and untracked files that git
    does not ignore, as they are on disk now (links count as links)."""
    out = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout
    total = 0
    for name in set(out.decode("utf-8", "surrogateescape").split("\0")):
        if not name:
            continue
        try:
            total += os.lstat(repo / name).st_size
        except FileNotFoundError:
            pass
    return total


def dir_bytes(d: Path) -> int:
    return sum(p.lstat().st_size for p in d.rglob("*") if p.is_file())


def check_pack_size(d: Path, limit_mib: float) -> int:
    size = dir_bytes(d)
    if size > limit_mib * MIB:
        raise PackTooLarge(f"{d}: {size / MIB:.1f} MiB is over the limit of {limit_mib:g} MiB")
    return size


# ----------------------------------------------------------------------------- weights back in parts


def write_parts(data: bytes, out: Path, stem: str, part_bytes: int = PART_BYTES) -> dict:
    """Writes data as out/<stem>.000, .001, ... (each at most part_bytes) -> manifest entry with checksums."""
    out.mkdir(parents=True, exist_ok=True)
    parts = []
    for i, a0 in enumerate(range(0, max(len(data), 1), part_bytes)):
        chunk = data[a0 : a0 + part_bytes]
        name = f"{stem}.{i:03d}"
        (out / name).write_bytes(chunk)
        parts.append({"name": name, "bytes": len(chunk), "sha256": sha256(chunk)})
    return {"stem": stem, "bytes": len(data), "sha256": sha256(data), "parts": parts}


def join_parts(folder: Path, entry: dict) -> bytes:
    """The inverse of write_parts; every part and the whole checked against the manifest entry."""
    chunks = []
    for p in entry["parts"]:
        b = (folder / p["name"]).read_bytes()
        if len(b) != p["bytes"] or sha256(b) != p["sha256"]:
            raise SystemExit(f"{folder}/{p['name']}: size or sha256 differs from the manifest (incomplete transfer?)")
        chunks.append(b)
    data = b"".join(chunks)
    if sha256(data) != entry["sha256"]:
        raise SystemExit(f"{entry['stem']}: the joined parts differ from what was written")
    return data


def portable_bytes(model_state: dict, state: dict, config: dict) -> bytes:
    """A portable checkpoint (portable.py's format: f16 weights, the step/data state, the config) as bytes."""
    import torch

    buf = io.BytesIO()
    torch.save(
        {
            "model": {k: v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu() for k, v in model_state.items()},
            "state": dict(state),
            "config": dict(config),
        },
        buf,
    )
    return buf.getvalue()


# ----------------------------------------------------------------------------- packing


def make_pack(
    pairs,
    out: Path,
    config: dict,
    train_args: dict,
    info: dict,
    init: dict | None = None,
    limit_mib: float = PACK_LIMIT_MIB,
    preset: int = 6,
) -> dict:
    """Writes out/{pairs.xz, pack.json[, init.pt]}; raises PackTooLarge (and removes out) past limit_mib."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    body = encode_pairs(pairs)
    (out / "pairs.xz").write_bytes(lzma.compress(body, preset=preset))
    files = ["pairs.xz"]
    if init is not None:
        if init["config"] != config:
            shutil.rmtree(out)
            raise SystemExit("the starting checkpoint's config differs from the pack's (--config/--override/routing)")
        (out / "init.pt").write_bytes(portable_bytes(init["model"], init["state"], init["config"]))
        files.append("init.pt")
    meta = {
        "format": FORMAT,
        "n_pairs": len(pairs),
        "n_tokens": int(sum(len(s) + len(t) for s, t, _ in pairs)),
        "body_sha256": sha256(body),
        "vocab_size": config["vocab_size"],
        "config": config,
        "train_args": train_args,
        **info,
        "files": {f: {"bytes": (out / f).stat().st_size, "sha256": file_sha256(out / f)} for f in files},
    }
    (out / "pack.json").write_text(json.dumps(meta, indent=1) + "\n")
    try:
        meta["pack_bytes"] = check_pack_size(out, limit_mib)
    except PackTooLarge:
        shutil.rmtree(out)
        raise
    return meta


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="training/work/data")
    ap.add_argument("--spm", default="training/work/spm/spm.model")
    ap.add_argument("--cache", default="training/work/cache", help="load_split's cache ('' for none)")
    ap.add_argument("--config", default="small")
    ap.add_argument("--override", default="", help="JSON ModelConfig overrides, as train.py takes them")
    ap.add_argument("--enc-routing", default="task", choices=["token", "task", "dense"])
    ap.add_argument("--dec-routing", default="task", choices=["token", "task", "dense"])
    ap.add_argument("--max-train-len", type=int, default=128)
    ap.add_argument("--init-from", default="", help="portable checkpoint or export folder to start the GPU run from")
    ap.add_argument("--out", default="training/gpu/pack")
    ap.add_argument("--limit-mib", type=float, default=PACK_LIMIT_MIB)
    ap.add_argument("--xz-preset", type=int, default=6)
    ap.add_argument("--no-tree-check", action="store_true", help="skip the check of tree + pack against 64 MiB")
    ap.add_argument(
        "--check", action="store_true", help="only measure: the existing pack (verified) and the tree, against the limits"
    )
    a = ap.parse_args(argv)
    if a.check:
        meta = load_pack(Path(a.out))
        size = check_pack_size(Path(a.out), a.limit_mib)
        print(f"pack: {a.out}: {meta['n_pairs']} pairs, {meta['n_tokens']} tokens, {size / MIB:.2f} MiB, checksums good")
        check_tree(size)
        return

    from training.taskmoe_train.portable import load_portable
    from training.taskmoe_train.tokenizer import Tokenizer
    from training.taskmoe_train.train import load_split, make_config

    tok = Tokenizer(a.spm)
    over = json.loads(a.override) if a.override else {}
    cfg = make_config(a.config, a.enc_routing, a.dec_routing, tok.vocab_size, **over)
    max_len = min(cfg.max_len, a.max_train_len)
    pairs = load_split(Path(a.data), tok, "train", max_len, Path(a.cache) if a.cache else None)
    init = load_portable(Path(a.init_from)) if a.init_from else None
    train_args = {
        "config": a.config,
        "override": a.override,
        "enc_routing": a.enc_routing,
        "dec_routing": a.dec_routing,
        "max_train_len": a.max_train_len,
    }
    info = {"max_len": max_len, "spm_sha256": file_sha256(Path(a.spm)), "data": str(a.data), "init_from": a.init_from or None}
    try:
        meta = make_pack(pairs, Path(a.out), cfg.to_dict(), train_args, info, init, a.limit_mib, a.xz_preset)
    except PackTooLarge as e:
        print(f"pack: {e} (removed)", file=sys.stderr)
        raise SystemExit(2) from None
    print(
        f"pack: {a.out}: {meta['n_pairs']} pairs, {meta['n_tokens']} tokens, "
        f"{meta['pack_bytes'] / MIB:.2f} MiB (limit {a.limit_mib:g} MiB)"
    )
    if not a.no_tree_check:
        check_tree(meta["pack_bytes"])


def check_tree(pack_bytes: int) -> None:
    """Exit 3 if the working tree (as it is on disk now) plus the pack is over the device tool's 64 MiB."""
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True).stdout.strip()
    tree = tree_bytes(Path(top))
    total = tree + pack_bytes
    print(f"pack: the working tree sends {tree / MIB:.1f} MiB; with the pack {total / MIB:.1f} MiB (device limit 64 MiB)")
    if total > TREE_LIMIT:
        print(
            "pack: the device tool would refuse this call (the working tree is larger than 64 MiB): tracked files "
            "count in full; see training/README.md, 'GPU (lent machine)'",
            file=sys.stderr,
        )
        raise SystemExit(3)


if __name__ == "__main__":
    main()

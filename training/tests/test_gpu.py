"""training/gpu/: the pack round-trips load_split exactly, size limits fail loudly, the GPU entry point runs its
whole path on the CPU (tiny config, bf16 autocast, no sentencepiece), and the weights come back in parts of at most
16 MiB that reassemble into a checkpoint train.py --init-from continues."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from training.gpu import pack as pk
from training.gpu.run import fast_collate
from training.gpu.unpack import unpack
from training.taskmoe_train.model import TaskMoETransformer
from training.taskmoe_train.portable import load_portable
from training.taskmoe_train.tokenizer import Tokenizer, train_spm
from training.taskmoe_train.train import collate, load_split, make_config, parser, train

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "training" / "fixtures"


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory) -> Path:
    return train_spm(FIXTURES, tmp_path_factory.mktemp("spm") / "spm", vocab_size=1000, per_lang=1000, hard_vocab_limit=False)


@pytest.fixture(scope="module")
def packed(spm_model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pack") / "pack"
    pk.main(
        [
            "--data",
            str(FIXTURES),
            "--spm",
            str(spm_model),
            "--cache",
            "",
            "--config",
            "tiny",
            "--out",
            str(out),
            "--no-tree-check",
        ]
    )
    return out


def same_pairs(a, b) -> bool:
    return len(a) == len(b) and all(
        x[0].dtype == y[0].dtype == np.int32
        and x[1].dtype == y[1].dtype == np.int32
        and np.array_equal(x[0], y[0])
        and np.array_equal(x[1], y[1])
        and x[2] == y[2]
        and type(x[2]) is type(y[2])
        for x, y in zip(a, b)
    )


def test_gpu_pack_round_trips_load_split(spm_model, packed):
    tok = Tokenizer(spm_model)
    meta = json.loads((packed / "pack.json").read_text())
    assert meta["max_len"] == 64 and meta["vocab_size"] == tok.vocab_size and set(meta["files"]) == {"pairs.xz"}
    assert same_pairs(pk.load_pairs(packed), load_split(FIXTURES, tok, "train", 64))
    # a shorter --max-train-len filters as load_split does; a longer one is refused
    assert same_pairs(pk.load_pairs(packed, 20), load_split(FIXTURES, tok, "train", 20))
    with pytest.raises(SystemExit):
        pk.load_pairs(packed, 128)
    # the pairs body round-trips edge cases too (an empty target, the largest uint16 id)
    pairs = [
        (np.array([4, 65535], np.int32), np.array([], np.int32), 7),
        (np.array([9, 3], np.int32), np.array([5], np.int32), 0),
    ]
    assert same_pairs(pk.decode_pairs(pk.encode_pairs(pairs), 2), pairs)
    with pytest.raises(ValueError):
        pk.encode_pairs([(np.array([65536], np.int32), np.array([1], np.int32), 0)])


def test_gpu_pack_detects_a_damaged_file(packed, tmp_path):
    bad = tmp_path / "pack"
    shutil.copytree(packed, bad)
    b = bytearray((bad / "pairs.xz").read_bytes())
    b[len(b) // 2] ^= 1
    (bad / "pairs.xz").write_bytes(bytes(b))
    with pytest.raises(SystemExit, match="sha256"):
        pk.load_pairs(bad)


def test_gpu_pack_size_limit_fails_loudly(spm_model, tmp_path, capsys):
    out = tmp_path / "pack"
    with pytest.raises(SystemExit) as e:
        pk.main(
            [
                "--data",
                str(FIXTURES),
                "--spm",
                str(spm_model),
                "--cache",
                "",
                "--config",
                "tiny",
                "--out",
                str(out),
                "--limit-mib",
                "0.001",
            ]
        )
    assert e.value.code == 2 and "over the limit" in capsys.readouterr().err
    assert not out.exists()  # nothing oversized is left to carry
    with pytest.raises(pk.PackTooLarge):
        pk.check_pack_size(FIXTURES, 0.001)


def test_gpu_tree_bytes_counts_tracked_and_untracked_not_ignored(tmp_path):
    def git(*a):
        subprocess.run(["git", "-C", str(tmp_path), *a], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / ".gitignore").write_text("ign/\n")
    (tmp_path / "tracked").write_bytes(b"x" * 1000)
    git("add", ".gitignore", "tracked")
    (tmp_path / "untracked").write_bytes(b"y" * 300)
    (tmp_path / "ign").mkdir()
    (tmp_path / "ign" / "big").write_bytes(b"z" * 5000)
    assert pk.tree_bytes(tmp_path) == 1000 + 300 + len("ign/\n")


def test_gpu_tree_check_fails_past_64_mib(monkeypatch, capsys):
    monkeypatch.setattr(pk, "tree_bytes", lambda repo: 60 * pk.MIB)
    pk.check_tree(4 * pk.MIB)
    with pytest.raises(SystemExit) as e:
        pk.check_tree(4 * pk.MIB + 1)
    assert e.value.code == 3 and "would refuse" in capsys.readouterr().err


def test_gpu_parts_are_bounded_and_rejoin(tmp_path):
    data = os.urandom(10_000)
    entry = pk.write_parts(data, tmp_path, "w", part_bytes=3000)
    assert [p["bytes"] for p in entry["parts"]] == [3000, 3000, 3000, 1000]
    assert all((tmp_path / p["name"]).stat().st_size <= 3000 for p in entry["parts"])
    assert pk.join_parts(tmp_path, entry) == data
    (tmp_path / "w.002").write_bytes(b"\0" * 3000)
    with pytest.raises(SystemExit, match="differs"):
        pk.join_parts(tmp_path, entry)
    assert pk.PART_BYTES <= 16 * 1024 * 1024


def test_gpu_small_config_comes_back_in_at_most_five_parts():
    """The shipped config (16k vocabulary): f16 weights in <= 5 parts of 15 MiB, so parts + manifest + two logs <= 8
    files and <= 64 MiB together."""
    for enc, dec in [("token", "token"), ("task", "task"), ("token", "task"), ("dense", "dense")]:
        cfg = make_config("small", enc, dec, 16000)
        n = sum(p.numel() for p in TaskMoETransformer(cfg).parameters())
        assert n * 2 + 1024 * 1024 <= 5 * pk.PART_BYTES, (enc, dec, n)


def test_gpu_fast_collate_equals_collate(spm_model):
    pairs = load_split(FIXTURES, Tokenizer(spm_model), "train", 64)
    pairs.append((np.array([4, 3], np.int32), np.array([], np.int32), 2))  # an empty target
    rng = np.random.default_rng(0)
    for n in (1, 7, 64, len(pairs)):
        idx = rng.choice(len(pairs), size=n, replace=False)
        idx[-1] = len(pairs) - 1
        for a, b in zip(collate(pairs, idx), fast_collate(pairs, idx)):
            assert a.dtype == b.dtype and torch.equal(a, b)


def run_gpu_entry(args: list[str], out: Path, run_dir: Path, no_spm: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1"}
    common = ["--cpu", "--run-dir", str(run_dir), "--minutes", "1", "--threads", "1", "--max-steps", "3"]
    common += ["--max-tokens", "400", "--warmup", "4", "--log-every", "1", "--ckpt-minutes", "0"]
    if no_spm:  # sentencepiece unavailable, as on the GPU machine it may be
        code = "import sys; sys.modules['sentencepiece'] = None; from training.gpu.run import main; main(sys.argv[1:])"
        cmd = [sys.executable, "-c", code, "--out", str(out), *common, *args]
    else:
        cmd = ["bash", str(REPO / "training" / "gpu" / "run.sh"), *common, *args]  # later arguments win
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def test_gpu_run_on_cpu_from_pack_returns_parts_that_continue(spm_model, packed, tmp_path):
    out, run_dir = tmp_path / "out", tmp_path / "run"
    r = run_gpu_entry(["--pack", str(packed), "--precision", "bf16"], out, run_dir, no_spm=False)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["log.jsonl", "manifest.json", "run.log", "weights.000"], names
    assert all((out / n).stat().st_size <= 16 * 1024 * 1024 for n in names) and len(names) <= 8
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"]["step"] == 3 and manifest["error"] is None and manifest["device"] == "cpu"
    assert "--pairs" in manifest["train_argv"] and manifest["settings"]["precision"] == "bf16"
    assert len((out / "log.jsonl").read_text().splitlines()) == 3 and "run.sh: exit 0" in (out / "run.log").read_text()
    assert "run.sh: exit 0" in r.stdout

    # reassembled: the trained weights, rounded to f16, with the run's state and config
    pt = tmp_path / "back" / "gpu.pt"
    res = unpack(out, pt)
    assert res["state"]["step"] == 3 and (tmp_path / "back" / "gpu.log.jsonl").exists()
    ck = torch.load(run_dir / "ckpt.pt", map_location="cpu", weights_only=False)
    p = load_portable(pt)
    assert p["config"] == ck["config"] == make_config("tiny", "task", "task", Tokenizer(spm_model).vocab_size).to_dict()
    assert p["model"].keys() == ck["model"].keys()
    for k, v in ck["model"].items():
        assert torch.equal(p["model"][k], v.half().float() if v.is_floating_point() else v), k

    # continues on CPU from the text corpus (train.py --init-from), same config
    cont = tmp_path / "cont"
    argv = ["--config", "tiny", "--data", str(FIXTURES), "--spm", str(spm_model), "--run", str(cont), "--cache", ""]
    argv += ["--max-steps", "5", "--max-tokens", "400", "--warmup", "4", "--ckpt-minutes", "0", "--threads", "1"]
    state = train(parser().parse_args([*argv, "--init-from", str(pt)]))["state"]
    assert state["step"] == 5

    # a pack with that starting point (init.pt, f16) continues it on the GPU path; another routing is refused
    common = ["--data", str(FIXTURES), "--spm", str(spm_model), "--cache", "", "--config", "tiny", "--no-tree-check"]
    with pytest.raises(SystemExit, match="config differs"):
        pk.main([*common, "--enc-routing", "token", "--init-from", str(pt), "--out", str(tmp_path / "bad")])
    pack2 = tmp_path / "pack2"
    pk.main([*common, "--init-from", str(pt), "--out", str(pack2)])
    assert set(json.loads((pack2 / "pack.json").read_text())["files"]) == {"pairs.xz", "init.pt"}
    out2 = tmp_path / "out2"
    run_gpu_entry(["--pack", str(pack2), "--max-steps", "4"], out2, tmp_path / "run2", no_spm=False)
    m2 = json.loads((out2 / "manifest.json").read_text())
    assert m2["state"]["step"] == 4 and "--init-from" in m2["train_argv"]


def test_gpu_run_says_when_the_pack_is_missing(tmp_path):
    from training.gpu.run import main

    with pytest.raises(SystemExit, match="no pack"):
        main(["--cpu", "--pack", str(tmp_path / "nothing"), "--out", str(tmp_path / "out")])


def test_gpu_run_needs_no_sentencepiece(packed, tmp_path):
    out = tmp_path / "out"
    r = run_gpu_entry(["--pack", str(packed)], out, tmp_path / "run", no_spm=True)
    assert '"sentencepiece_stub": true' in r.stdout
    assert json.loads((out / "manifest.json").read_text())["state"]["step"] == 3


def test_gpu_run_brings_back_the_last_checkpoint_on_sigterm(packed, tmp_path):
    out, run_dir = tmp_path / "out", tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "training.gpu.run", "--pack", str(packed), "--out", str(out), "--run-dir", str(run_dir)]
    cmd += ["--cpu", "--threads", "1", "--max-tokens", "400", "--warmup", "4", "--log-every", "1", "--ckpt-every", "2"]
    cmd += ["--mirror-every", "0.1"]
    p = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "manifest.json").exists() and p.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    # a checkpoint is mirrored to --out while training still runs (what a hard kill would leave)
    partial = json.loads((out / "manifest.json").read_text())
    assert partial["error"].startswith("partial") and partial["state"]["step"] >= 2
    p.send_signal(signal.SIGTERM)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 0, stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["error"] == "Terminated('signal 15')" and manifest["state"]["step"] >= partial["state"]["step"]
    assert unpack(out, tmp_path / "back.pt")["state"] == manifest["state"]
    assert sorted(q.name for q in out.iterdir()) == ["log.jsonl", "manifest.json", "weights.000"]

"""Smoke test of the whole pipeline on the committed fixture corpus (no download).

tokenizer -> tiny model for all four routing variants -> a few steps -> resume equals continuous ->
export (f16 safetensors + goldens) -> reload and reproduce the goldens; plus the task-routed
extraction identity and the top-2 tie rule. Evaluation, bootstrap verdicts and dev curves: test_eval.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from training.taskmoe_train import export as ex
from training.taskmoe_train.model import ModelConfig, MoE, fold_task_experts, param_counts, top2
from training.taskmoe_train.tokenizer import Tokenizer, train_spm
from training.taskmoe_train.train import parser, train

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VARIANTS = [("token", "token"), ("task", "task"), ("token", "task"), ("dense", "dense")]

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("spm")
    return train_spm(FIXTURES, d / "spm", vocab_size=1000, per_lang=1000, hard_vocab_limit=False)


def run_args(spm: Path, run: Path, enc: str, dec: str, steps: int, extra=()) -> list[str]:
    return [
        "--config", "tiny", "--enc-routing", enc, "--dec-routing", dec, "--data", str(FIXTURES), "--spm", str(spm),
        "--run", str(run), "--cache", "", "--max-steps", str(steps), "--max-tokens", "400", "--warmup", "4",
        "--log-every", "2", "--ckpt-minutes", "0", *extra,
    ]  # fmt: skip


def test_tokenizer_ids(spm_model):
    tok = Tokenizer(spm_model)
    assert list(tok.lang_tag_ids.values()) == list(range(4, 12))
    ids = tok.source_ids("Save the document.", "es")
    assert ids[0] == 6 and ids[-1] == 3


def test_top2_ties_to_lower_index():
    probs = torch.tensor([[0.25, 0.25, 0.25, 0.25], [0.1, 0.4, 0.1, 0.4]])
    e1, e2, g1, g2 = top2(probs)
    assert e1.tolist() == [0, 1] and e2.tolist() == [1, 3]
    assert torch.allclose(g1, torch.tensor([0.5, 0.5])) and torch.allclose(g2, torch.tensor([0.5, 0.5]))


def test_task_extraction_identity():
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=50, d_model=16, n_heads=2, d_ff=32, enc_layers=2, dec_layers=2, n_experts=4)
    moe = MoE(cfg, "task").eval()
    with torch.no_grad():
        moe.bi.normal_()
        moe.bo.normal_()
    x = torch.randn(10, 16)
    for task in range(cfg.n_tasks):
        y, _ = moe(x, torch.full((10,), task))
        wi, bi, wo, bo = fold_task_experts(moe, task)
        assert wi.shape == (64, 16) and wo.shape == (16, 64)
        dense = torch.relu(x @ wi.t() + bi) @ wo.t() + bo
        assert torch.allclose(y, dense, atol=1e-5), (y - dense).abs().max()


@pytest.mark.parametrize("enc,dec", VARIANTS)
def test_variant_train_export_goldens(spm_model, tmp_path, enc, dec):
    run = tmp_path / "run"
    out = train(parser().parse_args(run_args(spm_model, run, enc, dec, 4)))
    assert out["state"]["step"] == 4 and (run / "ckpt.pt").exists() and (run / "DONE").exists()
    model, state = ex.load_checkpoint(run)
    counts = param_counts(model)
    if enc == dec == "dense":
        assert counts["total"] == counts["active_per_token"] == counts["extracted_per_task"]
    else:
        assert counts["active_per_token"] < counts["total"]
    if dec == "task":
        assert counts["extracted_per_task"] < counts["total"]
    d = tmp_path / "export"
    conf = ex.export(model, Tokenizer(spm_model), d, f"{enc}_{dec}", FIXTURES, {"steps": state["step"]})
    # tensor index matches the shards, everything f16
    seen = {}
    for shard in conf["shards"]:
        assert (d / shard).stat().st_size < 50 * 1024 * 1024
        for k, v in load_file(str(d / shard)).items():
            assert v.dtype == torch.float16
            seen[k] = list(v.shape)
    assert seen == {k: v["shape"] for k, v in conf["tensors"].items()}
    if enc != "dense":
        assert "encoder.layers.1.moe.wi" in seen and "encoder.layers.0.ffn.wi.weight" in seen
    if dec == "task":
        assert seen["decoder.layers.1.moe.gate.table"] == [8, 4]
    if enc == "token":
        assert seen["encoder.layers.1.moe.gate.weight"] == [4, 32]
    # goldens reproduce from the reloaded f16 weights
    m2, tok2, _ = ex.load_export(d)
    meta = json.loads((d / "goldens.json").read_text())
    arrays = load_file(str(d / "goldens.safetensors"))
    assert len(meta["cases"]) == 6
    meta2, arrays2 = ex.make_goldens(m2, tok2, ex.golden_inputs(FIXTURES))
    for c, c2 in zip(meta["cases"], meta2["cases"]):
        assert c["src_ids"] == c2["src_ids"] and c["greedy_ids"] == c2["greedy_ids"]
    for k, v in arrays.items():
        assert torch.allclose(v, arrays2[k], atol=1e-5), k
    assert (d / "goldens.safetensors").stat().st_size + (d / "goldens.json").stat().st_size < 2 * 1024 * 1024


def test_resume_equals_continuous(spm_model, tmp_path):
    extra = ["--override", '{"dropout": 0.1}', "--ckpt-every", "2"]
    a = train(parser().parse_args(run_args(spm_model, tmp_path / "a", "token", "task", 6, [*extra, "--save-at", "3,5"])))
    train(parser().parse_args(run_args(spm_model, tmp_path / "b", "token", "task", 3, extra)))
    b3 = torch.load(tmp_path / "b" / "ckpt.pt", map_location="cpu", weights_only=False)["model"]
    b = train(parser().parse_args(run_args(spm_model, tmp_path / "b", "token", "task", 6, extra)))
    assert a["state"]["tokens"] == b["state"]["tokens"]
    sa, sb = a["model"].state_dict(), b["model"].state_dict()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    # weights-only snapshots at the asked steps: a's step-3 snapshot is b's state after its first 3 steps
    assert sorted(p.name for p in (tmp_path / "a").glob("step-*.pt")) == ["step-3.pt", "step-5.pt"]
    snap, snap_state = ex.load_checkpoint(tmp_path / "a", "step-3.pt")
    assert snap_state["step"] == 3
    for k, v in snap.state_dict().items():
        assert torch.equal(v, b3[k]), k


def test_portable_checkpoint_continues_the_run(spm_model, tmp_path):
    from training.taskmoe_train.portable import save_portable

    a = train(parser().parse_args(run_args(spm_model, tmp_path / "a", "task", "task", 6, [])))
    train(parser().parse_args(run_args(spm_model, tmp_path / "b", "task", "task", 3, [])))
    state = save_portable(tmp_path / "b", tmp_path / "b3.pt")
    assert state["step"] == 3
    c = train(
        parser().parse_args(run_args(spm_model, tmp_path / "c", "task", "task", 6, ["--init-from", str(tmp_path / "b3.pt")]))
    )
    # same steps and the same data order as the uninterrupted run; weights close (fresh Adam moments, f16 start)
    assert c["state"]["step"] == 6 and c["state"]["tokens"] == a["state"]["tokens"]
    for k, v in c["model"].state_dict().items():
        assert torch.isfinite(v).all(), k


def test_export_folder_continues_the_run(spm_model, tmp_path):
    """A shipped export (models/<variant>/) is its own portable checkpoint: config.json's training.resume."""
    from training.taskmoe_train.portable import load_portable

    a = train(parser().parse_args(run_args(spm_model, tmp_path / "a", "token", "task", 6, [])))
    train(parser().parse_args(run_args(spm_model, tmp_path / "b", "token", "task", 3, [])))
    ex.main(["--run", str(tmp_path / "b"), "--out", str(tmp_path / "m"), "--spm", str(spm_model), "--data", str(FIXTURES)])
    conf = json.loads((tmp_path / "m" / "config.json").read_text())
    assert conf["training"]["resume"]["step"] == 3 and conf["training"]["resume"]["batch_in_epoch"] == 3
    p = load_portable(tmp_path / "m")
    b3, _ = ex.load_checkpoint(tmp_path / "b")
    for k, v in b3.state_dict().items():  # the f16 rounding of the run's weights
        assert torch.equal(p["model"][k], v.half().float()), k
    c = train(parser().parse_args(run_args(spm_model, tmp_path / "c", "token", "task", 6, ["--init-from", str(tmp_path / "m")])))
    assert c["state"]["step"] == 6 and c["state"]["tokens"] == a["state"]["tokens"]


def launch_two_processes(args: list[str]) -> None:
    """torchrun --standalone --nproc_per_node=2 -m training.taskmoe_train.train ARGS. Debian's torch 1.13 torchrun
    fails under Python 3.11 before starting any worker (its redirect map is None), so there the two workers are
    started with the environment torchrun gives them (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT)."""
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if int(torch.__version__.split(".")[0]) >= 2:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
        r = subprocess.run(
            [*cmd, "-m", "training.taskmoe_train.train", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=600
        )
        assert r.returncode == 0, r.stderr[-3000:]
        return
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for rank in range(2):
        e = {**env, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2"}
        e |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
        cmd = [sys.executable, "-m", "training.taskmoe_train.train", *args]
        procs.append(subprocess.Popen(cmd, cwd=repo, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]


def test_data_parallel_two_processes_bf16(spm_model, tmp_path):
    """torchrun, 2 processes (gloo, one thread each), bf16 autocast: a step takes two consecutive batches of the same
    data order, so 3 data-parallel steps see what 6 single-process steps see; the checkpoint resumes in one process."""
    single = train(parser().parse_args(run_args(spm_model, tmp_path / "s", "token", "task", 6, [])))
    run = tmp_path / "ddp"
    compile_loss = ["--compile-loss"] if int(torch.__version__.split(".")[0]) >= 2 else []  # torch 1.13 has no compile
    args = [
        "--threads", "1", "--precision", "bf16", "--save-at-tokens", "1", *compile_loss,
        *[("--run-dir" if a == "--run" else a) for a in run_args(spm_model, run, "token", "task", 3)],
    ]  # fmt: skip
    launch_two_processes(args)
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert log[-1]["world"] == 2 and log[-1]["precision"] == "bf16" and log[-1]["step"] == 3
    ck = torch.load(run / "ckpt.pt", map_location="cpu", weights_only=False)
    assert ck["state"]["step"] == 3 and ck["state"]["batch_in_epoch"] == 6
    assert ck["state"]["tokens"] == single["state"]["tokens"]
    assert isinstance(ck["rng"], list) and len(ck["rng"]) == 2
    assert (run / "tokens-1.pt").exists() and (run / "DONE").exists()
    # the same run continues in one process (another world size) from the same data position
    more = train(parser().parse_args(run_args(spm_model, run, "token", "task", 5, ["--precision", "bf16"])))
    assert more["state"]["step"] == 5 and more["state"]["batch_in_epoch"] == 8
    for k, v in more["model"].state_dict().items():
        assert torch.isfinite(v).all(), k


def test_smoothed_ce_equals_log_softmax_form():
    """The logsumexp form of the label-smoothed loss equals the textbook one on log-probabilities."""
    from training.taskmoe_train.train import smoothed_ce

    torch.manual_seed(0)
    z = torch.randn(3, 5, 50, dtype=torch.float64) * 4
    t = torch.randint(4, 50, (3, 5))
    t[1, 3:] = 0  # padding
    lp = torch.log_softmax(z, -1)
    m = t != 0
    nll = -lp.gather(-1, t[..., None])[..., 0]
    want = (0.9 * nll + 0.1 * -lp.mean(-1))[m].mean()
    loss, got_nll = smoothed_ce(z, t, 0.1)
    assert torch.allclose(loss.double(), want) and torch.allclose(got_nll.double(), nll[m].mean())


def test_token_budget_stops_and_snapshots(spm_model, tmp_path):
    run = tmp_path / "t"
    extra = ["--max-train-tokens", "3000", "--save-at-tokens", "1000,2K"]
    out = train(parser().parse_args(run_args(spm_model, run, "task", "task", 1000, extra)))
    assert 3000 <= out["state"]["tokens"] < 3000 + 400 and (run / "DONE").exists()
    snaps = sorted(p.name for p in run.glob("tokens-*.pt"))
    assert snaps == ["tokens-1000.pt", "tokens-2000.pt"]
    _, st = ex.load_checkpoint(run, "tokens-1000.pt")
    assert 1000 <= st["tokens"] < 1400

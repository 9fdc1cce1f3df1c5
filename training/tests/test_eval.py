"""Evaluation on the fixture corpus: full-set scoring with saved hypotheses, the paired-bootstrap verdicts on constructed
hypotheses (and that they use sacrebleu's own resamples), token-budget grouping, old results files, the dev curve."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from training.eval import dev_curve as dc
from training.eval import evaluate as ev
from training.taskmoe_train import export as ex
from training.taskmoe_train.tokenizer import Tokenizer, train_spm
from training.taskmoe_train.train import parser, train

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FIXTURE_LANGS = ["de", "es", "zh-cn"]
TESTS = ["test.lohelp", "test.wesnoth"]  # the fixture corpus's test sets

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("spm")
    return train_spm(FIXTURES, d / "spm", vocab_size=1000, per_lang=1000, hard_vocab_limit=False)


@pytest.fixture(scope="module")
def token_run(spm_model, tmp_path_factory) -> Path:
    """A tiny task/task run with snapshots at 1,000 and 2,000 tokens."""
    run = tmp_path_factory.mktemp("run") / "task_task"
    args = [
        "--config", "tiny", "--enc-routing", "task", "--dec-routing", "task", "--data", str(FIXTURES), "--spm",
        str(spm_model), "--run", str(run), "--cache", "", "--max-steps", "100", "--max-tokens", "400", "--warmup", "4",
        "--log-every", "2", "--ckpt-minutes", "0", "--max-train-tokens", "2000", "--save-at-tokens", "1000,2000",
    ]  # fmt: skip
    train(parser().parse_args(args))
    return run


def test_sets_are_dev_and_every_test_set():
    from training.data.build import TESTS as BUILD_TESTS

    assert ev.SETS == ["dev", *BUILD_TESTS] and "test.gimp" in ev.SETS


def test_evaluate_full_sets_keeps_hypotheses(spm_model, token_run, tmp_path):
    model, state = ex.load_checkpoint(token_run, "tokens-2000.pt")
    ex.export(
        model, Tokenizer(spm_model), tmp_path / "m", "task_task", None, {"steps": state["step"], "tokens_seen": state["tokens"]}
    )
    hyps = tmp_path / "hyps"
    # every set of the real corpus; the fixtures have three, the others are skipped
    o = ev.EvalOptions(FIXTURES, ev.SETS, [1, 2], hyps=hyps)
    r = ev.evaluate_variant(tmp_path / "m", o)
    assert r["budget"] == str(state["tokens"]) and set(r["scores"]) == set(FIXTURE_LANGS)
    assert set(r["scores"]["es"]) == {"dev", *TESTS} and r["scores"]["es"]["dev"]["beam2"]["n"] == 8
    d = hyps / f"task_task@{r['budget']}"
    assert len((d / "zh-cn.test.wesnoth.greedy.txt").read_text(encoding="utf-8").split("\n")) == 8 + 1
    assert r["eval"]["speed"]["greedy"]["sentences"] == 3 * 3 * 8
    # a second evaluation of the same weights reuses the hypotheses (no decoding) and scores the same
    again = ev.evaluate_variant(tmp_path / "m", o)
    assert again["scores"] == r["scores"] and again["eval"]["speed"] == {}
    # the snapshot itself, rounded to f16, is the same weights as its export
    snap = ev.evaluate_snapshot(token_run, "tokens-2000.pt", spm_model, ev.EvalOptions(FIXTURES, ["dev"], [1], hyps=hyps))
    assert snap["eval"]["weights_sha1"] == r["eval"]["weights_sha1"] and snap["eval"]["speed"] == {}
    b = ev.evaluate_baselines(FIXTURES, 0, ev.SETS)
    assert b["copy"]["de"]["dev"]["n"] == 8 and "test.gimp" not in b["copy"]["de"]
    results = {"evaluations": {"task_task": {r["budget"]: r}}, "baselines": b}
    text = ev.render(results)
    assert f"| task_task@{r['budget']} greedy |" in text and "| copy source | - |" in text


def write_system(hyps: Path, name: str, pick) -> None:
    """Hypotheses of a constructed system: pick(i, n, src, ref) per sentence of every fixture test set."""
    store = ev.HypStore(hyps, name, "x")
    for lang in FIXTURE_LANGS:
        for split in TESTS:
            src, ref = ev.read_set(FIXTURES, lang, split)
            store.write(lang, split, "beam4", [pick(i, len(src), s, r) for i, (s, r) in enumerate(zip(src, ref))])


def test_bootstrap_verdicts_met_missed_inconclusive(tmp_path):
    hyps = tmp_path / "hyps"
    write_system(hyps, "task_task@25M", lambda i, n, s, r: r)  # the references
    write_system(hyps, "dense_dense@25M", lambda i, n, s, r: s)  # a copy of the source
    write_system(hyps, "token_task@25M", lambda i, n, s, r: r if i < n // 2 else s)  # right on one half
    write_system(hyps, "token_token@25M", lambda i, n, s, r: s if i < n // 2 else r)  # right on the other half
    entry = {"training": {"tokens_seen": 25_001_234}, "scores": {}}
    results = {"evaluations": {v: {"25M": entry} for v in ("task_task", "dense_dense", "token_task", "token_token")}}
    j = ev.judge_budget(results, "25M", hyps, FIXTURES, modes=("beam4",), samples=200)
    c = j["beam4"]
    assert c["task>dense"]["verdict"]["chrF2"]["verdict"] == "met"
    for lang in FIXTURE_LANGS:
        s = c["task>dense"]["rows"]["tests"]["chrF2"]["langs"][lang]
        assert s["a"] == 100.0 and s["lo"] > 0 and s["verdict"] == "met"
    assert c["task>=token"]["verdict"]["chrF2"]["verdict"] == "met"
    assert c["hybrid>=task"]["verdict"]["chrF2"]["verdict"] == "missed"
    mixed = c["hybrid>=token"]["rows"]["tests"]["chrF2"]["avg"]
    assert mixed["lo"] < 0 < mixed["hi"] and c["hybrid>=token"]["verdict"]["chrF2"]["verdict"] == "inconclusive"
    assert set(c["task>dense"]["rows"]) == {"tests", *TESTS} and "BLEU" in c["task>dense"]["rows"]["test.lohelp"]
    text = "\n".join(ev.render_claims({"claims": {"25M": j}}))
    assert "- task-MoE > dense on each language (task_task vs dense_dense), mean over test sets: chrF2 **met**" in text
    assert "hybrid >= token-MoE on average (token_task vs token_token), mean over test sets: chrF2 **inconclusive**" in text
    # a variant missing at this budget: its claims are left out, not judged against another budget
    del results["evaluations"]["dense_dense"]
    assert "task>dense" not in ev.judge_budget(results, "25M", hyps, FIXTURES, modes=("beam4",), samples=50)["beam4"]


def test_bootstrap_draws_sacrebleus_resamples(monkeypatch):
    """One stratum: the same resamples as sacrebleu's paired bootstrap (`PairedTest`, test_type 'bs') with the
    stratum's seed, so the p-value and system a's bootstrap mean equal sacrebleu's."""
    from sacrebleu.metrics import CHRF
    from sacrebleu.significance import PairedTest

    src, ref = ev.read_set(FIXTURES, "es", "test.wesnoth")
    a = [r if i % 3 else s for i, (s, r) in enumerate(zip(src, ref))]
    b = [r if i % 2 else s for i, (s, r) in enumerate(zip(src, ref))]
    seed = ev.stratum_seed("es", "test.wesnoth")
    counts = ev.resample_counts(len(ref), seed)
    sa, sb = ev.resampled_scores(a, ref, "es", "chrF2", counts), ev.resampled_scores(b, ref, "es", "chrF2", counts)
    assert sa[0] == pytest.approx(ev.score(a, ref, "es")["chrF2"], abs=0.006)
    mine = ev.paired_bootstrap([(sa[0], sa[1], sb[0], sb[1])])
    monkeypatch.setenv("SACREBLEU_SEED", str(seed))
    _, res = PairedTest([("b", b), ("a", a)], {"chrF2": CHRF()}, [ref], test_type="bs", n_samples=1000)()
    theirs = res["chrF2"][1]
    assert mine["p"] == pytest.approx(theirs.p_value, abs=1e-4)
    assert float(np.mean(sa[1])) == pytest.approx(theirs.mean, abs=1e-4)


def test_token_budgets_group_variants():
    assert ev.budget_of({"tokens_seen": 25_003_900}) == "25M" and ev.budget_of({"tokens_seen": 14_635_196}) == "14.6M"
    assert ev.budget_of({"tokens_seen": 2_345}) == "2345" and ev.budget_of({"steps": 1300}) is None
    results = {"evaluations": {}}
    for v, tokens in (("task_task", 25_001_000), ("dense_dense", 25_004_000), ("task_task", 40_002_000)):
        e = {
            "variant": v,
            "budget": ev.budget_of({"tokens_seen": tokens}),
            "scores": {},
            "eval": {"weights_sha1": str(tokens), "speed": {}},
        }
        ev.merge_entry(results, e)
    assert ev.budgets(results) == ["40M", "25M"]
    assert set(results["evaluations"]["task_task"]) == {"25M", "40M"} and list(results["evaluations"]["dense_dense"]) == ["25M"]


def test_old_step_based_results_are_archived(tmp_path):
    def old(steps):
        sc = {lang: {"test.lohelp": {"beam4": {"chrF2": 40.0, "BLEU": 15.0, "n": 100}}} for lang in ("de", "es")}
        return {"training": {"steps": steps, "tokens_seen": steps * 3700}, "scores": sc, "eval": {"max_sents": 100}}

    p = tmp_path / "results.json"
    copy = {"de": {"test.lohelp": {"chrF2": 20.0, "BLEU": 1.0, "n": 100}}}
    old_file = {"variants": {"task_task": old(4000), "dense_dense": old(1300)}, "archive": {"task_task@1300": old(1300)}}
    p.write_text(json.dumps({**old_file, "baselines": {"copy": copy}, "baselines_eval": {"max_sents": 100}}))
    r = ev.load_results(p)
    assert set(r["archive"]["task_task"]) == {"step-4000", "step-1300"} and "step-1300" in r["archive"]["dense_dense"]
    assert r["evaluations"] == {} and "variants" not in r
    assert r["baselines"] == {} and r["archive_baselines"] == {"baselines": {"copy": copy}, "eval": {"max_sents": 100}}
    ev.save_results(p, r)
    assert ev.load_results(p)["archive"] == r["archive"]  # idempotent
    text = ev.render(r)
    assert "| task_task@step-4000 | 14,800,000 | 100 | beam4 | - | 40.0 | - |" in text


def test_convergence_rule():
    def pts(*xs):
        return [{"tokens": int(t * 1e6), "chrF2": c} for t, c in xs]

    assert dc.convergence(pts((5, 40.0)))["converged"] is None
    assert dc.convergence(pts((5, 40.0), (10, 44.0)))["converged"] is None  # needs 10M tokens of curve
    c = dc.convergence(pts((5, 40.0), (10, 45.0), (15, 45.2), (20, 45.25)))
    assert c["converged"] is True and c["gain"] == 0.25 and c["since_tokens"] == 10_000_000
    c = dc.convergence(pts((5, 40.0), (10, 44.0), (15, 44.5)))
    assert c["converged"] is False and c["gain"] == 4.5
    # a dip is not a loss; the best so far counts
    c = dc.convergence(pts((5, 40.0), (10, 45.0), (15, 44.0), (20, 44.9)))
    assert c["converged"] is True and c["gain"] == 0.0 and c["best"]["tokens"] == 10_000_000
    assert "**converged**" in dc.describe(c) and "**still improving**" in dc.describe(dc.convergence(pts((5, 40.0), (15, 41.0))))


def test_dev_curve_of_a_run(spm_model, token_run, tmp_path):
    out = tmp_path / "models" / "dev_curves"
    curve = dc.update_curve(token_run, spm_model, FIXTURES, tmp_path / "hyps", out, "task_task")
    assert [p["checkpoint"] for p in curve["points"]] == ["tokens-1000.pt", "tokens-2000.pt"]
    assert [p["tokens"] for p in curve["points"]] == [1000, 2000] and curve["points"][0]["sentences"] == 3 * 8
    assert curve["convergence"]["converged"] is None
    saved = json.loads((out / "task_task.json").read_text())
    assert (
        saved["points"] == curve["points"] and json.loads((token_run / "dev_curve.json").read_text())["points"] == curve["points"]
    )
    again = dc.update_curve(token_run, spm_model, FIXTURES, tmp_path / "hyps", out, "task_task")  # nothing new to add
    assert again["points"] == curve["points"]
    assert dc.render(out)[1].startswith("- task_task: 0.001M ")
    # --follow on a finished run (DONE) adds what is new and returns
    dc.main(["--run", str(token_run), "--spm", str(spm_model), "--data", str(FIXTURES), "--hyps", str(tmp_path / "hyps")]
            + ["--out", str(out), "--name", "task_task", "--follow", "--poll", "0"])  # fmt: skip
    assert json.loads((out / "task_task.json").read_text())["points"] == curve["points"]


def test_cli_evaluates_snapshots_and_judges_at_one_budget(spm_model, token_run, tmp_path):
    """Two variants at one budget through the command line (the same weights under two names: every claim between
    them is inconclusive); results.json, README and hypotheses written."""
    res = tmp_path / "models"
    common = ["--spm", str(spm_model), "--data", str(FIXTURES), "--results", str(res), "--hyps", str(tmp_path / "h")]
    common += ["--beams", "1", "--run", str(token_run), "--ckpt", "tokens-1000.pt"]
    ev.main([*common, "--variant", "task_task", "--baselines"])
    ev.main([*common, "--variant", "dense_dense"])
    r = json.loads((res / "results.json").read_text())
    (budget,) = r["claims"]
    assert set(r["evaluations"]) == {"task_task", "dense_dense"} and r["format"] == 2
    c = r["claims"][budget]["greedy"]["task>dense"]
    assert c["verdict"]["chrF2"]["verdict"] == "inconclusive" and c["rows"]["tests"]["chrF2"]["avg"]["diff"] == 0
    text = (res / "README.md").read_text()
    assert f"**Claims at {budget} tokens each** (greedy;" in text and "<!-- results:end -->" in text


def test_targets_met_and_missed():
    def sc(lohelp, wesnoth):
        return {
            "test.lohelp": {"beam4": {"chrF2": lohelp, "BLEU": 1.0, "n": 9}},
            "test.wesnoth": {"greedy": {"chrF2": wesnoth, "BLEU": 1.0, "n": 9}},
        }

    entry = {"scores": {"de": sc(48.0, 31.0), "es": sc(58.0, 29.5)}, "eval": {"max_sents": 0}}
    results = {
        "evaluations": {"task_task": {"25M": entry, "10M": {"scores": {}, "eval": {}}}},
        "baselines": {"apertium": {"es": {"test.lohelp": {"chrF2": 55.5, "BLEU": 20.0}}}},
        "baselines_eval": {"max_sents": 0},
    }
    text = "\n".join(ev.judge_targets(results))
    assert "- task_task@25M: average chrF2 on test.lohelp, beam 4, >= 50: **met** by +3.00 (53.0 vs 50.0)" in text
    assert "- task_task@25M: en-es chrF2 on test.lohelp, beam 4, >= Apertium + 2: **met** by +0.50 (58.0 vs 57.5)" in text
    assert "- task_task@25M: average chrF2 on test.wesnoth, greedy, >= 30: **missed** by -0.25 (30.25 vs 30.0)" not in text
    assert "**met** by +0.25 (30.25 vs 30.0)" in text

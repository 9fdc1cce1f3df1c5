"""Evaluates routing variants on the full dev and test sets and judges the paper's claims at equal token budgets.

Scores: chrF2 (sacrebleu CHRF, beta 2, char order 6) and BLEU (13a; `zh` tokenizer for zh-cn) per language on dev
and every test set of training/data/build.py (`TESTS`), greedy and beam 4, on the f16 weights the engine loads.
Baselines: copying the source (floor) and `apertium eng-spa` for en-es.

Every hypothesis is kept in `<hyps>/<variant>@<budget>/<lang>.<split>.<mode>.txt` (default training/work/eval, not
committed), next to a fingerprint of the weights, so an interrupted evaluation resumes and a comparison can be
recomputed. The budget of an evaluation is the number of src+tgt training tokens its weights have seen, rounded to
0.1M (`25M` for a `tokens-25M.pt` snapshot, which stops within one step past 25M).

Claims (issue 12; `CLAIMS`) are judged between variants evaluated at the same budget, with a paired bootstrap of the
difference (see `paired_bootstrap`), and written to models/results.json (`claims`) and models/README.md.

  # an export folder, or a run's snapshot directly (rounded to f16 as an export would be)
  training/.venv/bin/python -m training.eval.evaluate --models training/work/export --variants token_token dense_dense
  training/.venv/bin/python -m training.eval.evaluate --run training/work/runs/task_task --ckpt tokens-25M.pt
  training/.venv/bin/python -m training.eval.evaluate --judge      # recompute the claims from the saved hypotheses
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sacrebleu
import torch
from sacrebleu.metrics import BLEU, CHRF

from training.data.build import TESTS
from training.taskmoe_train.export import load_checkpoint, load_export, round_f16
from training.taskmoe_train.model import LANGS, PAD, param_counts
from training.taskmoe_train.tokenizer import Tokenizer
from training.taskmoe_train.train import token_label

SETS = ["dev", *TESTS]
MODES = {1: "greedy", 4: "beam4"}
METRICS = ("chrF2", "BLEU")
HYPS = Path("training/work/eval")
BOOTSTRAP_SAMPLES = 1000
BOOTSTRAP_SEED = 12345  # sacrebleu's default SACREBLEU_SEED

# The paper's claims (issue 12, item 3): system a against system b at one budget. "each": on every language;
# "average": on the average over languages. Judged on the mean over all test sets, per set in results.json.
CLAIMS = [
    {"id": "task>dense", "text": "task-MoE > dense on each language", "a": "task_task", "b": "dense_dense", "scope": "each"},
    {"id": "task>=token", "text": "task-MoE >= token-MoE on average", "a": "task_task", "b": "token_token", "scope": "average"},
    {"id": "hybrid>=task", "text": "hybrid >= task-MoE on average", "a": "token_task", "b": "task_task", "scope": "average"},
    {"id": "hybrid>=token", "text": "hybrid >= token-MoE on average", "a": "token_task", "b": "token_token", "scope": "average"},
]


# ---------------------------------------------------------------------------------------------------- data, scores


def read_set(data: Path, lang: str, split: str, max_sents: int = 0) -> tuple[list[str], list[str]] | None:
    """Source and reference lines of one set, or None where the corpus has no such set (the fixtures have three)."""
    s, t = data / lang / f"{split}.src", data / lang / f"{split}.tgt"
    if not (s.exists() and t.exists()):
        return None
    src = s.read_text(encoding="utf-8").splitlines()
    ref = t.read_text(encoding="utf-8").splitlines()
    if max_sents:
        src, ref = src[:max_sents], ref[:max_sents]
    return src, ref


def metric(name: str, lang: str):
    """The sacrebleu metric object behind a score name (chrF2 = CHRF defaults; BLEU with `zh` for zh-cn)."""
    if name == "chrF2":
        return CHRF()
    return BLEU(tokenize="zh" if lang == "zh-cn" else "13a")


def score(hyp: list[str], ref: list[str], lang: str) -> dict:
    chrf = sacrebleu.corpus_chrf(hyp, [ref])  # chrF2: beta=2, char order 6, word order 0
    bleu = sacrebleu.corpus_bleu(hyp, [ref], tokenize="zh" if lang == "zh-cn" else "13a")
    return {"chrF2": round(chrf.score, 2), "BLEU": round(bleu.score, 2), "n": len(hyp)}


def autocast(precision: str, device: str = "cpu"):
    """bf16 autocast (PyTorch 2 on the CPU; the model keeps softmax and the search's log-probabilities in f32)."""
    if precision == "bf16":
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def translate(model, tok, src: list[str], lang: str, beam: int, batch: int = 48, max_steps: int = 128) -> list[str]:
    """Batches of `batch` sentences sorted by length; at most 2 x source length + 10 decoder steps."""
    dev = next(model.parameters()).device
    task = LANGS.index(lang)
    ids = [tok.source_ids(s, lang)[: model.cfg.max_len] for s in src]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out: list[str] = [""] * len(ids)
    for b0 in range(0, len(order), batch):
        chunk = order[b0 : b0 + batch]
        S = max(len(ids[i]) for i in chunk)
        x = torch.full((len(chunk), S), PAD, dtype=torch.long)
        for r, i in enumerate(chunk):
            x[r, : len(ids[i])] = torch.tensor(ids[i])
        x, t = x.to(dev), torch.full((len(chunk),), task, dtype=torch.long, device=dev)
        steps = min(max_steps, 2 * S + 10)
        hyps = model.greedy(x, t, max_steps=steps) if beam <= 1 else model.beam(x, t, beam=beam, max_steps=steps)
        for r, i in enumerate(chunk):
            out[i] = tok.decode(hyps[r]).replace("\n", " ")
    return out


def apertium(src: list[str]) -> list[str] | None:
    if not shutil.which("apertium"):
        return None
    res = subprocess.run(["apertium", "-u", "eng-spa"], input="\n".join(src) + "\n", capture_output=True, text=True, check=True)
    lines = res.stdout.rstrip("\n").split("\n")
    if len(lines) != len(src):  # apertium keeps lines; guard anyway
        return None
    return [ln.strip() for ln in lines]


# ---------------------------------------------------------------------------------------------------- budgets


def budget_of(training: dict) -> str | None:
    """The token budget label of an evaluation: tokens seen rounded to 0.1M ("25M"), exact below 100k."""
    tokens = training.get("tokens_seen")
    if tokens is None:
        return None
    return token_label(int(round(tokens, -5)) if tokens >= 100_000 else int(tokens))


def budget_tokens(label: str) -> float:
    return float(label[:-1]) * 1e6 if label.endswith("M") else float(label)


# ---------------------------------------------------------------------------------------------------- hypotheses


def fingerprint(model) -> str:
    """sha1 of the weights (f16, as evaluated): saved hypotheses belong to exactly these weights."""
    h = hashlib.sha1()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().half().contiguous().numpy().tobytes() if v.is_floating_point() else v.numpy().tobytes())
    return h.hexdigest()[:16]


class HypStore:
    """`<root>/<variant>@<budget>/<lang>.<split>.<mode>.txt`, one hypothesis a line, plus `weights.sha1`."""

    def __init__(self, root: Path, name: str, weights: str | None = None):
        self.dir = root / name
        if weights is not None:
            fp = self.dir / "weights.sha1"
            if fp.exists() and fp.read_text().strip() != weights:
                shutil.rmtree(self.dir)  # other weights under the same name: their hypotheses no longer apply
            self.dir.mkdir(parents=True, exist_ok=True)
            fp.write_text(weights + "\n")

    def path(self, lang: str, split: str, mode: str) -> Path:
        return self.dir / f"{lang}.{split}.{mode}.txt"

    def read(self, lang: str, split: str, mode: str, n: int) -> list[str] | None:
        """The saved hypotheses, or None unless there are exactly n (the whole set)."""
        p = self.path(lang, split, mode)
        if not p.exists():
            return None
        lines = p.read_text(encoding="utf-8").split("\n")[:-1]
        return lines if len(lines) == n else None

    def write(self, lang: str, split: str, mode: str, hyp: list[str]) -> None:
        p = self.path(lang, split, mode)
        tmp = p.with_suffix(".tmp")
        tmp.write_text("".join(h + "\n" for h in hyp), encoding="utf-8")
        os.replace(tmp, p)


# ---------------------------------------------------------------------------------------------------- evaluation


@dataclass
class EvalOptions:
    """What to decode and how: sets and beam sizes, and where hypotheses go."""

    data: Path = Path("training/work/data")
    sets: list[str] = field(default_factory=lambda: list(SETS))
    beams: list[int] = field(default_factory=lambda: [1, 4])
    max_sents: int = 0  # first N lines of each set (0 = all; claims need all)
    hyps: Path = HYPS
    precision: str = "fp32"
    batch: int = 48  # greedy: sentences per batch (the engine-vs-PyTorch check batches 48 too)
    beam_batch: int = 16  # beam search: 64 rows; measured 1.2x faster than 48 sentences, same translations
    device: str = "cpu"
    budget: str | None = None  # default: budget_of(training)


def evaluate_model(model, tok, store: HypStore, o: EvalOptions, log: str = "") -> tuple[dict, dict]:
    """Scores {lang: {split: {mode: {chrF2, BLEU, n}}}} and decoding speed {mode: {sentences, seconds}}; hypotheses
    already in `store` (same weights, whole set) are scored without decoding again."""
    scores: dict = {}
    speed: dict = {}
    for lang in LANGS:
        for split in o.sets:
            ds = read_set(o.data, lang, split, o.max_sents)
            if ds is None:
                continue
            src, ref = ds
            for b in o.beams:
                mode = MODES.get(b, f"beam{b}")
                hyp = store.read(lang, split, mode, len(src))
                if hyp is None:
                    t0 = time.time()
                    with autocast(o.precision, o.device):
                        hyp = translate(model, tok, src, lang, b, batch=o.batch if b <= 1 else o.beam_batch)
                    dt = time.time() - t0
                    store.write(lang, split, mode, hyp)
                    sp = speed.setdefault(mode, {"sentences": 0, "seconds": 0.0})
                    sp["sentences"] += len(src)
                    sp["seconds"] = round(sp["seconds"] + dt, 1)
                    print(f"{log} {lang} {split} {mode}: {len(src)} in {dt:.0f}s", file=sys.stderr, flush=True)
                scores.setdefault(lang, {}).setdefault(split, {})[mode] = score(hyp, ref, lang)
    return scores, speed


def evaluate_variant(d: Path, o: EvalOptions) -> dict:
    """An export folder (models/<variant>/): an entry {variant, budget, routing, params, training, scores, eval}."""
    model, tok, conf = load_export(d)
    return evaluate_loaded(model, tok, conf["variant"], conf.get("training", {}), o)


def evaluate_snapshot(run: Path, ckpt: str, spm: Path, o: EvalOptions, variant: str = "") -> dict:
    """A run's snapshot (`tokens-25M.pt`), rounded to f16 as export.py rounds it: the same weights as its export."""
    model, state = load_checkpoint(run, ckpt)
    round_f16(model)
    variant = variant or f"{model.cfg.enc_routing}_{model.cfg.dec_routing}"
    training = {"steps": state["step"], "tokens_seen": state["tokens"], "checkpoint": f"{run}/{ckpt}"}
    return evaluate_loaded(model, Tokenizer(spm), variant, training, o)


def evaluate_loaded(model, tok, variant: str, training: dict, o: EvalOptions) -> dict:
    budget = o.budget or budget_of(training) or f"step-{training.get('steps')}"
    weights = fingerprint(model)
    store = HypStore(o.hyps, f"{variant}@{budget}", weights)
    scores, speed = evaluate_model(model.to(o.device), tok, store, o, f"{variant}@{budget}")
    return {
        "variant": variant,
        "budget": budget,
        "routing": {"encoder": model.cfg.enc_routing, "decoder": model.cfg.dec_routing},
        "params": param_counts(model),
        "training": training,
        "scores": scores,
        "eval": {
            "max_sents": o.max_sents,
            "beams": o.beams,
            "precision": o.precision,
            "batch": {"greedy": o.batch, "beam": o.beam_batch},
            "device": o.device,
            "torch": torch.__version__,
            "sacrebleu": sacrebleu.__version__,
            "weights_sha1": weights,
            "hyps": str(store.dir),
            "speed": speed,
        },
    }


def evaluate_baselines(data: Path, max_sents: int, sets: list[str]) -> dict:
    out: dict = {"copy": {}, "apertium": {}}
    for lang in LANGS:
        for split in sets:
            ds = read_set(data, lang, split, max_sents)
            if ds is None:
                continue
            src, ref = ds
            out["copy"].setdefault(lang, {})[split] = score(src, ref, lang)
            if lang == "es":
                hyp = apertium(src)
                if hyp is not None:
                    out["apertium"].setdefault("es", {})[split] = score(hyp, ref, lang)
    return out


# ---------------------------------------------------------------------------------------------------- bootstrap


def resample_counts(n: int, seed: int, samples: int = BOOTSTRAP_SAMPLES) -> np.ndarray:
    """[samples, n] how often each sentence is drawn in each resample: the indices sacrebleu's paired bootstrap draws
    (`np.random.default_rng(seed).choice(n, size=(samples, n))`), as counts so a resample's statistics are one product."""
    idx = np.random.default_rng(seed).choice(n, size=(samples, n), replace=True)
    # uint8: a sentence is drawn at most n times, and for n > 255 practically never more than 15 times
    return np.stack([np.bincount(row, minlength=n) for row in idx]).astype(np.uint8)


def stratum_seed(lang: str, split: str) -> int:
    """One fixed seed per (language, set): every system is resampled with the same sentences there (paired)."""
    return BOOTSTRAP_SEED + zlib.crc32(f"{lang}/{split}".encode())


def resampled_scores(hyp: list[str], ref: list[str], lang: str, name: str, counts: np.ndarray) -> tuple[float, np.ndarray]:
    """The corpus score and its value on every resample, from sacrebleu's own sentence statistics and score formula
    (what sacrebleu's paired bootstrap computes for each system)."""
    m = metric(name, lang)
    stats = np.array(m._extract_corpus_statistics(hyp, [ref]), dtype=np.float64)  # [n, k], integer counts
    full = m._compute_score_from_stats(stats.sum(0)).score
    return full, np.array([m._compute_score_from_stats(row).score for row in counts.astype(np.float64) @ stats])


def paired_bootstrap(strata: list[tuple[float, np.ndarray, float, np.ndarray]]) -> dict:
    """Paired bootstrap of the difference a - b of a mean of corpus scores (one stratum: one corpus score).

    Each stratum is (a's score, a's resampled scores, b's score, b's resampled scores), both resampled with the same
    sentences; a resample of the mean resamples every stratum. sacrebleu's paired bootstrap (`--paired-bs`,
    `sacrebleu.significance.PairedTest`) reports each system's own interval and a p-value, not an interval of the
    difference; this draws the same resamples (seed, 1,000 resamples), takes the 95% percentile interval of the
    differences with sacrebleu's index rule (the 25th and 975th of 1,000), and its p-value is sacrebleu's."""
    a = float(np.mean([s[0] for s in strata]))
    b = float(np.mean([s[2] for s in strata]))
    d = np.mean([s[1] - s[3] for s in strata], axis=0)  # [samples]
    srt = np.sort(d)
    k = len(srt) // 40
    lo, hi = float(srt[k]), float(srt[len(srt) - k - 1])
    centred = np.abs(d) - np.abs(d).mean()  # sacrebleu's p-value: |difference| against its resampled spread
    p = (int(np.sum(centred > abs(a - b))) + 1) / (len(d) + 1)
    return {
        "a": round(a, 2),
        "b": round(b, 2),
        "diff": round(a - b, 2),
        "mean": round(float(d.mean()), 2),
        "lo": round(lo, 2),
        "hi": round(hi, 2),
        "p": round(p, 4),
        "verdict": verdict_of(lo, hi),
    }


def verdict_of(lo: float, hi: float) -> str:
    """met: the whole 95% interval of a - b above 0; missed: below 0; inconclusive: it straddles 0."""
    return "met" if lo > 0 else "missed" if hi < 0 else "inconclusive"


def combine(verdicts: list[str]) -> str:
    """A claim over several languages: met if met on each, missed if missed on any, else inconclusive."""
    if any(v == "missed" for v in verdicts):
        return "missed"
    return "met" if verdicts and all(v == "met" for v in verdicts) else "inconclusive"


class Resampler:
    """Caches each system's resampled scores per (language, set, mode, metric): every claim reuses them."""

    def __init__(self, data: Path, samples: int = BOOTSTRAP_SAMPLES):
        self.data, self.samples = data, samples
        self.refs: dict = {}
        self.counts: dict = {}
        self.cache: dict = {}

    def ref(self, lang: str, split: str) -> list[str] | None:
        if (lang, split) not in self.refs:
            ds = read_set(self.data, lang, split)
            self.refs[lang, split] = ds[1] if ds else None
        return self.refs[lang, split]

    def get(self, store: HypStore, lang: str, split: str, mode: str, name: str) -> tuple[float, np.ndarray] | None:
        key = (str(store.dir), lang, split, mode, name)
        if key not in self.cache:
            ref = self.ref(lang, split)
            hyp = store.read(lang, split, mode, len(ref)) if ref is not None else None
            if hyp is None:
                self.cache[key] = None
            else:
                if (lang, split) not in self.counts:
                    self.counts[lang, split] = resample_counts(len(ref), stratum_seed(lang, split), self.samples)
                self.cache[key] = resampled_scores(hyp, ref, lang, name, self.counts[lang, split])
        return self.cache[key]


def compare(rs: Resampler, sa: HypStore, sb: HypStore, splits: list[str], mode: str, name: str) -> dict | None:
    """a against b on the mean over `splits`: per language and on the average over languages (None if a set lacks
    hypotheses for either system)."""
    per: dict = {}
    for lang in LANGS:
        strata = []
        for split in splits:
            if rs.ref(lang, split) is None:
                continue
            ra, rb = rs.get(sa, lang, split, mode, name), rs.get(sb, lang, split, mode, name)
            if ra is None or rb is None:
                return None
            strata.append((ra[0], ra[1], rb[0], rb[1]))
        if strata:
            per[lang] = strata
    if not per:
        return None
    return {
        "langs": {lang: paired_bootstrap(s) for lang, s in per.items()},
        # the average over languages of each language's mean over sets
        "avg": paired_bootstrap(
            [
                (
                    float(np.mean([x[0] for x in s])),
                    np.mean([x[1] for x in s], axis=0),
                    float(np.mean([x[2] for x in s])),
                    np.mean([x[3] for x in s], axis=0),
                )
                for s in per.values()
            ]
        ),
    }


def judge_budget(
    results: dict, budget: str, hyps: Path, data: Path, modes=("beam4", "greedy"), samples: int = BOOTSTRAP_SAMPLES
) -> dict | None:
    """Every claim whose two variants were evaluated at `budget`, on each test set and on the mean over test sets."""
    entries = {v: per[budget] for v, per in results.get("evaluations", {}).items() if budget in per}
    rs = Resampler(data, samples)
    splits = [s for s in TESTS if any(rs.ref(lang, s) is not None for lang in LANGS)]
    out: dict = {}
    for c in CLAIMS:
        if c["a"] not in entries or c["b"] not in entries:
            continue
        sa, sb = HypStore(hyps, f"{c['a']}@{budget}"), HypStore(hyps, f"{c['b']}@{budget}")
        for mode in modes:
            rows: dict = {}
            for name in METRICS:
                for row, sp in [("tests", splits), *((s, [s]) for s in splits)]:
                    r = compare(rs, sa, sb, sp, mode, name)
                    if r is not None:
                        rows.setdefault(row, {})[name] = r
            if "tests" not in rows:
                continue
            verdict = {}
            for name in METRICS:
                r = rows["tests"][name]
                if c["scope"] == "each":
                    worst = min(r["langs"], key=lambda lang: r["langs"][lang]["diff"])
                    verdict[name] = {"verdict": combine([x["verdict"] for x in r["langs"].values()]), "worst": worst}
                else:
                    verdict[name] = {"verdict": r["avg"]["verdict"]}
            out.setdefault(mode, {})[c["id"]] = {**c, "verdict": verdict, "rows": rows}
    if not out:
        return None
    return {
        "variants": {v: {k: e.get("training", {}).get(k) for k in ("steps", "tokens_seen")} for v, e in entries.items()},
        "bootstrap": {
            "method": "paired bootstrap of the difference (sacrebleu's resamples and statistics), 95% percentile interval",
            "samples": samples,
            "seed": f"{BOOTSTRAP_SEED} + crc32(lang/set)",
            "statistic": "mean over test sets of corpus scores; 'average' claims: mean over languages of that",
        },
        **out,
    }


# ---------------------------------------------------------------------------------------------------- results file


def load_results(path: Path) -> dict:
    """models/results.json; evaluations before token budgets (step counts, first N sentences) move to `archive`."""
    r = json.loads(path.read_text()) if path.exists() else {}
    if r and "format" not in r and r.get("baselines"):  # the old format's baselines: first N sentences, old corpus
        r["archive_baselines"] = {"baselines": r.pop("baselines"), "eval": r.pop("baselines_eval", {})}
    r.setdefault("evaluations", {})
    r.setdefault("baselines", {})
    archive = r.setdefault("archive", {})
    for name, e in list(archive.items()):  # old flat `<variant>@<steps>` keys
        if "@" in name and "scores" in e:
            v, steps = name.split("@", 1)
            archive.setdefault(v, {})[f"step-{steps}"] = archive.pop(name)
    for v, e in r.pop("variants", {}).items():  # the old format's latest evaluations
        archive.setdefault(v, {})[f"step-{e.get('training', {}).get('steps')}"] = e
    return r


@contextlib.contextmanager
def results_lock(path: Path):
    """An exclusive lock (fcntl, a file in the temporary folder) while a process reads, merges and writes results.json."""
    import fcntl
    import tempfile

    key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    with open(Path(tempfile.gettempdir()) / f"taskmoe-results-{key}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def save_results(path: Path, results: dict) -> None:
    results["format"] = 2
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def merge_entry(results: dict, entry: dict) -> None:
    per = results["evaluations"].setdefault(entry["variant"], {})
    prev = per.get(entry["budget"])
    if prev and prev.get("eval", {}).get("weights_sha1") == entry["eval"]["weights_sha1"]:
        # same weights: merge (e.g. greedy on every set, then beam 4 in another run)
        for lang, sp in entry["scores"].items():
            for split, modes in sp.items():
                prev["scores"].setdefault(lang, {}).setdefault(split, {}).update(modes)
        speed = prev["eval"].get("speed", {})
        prev["eval"] = {**entry["eval"], "speed": {**speed, **entry["eval"]["speed"]}}
    else:
        per[entry["budget"]] = entry


def budgets(results: dict) -> list[str]:
    """Every budget some variant was evaluated at, most tokens first."""
    bs = {b for per in results.get("evaluations", {}).values() for b in per}
    return sorted(bs, key=lambda b: -budget_tokens(b) if not b.startswith("step-") else 0)


def judge_all(results: dict, hyps: Path, data: Path, only: list[str] | None = None) -> None:
    for b in only or budgets(results):
        j = judge_budget(results, b, hyps, data)
        if j is not None:
            results.setdefault("claims", {})[b] = j


# ---------------------------------------------------------------------------------------------------- README


def avg(xs):
    xs = [x for x in xs if x is not None]
    return round(sum(xs) / len(xs), 2) if xs else None


def fmt_ci(s: dict) -> str:
    return f"{s['diff']:+.2f} [{s['lo']:+.2f}, {s['hi']:+.2f}]"


def render_scores(results: dict) -> list[str]:
    def name(v: str, b: str, e: dict) -> str:
        ms = e.get("eval", {}).get("max_sents")
        return f"{v}@{b}" + (f" (first {ms})" if ms else "")

    rows = [(name(v, b, per[b]), per[b]) for b in budgets(results) for v, per in results["evaluations"].items() if b in per]
    lines = []
    splits = [s for s in SETS if any(s in sp for _, e in rows for sp in e["scores"].values())]
    if not rows:
        return lines
    lines.append('\n**Average over languages** (chrF2 / BLEU; whole sets unless marked "first N")\n')
    lines += ["| system | mode | " + " | ".join(splits) + " |", "|" + "---|" * (len(splits) + 2)]
    for name, e in rows:
        for mode in ("greedy", "beam4"):
            cells = []
            for split in splits:
                c = [e["scores"].get(lang, {}).get(split, {}).get(mode) for lang in LANGS]
                cells.append(f"{avg([x['chrF2'] for x in c if x])} / {avg([x['BLEU'] for x in c if x])}" if any(c) else "-")
            if any(x != "-" for x in cells):
                lines.append(f"| {name} | {mode} | " + " | ".join(cells) + " |")
    copy = results.get("baselines", {}).get("copy", {})
    if copy:
        cells = []
        for split in splits:
            c = [copy.get(lang, {}).get(split) for lang in LANGS]
            cells.append(f"{avg([x['chrF2'] for x in c if x])} / {avg([x['BLEU'] for x in c if x])}" if any(c) else "-")
        lines.append("| copy source | - | " + " | ".join(cells) + " |")
    for split in splits:
        lines.append(f"\n**{split}** (chrF2 / BLEU per language)\n")
        lines += ["| system | " + " | ".join(LANGS) + " | avg chrF2 |", "|" + "---|" * (len(LANGS) + 2)]
        for name, e in rows:
            for mode in ("greedy", "beam4"):
                c = [e["scores"].get(lang, {}).get(split, {}).get(mode) for lang in LANGS]
                if any(c):
                    cells = [f"{x['chrF2']:.1f} / {x['BLEU']:.1f}" if x else "-" for x in c]
                    lines.append(f"| {name} {mode} | " + " | ".join(cells) + f" | {avg([x['chrF2'] for x in c if x])} |")
        for bname, bl in results.get("baselines", {}).items():
            c = [bl.get(lang, {}).get(split) for lang in LANGS]
            if any(c):
                cells = [f"{x['chrF2']:.1f} / {x['BLEU']:.1f}" if x else "-" for x in c]
                mean = avg([x["chrF2"] for x in c if x]) if bname == "copy" else ""
                lines.append(f"| {bname} | " + " | ".join(cells) + f" | {mean} |")
    lines.append("\n**Variants** (parameters; training budget)\n")
    lines += [
        "| system | enc/dec routing | total params | active / token | extracted / task | steps | tokens seen |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, e in rows:
        p, t = e["params"], e.get("training", {})
        lines.append(
            f"| {name} | {e['routing']['encoder']}/{e['routing']['decoder']} | {p['total']:,} | {p['active_per_token']:,} | "
            f"{p['extracted_per_task']:,} | {t.get('steps')} | {t.get('tokens_seen', 0):,} |"
        )
    return lines


def render_claims(results: dict, mode: str = "beam4") -> list[str]:
    lines = []
    for b, j in results.get("claims", {}).items():
        claims = j.get(mode) or j.get("greedy")
        if not claims:
            continue
        m = mode if mode in j else "greedy"
        lines.append(f"\n**Claims at {b} tokens each** ({m}; difference a - b and its 95% paired-bootstrap interval, ")
        lines[-1] += f"{j['bootstrap']['samples']:,} resamples; met / missed: the interval above / below 0)\n"
        for c in claims.values():
            tests = c["rows"]["tests"]
            parts = []
            for name in METRICS:
                v, r = c["verdict"][name], tests[name]
                if c["scope"] == "each":
                    w = v["worst"]
                    parts.append(f"{name} **{v['verdict']}** (worst: {w} {fmt_ci(r['langs'][w])})")
                else:
                    parts.append(f"{name} **{v['verdict']}** ({fmt_ci(r['avg'])}; {r['avg']['a']} vs {r['avg']['b']})")
            lines.append(f"- {c['text']} ({c['a']} vs {c['b']}), mean over test sets: " + "; ".join(parts))
        lines += ["", "| claim | metric | set | " + " | ".join(LANGS) + " | average |", "|" + "---|" * (len(LANGS) + 4)]
        for c in claims.values():
            for name in METRICS:
                for row, r in c["rows"].items():
                    if name not in r:
                        continue
                    cells = [
                        fmt_ci(r[name]["langs"][lang]) + f" {r[name]['langs'][lang]['verdict']}"
                        if lang in r[name]["langs"]
                        else "-"
                        for lang in LANGS
                    ]
                    lines.append(
                        f"| {c['id']} | {name} | {row} | "
                        + " | ".join(cells)
                        + f" | {fmt_ci(r[name]['avg'])} {r[name]['avg']['verdict']} |"
                    )
    return lines


def render_archive(results: dict) -> list[str]:
    arch = results.get("archive", {})
    if not arch:
        return []
    lines = [
        "\n**Archive**: evaluations before token budgets (budget in steps; first `max_sents` sentences per set; average chrF2)\n",
        "| system | tokens seen | sentences per set | mode | dev | test.lohelp | test.wesnoth |",
        "|---|---|---|---|---|---|---|",
    ]
    for v, per in arch.items():
        for b, e in per.items():
            for mode in ("greedy", "beam4"):
                cells = [
                    avg([e["scores"].get(lang, {}).get(s, {}).get(mode, {}).get("chrF2") for lang in LANGS])
                    for s in ("dev", "test.lohelp", "test.wesnoth")
                ]
                if any(c is not None for c in cells):
                    ms = e.get("eval", {}).get("max_sents", "?")
                    lines.append(
                        f"| {v}@{b} | {e.get('training', {}).get('tokens_seen', 0):,} | {ms or 'all'} | {mode} | "
                        + " | ".join(str(c if c is not None else "-") for c in cells)
                        + " |"
                    )
    return lines


def render_dev_curves(results_dir: Path) -> list[str]:
    from training.eval.dev_curve import render

    return render(results_dir / "dev_curves")


# Issue 12 item 4's targets for the shipped models: (text, set, mode, language or None for the average, threshold;
# None: 2 above Apertium on the same set)
TARGETS = [
    ("average chrF2 on test.lohelp, beam 4, >= 50", "test.lohelp", "beam4", None, 50.0),
    ("en-es chrF2 on test.lohelp, beam 4, >= Apertium + 2", "test.lohelp", "beam4", "es", None),
    ("average chrF2 on test.wesnoth, greedy, >= 30", "test.wesnoth", "greedy", None, 30.0),
]


def judge_targets(results: dict, variants=("task_task", "token_task")) -> list[str]:
    """The targets, met or missed and by how much, for each shipped variant's evaluation with the most tokens."""
    lines = []
    for v in variants:
        per = results.get("evaluations", {}).get(v, {})
        full = [b for b in budgets(results) if b in per and not per[b].get("eval", {}).get("max_sents")]
        if not full:
            continue
        e = per[full[0]]
        for text, split, mode, lang, thr in TARGETS:
            got = [
                e["scores"].get(x, {}).get(split, {}).get(mode, {}).get("chrF2")
                for x in ([lang] if lang else [x for x in LANGS if x in e["scores"]])
            ]
            if not got or any(g is None for g in got):
                continue
            x = avg(got)
            if thr is None:
                ap = results.get("baselines", {}).get("apertium", {}).get(lang, {}).get(split)
                if not ap or results.get("baselines_eval", {}).get("max_sents"):
                    continue
                thr = round(ap["chrF2"] + 2, 2)
            ok = "**met**" if x >= thr else "**missed**"
            lines.append(f"- {v}@{full[0]}: {text}: {ok} by {x - thr:+.2f} ({x} vs {thr})")
    return ["\n**Targets** (issue 12, shipped variants at their largest evaluated budget)\n", *lines] if lines else []


def render(results: dict, results_dir: Path | None = None) -> str:
    lines = render_scores(results) + judge_targets(results) + render_claims(results)
    if results_dir is not None:
        lines += render_dev_curves(results_dir)
    lines += render_archive(results)
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, table: str) -> None:
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    text = readme.read_text() if readme.exists() else f"# taskmoe models\n\n{start}\n{end}\n"
    if start not in text:
        text += f"\n{start}\n{end}\n"
    pre, rest = text.split(start, 1)
    _, post = rest.split(end, 1)
    readme.write_text(pre + start + "\n" + table + end + post)


# ---------------------------------------------------------------------------------------------------- CLI


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=Path, default=Path("models"), help="folder holding <variant>/ exports")
    ap.add_argument("--variants", nargs="*", default=[], help="export folders under --models to evaluate")
    ap.add_argument("--run", type=Path, help="a run folder: evaluate its snapshot --ckpt instead of an export")
    ap.add_argument("--ckpt", default="tokens-25M.pt", help="snapshot in --run (weights rounded to f16)")
    ap.add_argument("--variant", default="", help="name for --run's variant (default <enc>_<dec> routing)")
    ap.add_argument("--spm", type=Path, default=Path("training/work/spm/spm.model"), help="tokenizer for --run")
    ap.add_argument("--budget", default=None, help="budget label (default: tokens seen rounded to 0.1M, e.g. 25M)")
    ap.add_argument("--results", type=Path, default=Path("models"), help="where results.json and README.md live")
    ap.add_argument("--hyps", type=Path, default=HYPS, help="where hypotheses are kept (<variant>@<budget>/)")
    ap.add_argument("--data", type=Path, default=Path("training/work/data"))
    ap.add_argument("--max-sents", type=int, default=0, help="first N lines of each set (0 = all; claims need all)")
    ap.add_argument("--beams", default="1,4")
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="bf16: CPU autocast (PyTorch 2)")
    ap.add_argument("--baselines", action="store_true")
    ap.add_argument("--judge", action="store_true", help="recompute every budget's claims from saved hypotheses")
    ap.add_argument("--batch", type=int, default=48, help="sentences per greedy batch (sorted by length)")
    ap.add_argument("--beam-batch", type=int, default=16, help="sentences per beam-search batch")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda where a GPU is present")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    a.results.mkdir(parents=True, exist_ok=True)
    path = a.results / "results.json"
    beams = [int(b) for b in a.beams.split(",")]
    o = EvalOptions(a.data, a.sets.split(","), beams, a.max_sents, a.hyps, a.precision, a.batch, a.beam_batch, a.device, a.budget)
    entries = [evaluate_variant(a.models / v, o) for v in a.variants]
    if a.run:
        entries.append(evaluate_snapshot(a.run, a.ckpt, a.spm, o, a.variant))
    with results_lock(path):  # evaluations of several variants may finish at the same time
        results = load_results(path)  # reload: another evaluation may have written meanwhile
        for e in entries:
            merge_entry(results, e)
        if a.baselines:
            results["baselines"] = evaluate_baselines(a.data, a.max_sents, o.sets)
            results["baselines_eval"] = {"max_sents": a.max_sents}
        if a.judge or entries:
            judge_all(results, a.hyps, a.data, None if a.judge else sorted({e["budget"] for e in entries}))
        save_results(path, results)
        update_readme(a.results / "README.md", render(results, a.results))


if __name__ == "__main__":
    main()

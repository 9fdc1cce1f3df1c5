"""Dev curve of a run and issue 12's convergence rule: stop when dev chrF2 gained less than 0.3 over the last 10M tokens.

Evaluates every `tokens-*.pt` snapshot of a run not yet on its curve on the full dev set (greedy, weights rounded to
f16 as an export would be, chrF2 averaged over languages), appends it to `<run>/dev_curve.json` and copies the curve
to `models/dev_curves/<run name>.json` (committed; shown in models/README.md). Hypotheses go where evaluate.py keeps
them (`training/work/eval/<run name>@<budget>/<lang>.dev.greedy.txt`).

  training/.venv/bin/python -m training.eval.dev_curve --run training/work/runs/task_task
  training/.venv/bin/python -m training.eval.dev_curve --run training/work/runs/task_task --follow   # beside training

The rule compares the best dev score so far with the best at least 10M tokens earlier (a dip does not count as a
loss, a new best counts as a gain); it needs a point 10M tokens before the last one to say anything. The best
snapshot by dev score is the one to ship.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import torch

from training.eval.evaluate import HYPS, EvalOptions, HypStore, avg, budget_of, evaluate_model, fingerprint
from training.taskmoe_train.export import load_checkpoint, round_f16
from training.taskmoe_train.model import LANGS
from training.taskmoe_train.tokenizer import Tokenizer
from training.taskmoe_train.train import parse_token_counts

WINDOW = 10_000_000
MIN_GAIN = 0.3


def snapshots(run: Path) -> list[Path]:
    """tokens-*.pt of a run, fewest tokens first."""
    snaps = [p for p in run.glob("tokens-*.pt") if re.fullmatch(r"tokens-[0-9.]+[KMG]?\.pt", p.name)]
    return sorted(snaps, key=lambda p: parse_token_counts(p.name[len("tokens-") : -len(".pt")])[0])


def convergence(points: list[dict], window: int = WINDOW, min_gain: float = MIN_GAIN) -> dict:
    """Whether the best dev chrF2 gained less than `min_gain` over the last `window` tokens.

    points: [{tokens, chrF2}] (tokens: the snapshot's nominal budget). converged is None while the curve is shorter
    than the window."""
    pts = sorted(points, key=lambda p: p["tokens"])
    if not pts:
        return {"converged": None, "reason": "no points"}
    last = pts[-1]["tokens"]
    best = max(pts, key=lambda p: p["chrF2"])
    earlier = [p for p in pts if p["tokens"] <= last - window]
    out = {
        "last_tokens": last,
        "best": {"tokens": best["tokens"], "chrF2": best["chrF2"]},
        "window": window,
        "min_gain": min_gain,
    }
    if not earlier:
        return {**out, "converged": None, "reason": f"needs a point {window / 1e6:g}M tokens before the last"}
    gain = round(best["chrF2"] - max(p["chrF2"] for p in earlier), 2)
    return {**out, "since_tokens": earlier[-1]["tokens"], "gain": gain, "converged": gain < min_gain}


def describe(c: dict) -> str:
    if c.get("converged") is None:
        return f"convergence rule not decidable yet ({c.get('reason')})"
    since, last = c["since_tokens"] / 1e6, c["last_tokens"] / 1e6
    state = "**converged**" if c["converged"] else "**still improving**"
    return (
        f"{state}: best dev chrF2 gained {c['gain']:+.2f} from {since:g}M to {last:g}M tokens "
        f"(rule: less than {c['min_gain']} over {c['window'] / 1e6:g}M); best at {c['best']['tokens'] / 1e6:g}M "
        f"({c['best']['chrF2']})"
    )


def load_curve(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {"points": []}


def write_json(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def update_curve(
    run: Path,
    spm: Path,
    data: Path,
    hyps: Path = HYPS,
    out: Path | None = None,
    name: str = "",
    max_sents: int = 0,
    precision: str = "fp32",
) -> dict:
    """Adds every snapshot not yet on the curve; returns the curve with its convergence verdict."""
    name = name or run.name
    path = run / "dev_curve.json"
    curve = load_curve(path)
    done = {p["checkpoint"] for p in curve["points"]}
    tok = None
    for snap in snapshots(run):
        if snap.name in done:
            continue
        tok = tok or Tokenizer(spm)
        model, state = load_checkpoint(run, snap.name)
        round_f16(model)
        budget = budget_of({"tokens_seen": state["tokens"]})
        store = HypStore(hyps, f"{name}@{budget}", fingerprint(model))
        t0 = time.time()
        o = EvalOptions(data, ["dev"], [1], max_sents, hyps, precision)
        scores, _ = evaluate_model(model, tok, store, o, f"{name}@{budget}")
        chrf = {lang: scores[lang]["dev"]["greedy"]["chrF2"] for lang in LANGS if lang in scores}
        curve["points"].append(
            {
                "checkpoint": snap.name,
                "tokens": int(parse_token_counts(snap.name[len("tokens-") : -len(".pt")])[0]),
                "tokens_seen": state["tokens"],
                "steps": state["step"],
                "chrF2": avg(chrf.values()),
                "per_language": chrf,
                "BLEU": avg(scores[lang]["dev"]["greedy"]["BLEU"] for lang in chrf),
                "sentences": sum(scores[lang]["dev"]["greedy"]["n"] for lang in chrf),
                "seconds": round(time.time() - t0, 1),
            }
        )
        curve["points"].sort(key=lambda p: p["tokens"])
        curve.update({"run": name, "set": "dev", "mode": "greedy", "max_sents": max_sents})
        curve["convergence"] = convergence(curve["points"])
        write_json(path, curve)  # after every point: a long curve survives an interruption
        print(f"{name} {snap.name}: dev chrF2 {curve['points'][-1]['chrF2']}", file=sys.stderr, flush=True)
    curve["convergence"] = convergence(curve["points"])
    if out is not None and curve["points"]:
        write_json(out / f"{name}.json", curve)
    return curve


def render(folder: Path) -> list[str]:
    """models/README.md lines: each committed dev curve and its convergence verdict."""
    files = sorted(folder.glob("*.json")) if folder.exists() else []
    if not files:
        return []
    lines = ["\n**Dev curves** (full dev set, greedy, average chrF2 over languages; convergence rule of issue 12)\n"]
    for f in files:
        c = json.loads(f.read_text())
        pts = ", ".join(f"{p['tokens'] / 1e6:g}M {p['chrF2']}" for p in c["points"])
        lines.append(f"- {c.get('run', f.stem)}: {pts}; {describe(c['convergence'])}")
    return lines


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--name", default="", help="curve name (default: the run folder's name)")
    ap.add_argument("--spm", type=Path, default=Path("training/work/spm/spm.model"))
    ap.add_argument("--data", type=Path, default=Path("training/work/data"))
    ap.add_argument("--hyps", type=Path, default=HYPS)
    ap.add_argument("--out", default="models/dev_curves", help="folder for the committed copy of the curve ('' for none)")
    ap.add_argument("--max-sents", type=int, default=0)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--follow", action="store_true", help="keep adding snapshots as the run writes them, until it is DONE")
    ap.add_argument("--poll", type=float, default=120.0, help="seconds between looks for new snapshots (--follow)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    out = Path(a.out) if a.out else None
    while True:
        done = (a.run / "DONE").exists()  # looked at first: a snapshot written before DONE is never missed
        n = len(load_curve(a.run / "dev_curve.json")["points"])
        curve = update_curve(a.run, a.spm, a.data, a.hyps, out, a.name, a.max_sents, a.precision)
        if len(curve["points"]) > n and out is not None and (out.parent / "results.json").exists():
            from training.eval.evaluate import load_results, render, update_readme

            update_readme(out.parent / "README.md", render(load_results(out.parent / "results.json"), out.parent))
        print(json.dumps(curve["convergence"]), flush=True)
        print(describe(curve["convergence"]), flush=True)
        if not a.follow or done:
            break
        time.sleep(a.poll)


if __name__ == "__main__":
    main()

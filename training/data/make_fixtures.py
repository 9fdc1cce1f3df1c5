"""Cuts the small committed fixture corpus (training/fixtures/) out of a built corpus.

Real pairs from LibreOffice (MPL-2.0) and Battle for Wesnoth 1.16 (GPL-2.0-or-later); see
training/fixtures/README.md. Deterministic: every k-th short line.

  /usr/bin/python3 -m training.data.make_fixtures --data training/work/data --out training/fixtures
"""

from __future__ import annotations

import argparse
from pathlib import Path

FIXTURE_LANGS = ["de", "es", "zh-cn"]
SIZES = {"train": 120, "dev": 8, "test.lohelp": 8, "test.wesnoth": 8}


def pick(src: list[str], tgt: list[str], n: int, max_words: int = 14) -> list[tuple[str, str]]:
    cand = [(s, t) for s, t in zip(src, tgt) if 2 <= len(s.split()) <= max_words and len(t) <= 120]
    step = max(1, len(cand) // n)
    return cand[::step][:n]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("training/work/data"))
    ap.add_argument("--out", type=Path, default=Path("training/fixtures"))
    a = ap.parse_args(argv)
    for lang in FIXTURE_LANGS:
        d = a.out / lang
        d.mkdir(parents=True, exist_ok=True)
        for split, n in SIZES.items():
            src = (a.data / lang / f"{split}.src").read_text(encoding="utf-8").splitlines()
            tgt = (a.data / lang / f"{split}.tgt").read_text(encoding="utf-8").splitlines()
            pairs = pick(src, tgt, n)
            (d / f"{split}.src").write_text("".join(s + "\n" for s, _ in pairs), encoding="utf-8")
            (d / f"{split}.tgt").write_text("".join(t + "\n" for _, t in pairs), encoding="utf-8")


if __name__ == "__main__":
    main()

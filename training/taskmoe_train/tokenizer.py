"""Shared SentencePiece unigram model for all eight tasks.

Ids: pad=0, unk=1, bos=2 (<s>), eos=3 (</s>), then the target-language tags <2de> ... <2zh-cn>
as user-defined symbols (ids 4..11, in LANGS order). Normalisation is `identity` (no NFKC), so the
engine needs no normaliser and Chinese full-width punctuation survives decoding.

  /usr/bin/python3 -m training.taskmoe_train.tokenizer --data training/work/data --out training/work/spm
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import sentencepiece as spm

from training.data.build import LANGS

PAD, UNK, BOS, EOS = 0, 1, 2, 3


def tag(lang: str) -> str:
    return f"<2{lang}>"


def train_spm(
    data: Path, out_prefix: Path, vocab_size: int = 8000, per_lang: int = 25000, seed: int = 1234, hard_vocab_limit: bool = True
) -> Path:
    """Samples `per_lang` target lines per language and as many English lines (from all tasks), trains."""
    rng = random.Random(seed)
    lines: list[str] = []
    english: list[str] = []
    for lang in LANGS:
        if not (data / lang).exists():  # the fixture corpus holds only some languages
            continue
        src = (data / lang / "train.src").read_text(encoding="utf-8").splitlines()
        tgt = (data / lang / "train.tgt").read_text(encoding="utf-8").splitlines()
        idx = sorted(rng.sample(range(len(tgt)), min(per_lang, len(tgt))))
        lines += [tgt[i] for i in idx]
        english += src
    english = sorted(set(english))
    lines += [english[i] for i in sorted(rng.sample(range(len(english)), min(per_lang, len(english))))]
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    corpus = out_prefix.with_suffix(".corpus.txt")
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(out_prefix),
        model_type="unigram",
        vocab_size=vocab_size,
        character_coverage=0.9995,
        normalization_rule_name="identity",
        pad_id=PAD,
        unk_id=UNK,
        bos_id=BOS,
        eos_id=EOS,
        pad_piece="<pad>",
        unk_piece="<unk>",
        bos_piece="<s>",
        eos_piece="</s>",
        user_defined_symbols=",".join(tag(lang) for lang in LANGS),
        input_sentence_size=0,
        shuffle_input_sentence=False,
        num_threads=2,
        hard_vocab_limit=hard_vocab_limit,
        minloglevel=2,
    )
    corpus.unlink()
    return out_prefix.with_suffix(".model")


class Tokenizer:
    """Wraps the SentencePiece model with the taskmoe id conventions."""

    def __init__(self, model_path: str | Path):
        self.path = Path(model_path)
        self.sp = spm.SentencePieceProcessor(model_file=str(model_path))
        self.lang_tag_ids = {lang: self.sp.piece_to_id(tag(lang)) for lang in LANGS}
        assert self.sp.pad_id() == PAD and self.sp.unk_id() == UNK and self.sp.bos_id() == BOS and self.sp.eos_id() == EOS
        assert all(i != UNK for i in self.lang_tag_ids.values())

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text)

    def source_ids(self, text: str, lang: str) -> list[int]:
        """[<2xx>] + pieces + [</s>]."""
        return [self.lang_tag_ids[lang]] + self.sp.encode(text) + [EOS]

    def decode(self, ids: list[int]) -> str:
        ids = [i for i in ids if i > EOS]
        return self.sp.decode(ids)


def measure(tok: Tokenizer, data: Path, split: str = "dev") -> dict:
    """Pieces per line (English source, target) and <unk> rate per language on a split."""
    out = {}
    for lang in LANGS:
        if not (data / lang / f"{split}.src").exists():
            continue
        src = (data / lang / f"{split}.src").read_text(encoding="utf-8").splitlines()
        tgt = (data / lang / f"{split}.tgt").read_text(encoding="utf-8").splitlines()
        s_ids = [tok.encode(x) for x in src]
        t_ids = [tok.encode(x) for x in tgt]
        n_t = sum(map(len, t_ids))
        out[lang] = {
            "src_per_line": round(sum(map(len, s_ids)) / len(src), 2),
            "tgt_per_line": round(n_t / len(tgt), 2),
            "tgt_unk_per_mille": round(1000 * sum(i.count(UNK) for i in t_ids) / max(n_t, 1), 2),
        }
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--measure", nargs="*", type=Path, help="only print pieces per line of these models on --data dev")
    ap.add_argument("--data", type=Path, default=Path("training/work/data"))
    ap.add_argument("--out", type=Path, default=Path("training/work/spm/spm"), help="model prefix")
    ap.add_argument("--vocab-size", type=int, default=16000)
    ap.add_argument("--per-lang", type=int, default=25000)
    a = ap.parse_args(argv)
    if a.measure:
        import json

        for m in a.measure:
            print(m, json.dumps(measure(Tokenizer(m), a.data)))
        return
    path = train_spm(a.data, a.out, a.vocab_size, a.per_lang)
    tok = Tokenizer(path)
    print(path, "vocab", tok.vocab_size, "tags", tok.lang_tag_ids)


if __name__ == "__main__":
    main()

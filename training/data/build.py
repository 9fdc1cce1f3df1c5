"""Builds the parallel corpus for taskmoe's eight tasks (English -> de fr es it pt-br cs ru zh-cn).

One command:  /usr/bin/python3 -m training.data.build --out training/work/data

Sources come from Debian's archive with `apt-get download` and are unpacked with `dpkg-deb -x`
(nothing is installed): LibreOffice help (aligned 1:1 by paragraph/heading id), LibreOffice UI
(gettext catalogs), Battle for Wesnoth 1.16 (gettext catalogs; the "Heir to the Throne"
campaign is held out as test.wesnoth), GIMP's help (HTML pages from one DocBook source, aligned by page, named
anchor and block order; 5 % of pages held out as test.gimp) and UI catalogs, Firefox ESR's and Thunderbird's
language packs (Fluent messages keyed by file and id against the application's en-US; 5 % of files held out as
test.mozilla), and the gettext catalogs of Inkscape, VLC, digiKam, GnuCash and Kdenlive (Kdenlive's whole catalog
held out as test.apps). Licenses: LibreOffice MPL-2.0, Wesnoth GPL-2+, GIMP help GFDL-1.2+, GIMP and Inkscape
GPL-2+/GPL-3+, Firefox and Thunderbird MPL-2.0, VLC GPL-2+, digiKam, GnuCash and Kdenlive GPL-2+.

Never read here: GNOME help (/usr/share/help, gnome-user-docs) and the Debian Administrator's Handbook,
reserved for independent evaluation.

The build is deterministic: files are visited in sorted order, the dev/test split is a hash of the
help page path, and deduplication keeps the first occurrence.
"""

from __future__ import annotations

import argparse
import gettext
import hashlib
import html
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

LANGS = ["de", "fr", "es", "it", "pt-br", "cs", "ru", "zh-cn"]
HELP_DIR = {"de": "de", "fr": "fr", "es": "es", "it": "it", "pt-br": "pt-BR", "cs": "cs", "ru": "ru", "zh-cn": "zh-CN"}
GETTEXT_DIR = {"de": "de", "fr": "fr", "es": "es", "it": "it", "pt-br": "pt_BR", "cs": "cs", "ru": "ru", "zh-cn": "zh_CN"}
WESNOTH_CAMPAIGNS = [
    "did",
    "dm",
    "dw",
    "ei",
    "httt",
    "l",
    "low",
    "nr",
    "sof",
    "sota",
    "sotbe",
    "thot",
    "trow",
    "tsg",
    "ttb",
    "utbs",
]
HELDOUT_DOMAIN = "wesnoth-httt"
GIMP_HELP_DIR = {"de": "de", "fr": "fr", "es": "es", "it": "it", "pt-br": "pt_BR", "cs": "cs", "ru": "ru", "zh-cn": "zh_CN"}
MOZILLA_APPS = ("firefox-esr", "thunderbird")
FIREFOX_PKG = {"de": "de", "fr": "fr", "es": "es-es", "it": "it", "pt-br": "pt-br", "cs": "cs", "ru": "ru", "zh-cn": "zh-cn"}
FIREFOX_LOCALE = {"de": "de", "fr": "fr", "es": "es-ES", "it": "it", "pt-br": "pt-BR", "cs": "cs", "ru": "ru", "zh-cn": "zh-CN"}
# gettext catalogs of applications (msgid -> msgstr); the last domain is held out whole as test.apps.
APP_PACKAGES = ["gimp-data", "libgimp2.0", "inkscape", "vlc-l10n", "digikam-data", "gnucash-common", "kdenlive-data"]
APP_DOMAINS = [
    "gimp20", "gimp20-libgimp", "gimp20-std-plug-ins", "gimp20-script-fu", "gimp20-python", "inkscape", "vlc", "digikam",
    "gnucash",
]  # fmt: skip
APP_HELDOUT_DOMAIN = "kdenlive"
# GIMP help pages and Mozilla (Firefox, Thunderbird) Fluent files held out (md5 bucket of the page / file path).
GIMP_TEST_BUCKETS = range(0, 5)
MOZILLA_TEST_BUCKETS = range(0, 5)

# Split of LibreOffice help pages by md5(page path) % 100.
DEV_BUCKETS = range(0, 2)
TEST_BUCKETS = range(2, 5)
MAX_CHARS = 400

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / "training" / ".cache"


def packages() -> list[str]:
    pk = ["libreoffice-help-en-us"]
    for lang in LANGS:
        pk += [f"libreoffice-help-{lang}", f"libreoffice-l10n-{lang}"]
    pk += ["wesnoth-1.16-data"] + [f"wesnoth-1.16-{c}" for c in WESNOTH_CAMPAIGNS]
    pk += ["gimp-help-en"] + [f"gimp-help-{lang}" for lang in LANGS]
    for app in MOZILLA_APPS:
        pk += [app] + [f"{app}-l10n-{FIREFOX_PKG[lang]}" for lang in LANGS]
    pk += APP_PACKAGES
    return pk


def fetch(cache: Path) -> Path:
    """apt-get download + dpkg-deb -x into cache/root; returns the unpacked root. Idempotent."""
    debs, root = cache / "debs", cache / "root"
    debs.mkdir(parents=True, exist_ok=True)
    have = {p.name.split("_")[0] for p in debs.glob("*.deb")}
    missing = [p for p in packages() if p not in have]
    if missing:
        print(f"apt-get download {len(missing)} packages ...", file=sys.stderr)
        subprocess.run(["apt-get", "download", *missing], cwd=debs, check=True)
    marker = root / ".unpacked"
    names = sorted(p.name for p in debs.glob("*.deb"))
    if not marker.exists() or marker.read_text() != "\n".join(names):
        root.mkdir(parents=True, exist_ok=True)
        for n in names:
            subprocess.run(["dpkg-deb", "-x", str(debs / n), str(root)], check=True)
        marker.write_text("\n".join(names))
    return root


# ----------------------------------------------------------------------------- text cleaning

_WS = re.compile(r"\s+")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_PLACEHOLDER = re.compile(
    r"%[0-9]*\$?[-+ #0-9.]*[sdifuxXcgeplL]|%[0-9]+|%[A-Z][A-Z_0-9]+%?|\$\([A-Za-z0-9_]+\)|\$[A-Za-z_][A-Za-z0-9_.|]*|"
    r"\{[^{}]*\}|\[[^\[\]]*\]|<[^<>]*>|\\[nt]"
)


def norm_ws(s: str) -> str:
    return _WS.sub(" ", s).strip()


def strip_accel(s: str) -> str:
    s = s.replace("~", "")
    s = re.sub(r"(?<![A-Za-z0-9_])_(?=\w)", "", s)  # GTK mnemonic "_Open", "Save _As"
    s = re.sub(r"&(?=[^\W\d_])(?![A-Za-z]+;)", "", s)  # "&File", but not "&amp;"
    return s


def has_words(s: str) -> bool:
    """False for empty, placeholder-only or punctuation-only strings."""
    rest = _PLACEHOLDER.sub(" ", s)
    return sum(ch.isalpha() for ch in rest) >= 2 or any("\u3400" <= ch <= "\u9fff" for ch in rest)


def clean_ui(s: str) -> str:
    s = html.unescape(_TAG.sub("", strip_accel(s)))
    return norm_ws(s)


def clean_wesnoth(s: str) -> str:
    s = _TAG.sub("", s)
    s = s.replace("&#8203;", "")
    return norm_ws(html.unescape(s))


def ok_pair(en: str, tgt: str) -> bool:
    if not en or not tgt or not has_words(en) or not has_words(tgt):
        return False
    if len(en) > MAX_CHARS or len(tgt) > MAX_CHARS:
        return False
    r = len(tgt) / len(en)
    return 0.15 < r < 6.0


# ----------------------------------------------------------------------------- LibreOffice help


class _HelpParser(HTMLParser):
    """Collects the text of every element whose id is a localisation id (par_*, hd_*)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None]] = []  # (tag, id if collecting)
        self.cur: list[str] | None = None
        self.cur_id: str | None = None
        self.depth = 0
        self.segments: list[tuple[str, str]] = []
        self.skip = 0

    VOID = {"br", "img", "meta", "link", "input", "hr", "area", "base", "col", "embed", "source", "wbr"}

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            if tag == "br" and self.cur is not None:
                self.cur.append(" ")
            return
        a = dict(attrs)
        if self.cur is None:
            ident = a.get("id") or ""
            if ident.startswith(("par_", "hd_")):
                self.cur, self.cur_id, self.depth = [], ident, 0
        if self.cur is not None:
            self.depth += 1
            if tag in ("script", "style"):
                self.skip += 1

    def handle_endtag(self, tag):
        if tag in self.VOID or self.cur is None:
            return
        if tag in ("script", "style") and self.skip:
            self.skip -= 1
        self.depth -= 1
        if self.depth == 0:
            self.segments.append((self.cur_id, norm_ws("".join(self.cur))))
            self.cur, self.cur_id = None, None

    def handle_data(self, data):
        if self.cur is not None and not self.skip:
            self.cur.append(data)


def help_segments(path: Path) -> dict[str, str]:
    p = _HelpParser()
    p.feed(path.read_text(encoding="utf-8", errors="replace"))
    out: dict[str, str] = {}
    seen: dict[str, int] = {}
    for ident, text in p.segments:
        k = seen.get(ident, 0)
        seen[ident] = k + 1
        out[f"{ident}#{k}"] = text
    return out


def page_bucket(rel: str) -> int:
    return int(hashlib.md5(rel.encode()).hexdigest(), 16) % 100


def help_pairs(root: Path) -> dict[str, list[tuple[str, str, str]]]:
    """lang -> [(page, en, tgt)] in sorted page order, segment order within page."""
    base = root / "usr/share/libreoffice/help"
    en_dir = base / "en-US"
    pages = sorted(str(p.relative_to(en_dir)) for p in en_dir.rglob("*.html"))
    out: dict[str, list[tuple[str, str, str]]] = {lang: [] for lang in LANGS}
    for rel in pages:
        en = help_segments(en_dir / rel)
        for lang in LANGS:
            tp = base / HELP_DIR[lang] / rel
            if not tp.exists():
                continue
            tg = help_segments(tp)
            for key, es in en.items():
                ts = tg.get(key)
                if ts is None or ts == es:  # missing or left untranslated (falls back to English)
                    continue
                if ok_pair(es, ts):
                    out[lang].append((rel, es, ts))
    return out


# ----------------------------------------------------------------------------- gettext catalogs


def mo_pairs(path: Path) -> list[tuple[str, str]]:
    with open(path, "rb") as f:
        cat = gettext.GNUTranslations(f)._catalog  # noqa: SLF001 - the stdlib .mo reader
    out = []
    for key in sorted(cat, key=lambda k: (k if isinstance(k, str) else k[0], 0 if isinstance(k, str) else k[1])):
        val = cat[key]
        if isinstance(key, tuple):
            if key[1] != 0:
                continue
            key = key[0]
        if not key:
            continue  # header
        msgid = key.split("\x04", 1)[-1]
        out.append((msgid, val))
    return out


def ui_pairs(root: Path, lang: str) -> list[tuple[str, str]]:
    d = root / "usr/lib/libreoffice/program/resource" / GETTEXT_DIR[lang] / "LC_MESSAGES"
    out = []
    for mo in sorted(d.glob("*.mo")):
        for en, tg in mo_pairs(mo):
            en, tg = clean_ui(en), clean_ui(tg)
            if ok_pair(en, tg):
                out.append((en, tg))
    return out


def _split_lines(en: str, tg: str) -> list[tuple[str, str]]:
    """Multi-paragraph Wesnoth strings: split line by line when both sides have the same shape."""
    el = [x for x in en.split("\n") if x.strip()]
    tl = [x for x in tg.split("\n") if x.strip()]
    if len(el) > 1 and len(el) == len(tl):
        return list(zip(el, tl))
    return [(en, tg)]


def wesnoth_pairs(root: Path, lang: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(train pairs, held-out HttT pairs)."""
    d = root / "usr/share/games/wesnoth/1.16/locale" / GETTEXT_DIR[lang] / "LC_MESSAGES"
    train, held = [], []
    for mo in sorted(d.glob("*.mo")):
        dest = held if mo.stem == HELDOUT_DOMAIN else train
        for en, tg in mo_pairs(mo):
            for e, t in _split_lines(en, tg):
                e, t = clean_wesnoth(e), clean_wesnoth(t)
                if ok_pair(e, t):
                    dest.append((e, t))
    return train, held


# ----------------------------------------------------------------------------- GIMP help

_NUMBERING = re.compile(r"^(?:[0-9]+\.)+[0-9]*\s+|^[A-Z]\.(?:[0-9]+\.)*\s+")
_AUTO_ID = re.compile(r"^(?:idm?[0-9]+|id[0-9a-f]+|[a-z]+-id[0-9]+)$")


class _GimpParser(HTMLParser):
    """Block texts (p, h1-h6, dt, th, td without nested p) of a DocBook HTML page, each tagged with the last
    named anchor before it (DocBook's generated `idm123` ids differ between languages and are ignored)."""

    BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "dt", "th", "td", "caption"}
    SKIP = {"pre", "script", "style", "code"}
    VOID = _HelpParser.VOID

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchor = ""
        self.stack: list[tuple[str, list[str]]] = []
        self.skip = 0
        self.nav = 0
        self.blocks: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        ident = a.get("id") or a.get("name") or ""
        if ident and not _AUTO_ID.match(ident):
            self.anchor = ident
        if tag in self.VOID:
            if tag == "br" and self.stack:
                self.stack[-1][1].append(" ")
            return
        if tag == "div" and (a.get("class") or "") in ("navheader", "navfooter"):
            self.nav += 1
            self.stack.append(("div-nav", []))
            return
        if tag in self.SKIP:
            self.skip += 1
        if tag in self.BLOCKS:
            if self.stack and self.stack[-1][0] in ("td", "th"):
                self.stack[-1] = (self.stack[-1][0] + "-container", self.stack[-1][1])
            self.stack.append((tag, []))
        else:
            self.stack.append((tag, []))

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        # pop to the matching tag (HTML pages here are well formed XHTML)
        while self.stack:
            name, buf = self.stack.pop()
            if name == "div-nav":
                self.nav -= 1
            base = name.split("-")[0] if name != "div-nav" else "div"
            if base in self.SKIP:
                self.skip -= 1
            if name in self.BLOCKS and not self.nav:
                text = norm_ws("".join(buf))
                if text:
                    self.blocks.append((self.anchor, text))
            elif self.stack and name not in self.BLOCKS and not name.endswith("-container"):
                self.stack[-1][1].extend(buf)
            if base == tag:
                break

    def handle_data(self, data):
        if self.stack and not self.skip and not self.nav:
            self.stack[-1][1].append(data)


def gimp_blocks(path: Path) -> list[tuple[str, str]]:
    p = _GimpParser()
    p.feed(path.read_text(encoding="utf-8", errors="replace"))
    return [(a, _NUMBERING.sub("", t)) for a, t in p.blocks]


def _by_anchor(blocks: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for a, t in blocks:
        out.setdefault(a, []).append(t)
    return out


def gimp_help_pairs(root: Path) -> dict[str, list[tuple[str, str, str]]]:
    """lang -> [(page, en, tgt)]: same page, same named anchor, same number of blocks -> zipped in order."""
    base = root / "usr/share/gimp/2.0/help"
    en_dir = base / "en"
    pages = sorted(str(p.relative_to(en_dir)) for p in en_dir.rglob("*.html"))
    out: dict[str, list[tuple[str, str, str]]] = {lang: [] for lang in LANGS}
    for rel in pages:
        en = _by_anchor(gimp_blocks(en_dir / rel))
        for lang in LANGS:
            tp = base / GIMP_HELP_DIR[lang] / rel
            if not tp.exists():
                continue
            tg = _by_anchor(gimp_blocks(tp))
            for anchor, es in en.items():
                ts = tg.get(anchor)
                if ts is None or len(ts) != len(es):
                    continue
                for e, t in zip(es, ts):
                    if e != t and ok_pair(e, t):
                        out[lang].append((rel, e, t))
    return out


# ----------------------------------------------------------------------------- Firefox, Thunderbird (Fluent)

_FTL_MSG = re.compile(r"^(-?[A-Za-z][A-Za-z0-9_-]*)\s*=\s?(.*)$")
_FTL_ATTR = re.compile(r"^\s+\.([A-Za-z][A-Za-z0-9_-]*)\s*=\s?(.*)$")
_FTL_BRAND = re.compile(r"\{\s*-(brand-short-name|brand-shorter-name|brand-full-name|brand-product-name)\s*\}")
_FTL_VENDOR = re.compile(r"\{\s*-vendor-short-name\s*\}")
_FTL_SKIP_ATTRS = {"accesskey", "commandkey", "key", "style", "width", "height", "modifiers"}


def ftl_messages(text: str, product: str = "Firefox") -> dict[str, str]:
    """Fluent resource -> {id or id.attr: text}. Messages with variables, selectors or other references are
    dropped (the model should not learn to invent them); brand terms become the product's name."""
    out: dict[str, str] = {}
    cur_id, cur_attr, parts = None, None, []

    def flush():
        if cur_id is None or cur_id.startswith("-"):
            return
        key = cur_id if cur_attr is None else f"{cur_id}.{cur_attr}"
        if cur_attr in _FTL_SKIP_ATTRS:
            return
        v = " ".join(x.strip() for x in parts if x.strip())
        v = _FTL_VENDOR.sub("Mozilla", _FTL_BRAND.sub(product, v))
        if "{" in v or "}" in v or not v:
            return
        out[key] = norm_ws(html.unescape(_TAG.sub("", v)))

    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            if not line.strip():
                continue
            flush()
            cur_id, cur_attr, parts = None, None, []
            continue
        m = _FTL_MSG.match(line)
        if m and not line[0].isspace():
            flush()
            cur_id, cur_attr, parts = m.group(1), None, [m.group(2)]
            continue
        m = _FTL_ATTR.match(line)
        if m and cur_id is not None:
            flush()
            cur_attr, parts = m.group(1), [m.group(2)]
            continue
        if cur_id is not None and line[0].isspace():
            parts.append(line)
    flush()
    return out


def _ftl_files(zip_path: Path, locale: str) -> dict[str, str]:
    """rel path after localization/<locale>/ (with its prefix, e.g. browser/) -> text."""
    import zipfile

    out: dict[str, str] = {}
    with zipfile.ZipFile(zip_path) as z:
        for n in sorted(z.namelist()):
            marker = f"localization/{locale}/"
            if not n.endswith(".ftl") or marker not in n:
                continue
            pre, rel = n.split(marker, 1)
            out[pre + rel] = z.read(n).decode("utf-8", errors="replace")
    return out


def mozilla_pairs(root: Path, app: str, lang: str) -> list[tuple[str, str, str]]:
    """[(file, en, tgt)] for Fluent messages present in both the application's en-US and its language pack."""
    base = root / "usr/lib" / app
    en: dict[str, str] = {}
    if app == "firefox-esr":
        en.update(_ftl_files(base / "omni.ja", "en-US"))
        en.update({"browser/" + k: v for k, v in _ftl_files(base / "browser/omni.ja", "en-US").items()})
        xpi_dir, product = base / "browser/extensions", "Firefox"
    else:
        en.update(_ftl_files(base / "omni.ja", "en-US"))
        xpi_dir, product = base / "extensions", "Thunderbird"
    loc = FIREFOX_LOCALE[lang]
    tg = _ftl_files(xpi_dir / f"langpack-{loc}@{app}.mozilla.org.xpi", loc)
    out = []
    for rel in sorted(en):
        if rel not in tg:
            continue
        em, tm = ftl_messages(en[rel], product), ftl_messages(tg[rel], product)
        for key, e in em.items():
            t = tm.get(key)
            if t is not None and t != e and ok_pair(e, t):
                out.append((f"{app}/{rel}", e, t))
    return out


# ----------------------------------------------------------------------------- application catalogs


def app_pairs(root: Path, lang: str, domains: list[str]) -> list[tuple[str, str]]:
    out = []
    d = root / "usr/share/locale" / GETTEXT_DIR[lang] / "LC_MESSAGES"
    for dom in domains:
        mo = d / f"{dom}.mo"
        if not mo.exists():
            continue
        for en, tg in mo_pairs(mo):
            for e, t in _split_lines(en, tg):
                e, t = clean_ui(e), clean_ui(t)
                if e != t and ok_pair(e, t):
                    out.append((e, t))
    return out


# ----------------------------------------------------------------------------- assembly


def dedupe(pairs):
    seen, out = set(), []
    for p in pairs:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def write_split(d: Path, name: str, pairs: list[tuple[str, str]]) -> None:
    with open(d / f"{name}.src", "w", encoding="utf-8") as fs, open(d / f"{name}.tgt", "w", encoding="utf-8") as ft:
        for s, t in pairs:
            assert "\n" not in s and "\n" not in t
            fs.write(s + "\n")
            ft.write(t + "\n")


SOURCES = ("lohelp", "loui", "wesnoth", "gimphelp", "mozilla", "apps")
TESTS = ("test.lohelp", "test.wesnoth", "test.gimp", "test.mozilla", "test.apps")


def build(out: Path, cache: Path = CACHE) -> dict:
    root = fetch(cache)
    print("parsing LibreOffice help ...", file=sys.stderr)
    hp = help_pairs(root)
    print("parsing GIMP help ...", file=sys.stderr)
    gp = gimp_help_pairs(root)
    per_lang = {}
    for lang in LANGS:
        dev, test, help_train = [], [], []
        for page, e, t in hp[lang]:
            b = page_bucket(page)
            (dev if b in DEV_BUCKETS else test if b in TEST_BUCKETS else help_train).append((e, t))
        gimp_test, gimp_train = [], []
        for page, e, t in gp[lang]:
            (gimp_test if page_bucket(page) in GIMP_TEST_BUCKETS else gimp_train).append((e, t))
        moz_test, moz_train = [], []
        for app in MOZILLA_APPS:
            for rel, e, t in mozilla_pairs(root, app, lang):
                (moz_test if page_bucket(rel) in MOZILLA_TEST_BUCKETS else moz_train).append((e, t))
        wes, held = wesnoth_pairs(root, lang)
        per_lang[lang] = {
            "dev": dedupe(dev),
            "test.lohelp": dedupe(test),
            "test.wesnoth": dedupe(held),
            "test.gimp": dedupe(gimp_test),
            "test.mozilla": dedupe(moz_test),
            "test.apps": dedupe(app_pairs(root, lang, [APP_HELDOUT_DOMAIN])),
            "lohelp": help_train,
            "loui": ui_pairs(root, lang),
            "wesnoth": wes,
            "gimphelp": gimp_train,
            "mozilla": moz_train,
            "apps": app_pairs(root, lang, APP_DOMAINS),
        }

    # English sides of every evaluation set, over all languages: never trained on.
    heldout_en = set()
    for v in per_lang.values():
        for k in ("dev", *TESTS):
            heldout_en.update(e for e, _ in v[k])

    counts: dict = {"languages": LANGS, "per_language": {}}
    for lang in LANGS:
        v = per_lang[lang]
        seen: set = set()
        train, by_src = [], {}
        for src_name in SOURCES:
            n = 0
            for p in v[src_name]:
                if p in seen or p[0] in heldout_en:
                    continue
                seen.add(p)
                train.append(p)
                n += 1
            by_src[src_name] = {"raw": len(v[src_name]), "kept": n}
        d = out / lang
        d.mkdir(parents=True, exist_ok=True)
        write_split(d, "train", train)
        for k in ("dev", *TESTS):
            write_split(d, k, v[k])
        counts["per_language"][lang] = {
            "train": len(train),
            "train_by_source": by_src,
            **{k: len(v[k]) for k in ("dev", *TESTS)},
        }
        print(lang, counts["per_language"][lang], file=sys.stderr)
    counts["sources"] = sorted(p.name for p in (cache / "debs").glob("*.deb"))
    counts["licenses"] = {
        "LibreOffice help and UI": "MPL-2.0",
        "Battle for Wesnoth 1.16": "GPL-2.0-or-later",
        "GIMP help": "GFDL-1.2-or-later",
        "GIMP, Inkscape, VLC, digiKam, GnuCash, Kdenlive catalogs": "GPL-2.0-or-later / GPL-3.0-or-later",
        "Firefox ESR, Thunderbird": "MPL-2.0",
    }
    (out / "counts.json").write_text(json.dumps(counts, indent=1, ensure_ascii=False) + "\n")
    return counts


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "training/work/data")
    ap.add_argument("--cache", type=Path, default=CACHE)
    a = ap.parse_args(argv)
    build(a.out, a.cache)


if __name__ == "__main__":
    os.environ.setdefault("LC_ALL", "C.UTF-8")
    main()

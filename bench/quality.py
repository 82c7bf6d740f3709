"""Extraction quality on the replica corpus: archive.text.extract vs plain trafilatura, per source.

For every manifest entry with a gold file: token precision/recall/F1 of the TXT body (text after
line 2; NFC, U+200B-U+200D/U+FEFF removed, whitespace tokens, multiset overlap), exact title,
exact date (vs meta.published) and the number of output lines that the gold policy calls
boilerplate. Real pages of sites without a spec count as source "generic".

    .venv/bin/python -m bench.quality [--corpus tests/corpus] [--json] [--variants]

``--variants`` scores the synthetic unseen-template variants of the gold pages instead
(tests/variants.py: other PIB/NDTV/Webdunia templates, redesigns, AMP, boilerplate inserted into
the body), per variant kind and source; "leaks" counts inserted boilerplate found in the output.

The peer set (``tests/peer``: 93 real pages in 22 languages, gold from other projects) is scored
next to the corpus, ours vs plain ``trafilatura.extract`` on the same bytes, per language (mean
and min) and, with ``-v``, per page. Pages in scripts written without spaces (Japanese, Chinese,
Thai, ...) are scored on characters instead of whitespace tokens (tests/peer/README.md, rule 4).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import trafilatura

from archive.text.agreement import units
from archive.text.boilerplate import is_boilerplate_line
from archive.text.extract import extract
from archive.text.seedfile import no_space_script

_ZW = dict.fromkeys(map(ord, "\u200b\u200c\u200d\ufeff"), None)


def tokens(text: str) -> list[str]:
    return unicodedata.normalize("NFC", text).translate(_ZW).split()


def body_of(txt: str) -> str:
    """Text after the headline and the empty line 2."""
    return "\n".join(txt.split("\n")[2:])


CHAR_LANGUAGES = frozenset({"ja", "zh", "th", "lo", "km", "my"})  # no spaces between words
BEHIND = 0.02  # a page is behind plain trafilatura when its F1 is lower by more than this


def prf(got: str, gold: str, chars: bool = False) -> tuple[float, float, float]:
    """Precision, recall, F1 over whitespace tokens, or over characters with ``chars``."""
    if chars:
        got_t, gold_t = units(got, True), units(gold, True)
    else:
        got_t, gold_t = Counter(tokens(got)), Counter(tokens(gold))
    overlap = sum((got_t & gold_t).values())
    p = overlap / sum(got_t.values()) if got_t else 0.0
    r = overlap / sum(gold_t.values()) if gold_t else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def articles(corpus: Path):
    for manifest in sorted(corpus.glob("manifest*.jsonl")):
        for line in manifest.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if entry.get("gold") and entry.get("body"):
                yield entry


def score_entry(corpus: Path, entry: dict) -> dict:
    body = (corpus / entry["body"]).read_bytes()
    gold = (corpus / entry["gold"]).read_text(encoding="utf-8")
    meta = entry.get("meta", {})
    ctype = entry.get("headers", {}).get("Content-Type")
    ours = extract(body, entry["url"], ctype)
    txt = ours.txt_bytes().decode("utf-8") if ours.is_article else ""
    p, r, f = prf(body_of(txt), body_of(gold))
    plain = trafilatura.extract(body.decode("utf-8", "replace")) or ""
    *_, plain_f = prf(plain, body_of(gold))
    lines = body_of(txt).split("\n")
    return {
        "url": entry["url"], "source": entry["source"], "is_article": ours.is_article,
        "reason": ours.reason, "precision": p, "recall": r, "f1": f, "plain_f1": plain_f,
        "title_ok": ours.title == meta.get("title"),
        "date_ok": ours.published == meta.get("published"),
        "title": ours.title, "published": ours.published,
        "boilerplate_lines": sum(1 for ln in lines if ln and is_boilerplate_line(ln)),
    }  # fmt: skip


def score_variant(corpus: Path, v) -> dict:
    """One tests.variants.Variant against its gold, like score_entry."""
    gold = (corpus / v.entry["gold"]).read_text(encoding="utf-8")
    meta = v.entry.get("meta", {})
    ours = extract(v.body, v.url, "text/html; charset=utf-8")
    txt = ours.txt_bytes().decode("utf-8") if ours.is_article else ""
    p, r, f = prf(body_of(txt), body_of(gold))
    *_, plain_f = prf(trafilatura.extract(v.body.decode("utf-8")) or "", body_of(gold))
    lines = body_of(txt).split("\n")
    return {
        "url": v.url, "source": v.source, "kind": v.kind, "is_article": ours.is_article,
        "reason": ours.reason, "precision": p, "recall": r, "f1": f, "plain_f1": plain_f,
        "title_ok": ours.title == meta.get("title"),
        "date_ok": ours.published == meta.get("published") if v.keeps_date else None,
        "boilerplate_lines": sum(1 for ln in lines if ln and is_boilerplate_line(ln)),
        "leaks": [s for s in v.must_not if s in body_of(txt)],
    }  # fmt: skip


def summarize_variants(rows: list[dict]) -> dict[str, dict]:
    """Per "kind / source" and per kind ("kind / all")."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups[f"{row['kind']} / {row['source']}"].append(row)
        groups[f"{row['kind']} / all"].append(row)
    out = summarize_groups(groups)
    for name, rs in groups.items():
        dated = [r["date_ok"] for r in rs if r["date_ok"] is not None]
        out[name]["date"] = sum(dated) / len(dated) if dated else None
        out[name]["leaks"] = sum(len(r["leaks"]) for r in rs)
    return out


def variants_markdown(summary: dict[str, dict]) -> str:
    cols = ["kind / source", "n", "F1 (ours)", "min F1", "P", "R", "F1 (plain trafilatura)"]
    cols += ["title exact", "date exact", "boilerplate lines", "inserted leaks"]
    rows = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, s in summary.items():
        date = "n/a" if s["date"] is None else f"{s['date']:.0%}"
        name = f"**{name}**" if name.endswith("/ all") else name
        rows.append(
            f"| {name} | {s['n']} | {s['f1']:.3f} | {s['min_f1']:.3f} | {s['precision']:.3f} | "
            f"{s['recall']:.3f} | {s['plain_f1']:.3f} | {s['title']:.0%} | {date} | "
            f"{s['boilerplate_lines']} | {s['leaks']} |"
        )
    return "\n".join(rows)


def summarize(rows: list[dict]) -> dict[str, dict]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups[row["source"]].append(row)
        groups["overall"].append(row)
    return summarize_groups(groups)


def summarize_groups(groups: dict[str, list[dict]]) -> dict[str, dict]:
    return {
        name: {
            "n": len(rs),
            "f1": statistics.mean(r["f1"] for r in rs),
            "min_f1": min(r["f1"] for r in rs),
            "precision": statistics.mean(r["precision"] for r in rs),
            "recall": statistics.mean(r["recall"] for r in rs),
            "plain_f1": statistics.mean(r["plain_f1"] for r in rs),
            "title": sum(r["title_ok"] for r in rs) / len(rs),
            "date": sum(bool(r["date_ok"]) for r in rs) / len(rs),
            "boilerplate_lines": sum(r["boilerplate_lines"] for r in rs),
        }
        for name, rs in sorted(groups.items(), key=lambda kv: (kv[0] == "overall", kv[0]))
        if rs
    }


def markdown(summary: dict[str, dict]) -> str:
    cols = ["source", "n", "F1 (ours)", "min F1", "P", "R", "F1 (plain trafilatura)"]
    cols += ["title exact", "date exact", "boilerplate lines"]
    head = "| " + " | ".join(cols) + " |"
    rows = [head, "|" + "---|" * 10]
    for name, s in summary.items():
        rows.append(
            f"| {name} | {s['n']} | {s['f1']:.3f} | {s['min_f1']:.3f} | {s['precision']:.3f} | "
            f"{s['recall']:.3f} | {s['plain_f1']:.3f} | {s['title']:.0%} | {s['date']:.0%} | "
            f"{s['boilerplate_lines']} |"
        )
    return "\n".join(rows)


def char_scored(language: str | None, gold_body: str) -> bool:
    return language in CHAR_LANGUAGES or no_space_script(gold_body)


def score_peer(peer: Path, entry: dict) -> dict:
    """One peer page: ours and plain trafilatura against the gold body."""
    body = (peer / entry["body"]).read_bytes()
    gold = body_of((peer / entry["gold"]).read_text(encoding="utf-8"))
    lang = entry.get("meta", {}).get("language")
    chars = char_scored(lang, gold)
    ours = extract(body, entry["url"], entry.get("headers", {}).get("Content-Type"))
    txt = body_of(ours.txt_bytes().decode("utf-8")) if ours.is_article else ""
    p, r, f = prf(txt, gold, chars)
    plain = trafilatura.extract(body.decode("utf-8", "replace")) or ""
    *_, plain_f = prf(plain, gold, chars)
    return {
        "page": Path(entry["body"]).stem, "url": entry["url"], "language": lang,
        "publisher": entry.get("meta", {}).get("publisher"), "chars": chars,
        "is_article": ours.is_article, "reason": ours.reason, "path": ours.path,
        "agreement": ours.agreement, "precision": p, "recall": r, "f1": f, "plain_f1": plain_f,
    }  # fmt: skip


def summarize_peer(rows: list[dict]) -> dict[str, dict]:
    """Per language, then "all": mean and min of ours and plain, pages behind/ahead."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups[row["language"]].append(row)
        groups["all"].append(row)
    order = sorted(groups, key=lambda k: (k == "all", -len(groups[k]), k))
    return {name: _peer_group(groups[name]) for name in order}


def _peer_group(rs: list[dict]) -> dict:
    return {
        "n": len(rs),
        "unit": {0: "token", len(rs): "char"}.get(sum(r["chars"] for r in rs), "token/char"),
        "f1": statistics.mean(r["f1"] for r in rs),
        "min_f1": min(r["f1"] for r in rs),
        "plain_f1": statistics.mean(r["plain_f1"] for r in rs),
        "plain_min_f1": min(r["plain_f1"] for r in rs),
        "behind": sum(r["f1"] < r["plain_f1"] - BEHIND for r in rs),
        "ahead": sum(r["f1"] > r["plain_f1"] + BEHIND for r in rs),
    }


def peer_markdown(summary: dict[str, dict]) -> str:
    cols = ["language", "n", "unit", "F1 ours (mean)", "F1 ours (min)", "F1 plain (mean)"]
    cols += ["F1 plain (min)", f"behind (< plain - {BEHIND})", f"ahead (> plain + {BEHIND})"]
    rows = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, s in summary.items():
        label = f"**{name}**" if name == "all" else name
        rows.append(
            f"| {label} | {s['n']} | {s['unit']} | {s['f1']:.3f} | {s['min_f1']:.3f} | "
            f"{s['plain_f1']:.3f} | {s['plain_min_f1']:.3f} | {s['behind']} | {s['ahead']} |"
        )
    return "\n".join(rows)


def peer_pages_markdown(rows: list[dict]) -> str:
    cols = ["page", "publisher", "lang", "unit", "F1 ours", "F1 plain", "diff", "path"]
    cols += ["agreement", "reason"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        agree = "" if r["agreement"] is None else f"{r['agreement']:.3f}"
        out.append(
            f"| {r['page']} | {r['publisher']} | {r['language']} | "
            f"{'char' if r['chars'] else 'token'} | {r['f1']:.3f} | {r['plain_f1']:.3f} | "
            f"{r['f1'] - r['plain_f1']:+.3f} | {r['path'] or ''} | {agree} | {r['reason'] or ''} |"
        )
    return "\n".join(out)


def peer_entries(peer: Path) -> list[dict]:
    lines = (peer / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return [e for e in map(json.loads, lines) if e.get("gold") and e.get("body")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("tests/corpus"))
    parser.add_argument("--json", action="store_true", help="print rows and summary as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per page")
    parser.add_argument("--variants", action="store_true", help="score unseen-template variants")
    parser.add_argument("--peer", type=Path, default=Path("tests/peer"), help="peer set folder")
    parser.add_argument("--no-peer", action="store_true", help="skip the peer set")
    args = parser.parse_args(argv)
    peer_rows = []
    if not args.variants and not args.no_peer:
        peer_rows = [score_peer(args.peer, e) for e in peer_entries(args.peer)]
    if args.variants:
        from tests.variants import variants

        rows = [score_variant(args.corpus, v) for v in variants(args.corpus)]
        summary = summarize_variants(rows)
    else:
        rows = [score_entry(args.corpus, e) for e in articles(args.corpus)]
        summary = summarize(rows)
    if args.json:
        data = {"rows": rows, "summary": summary}
        if peer_rows:
            data["peer"] = {"rows": peer_rows, "summary": summarize_peer(peer_rows)}
        json.dump(data, sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    if args.verbose:
        for r in rows:
            flags = ("" if r["title_ok"] else " TITLE") + (" DATE" if r["date_ok"] is False else "")
            flags += f" {r.get('kind', '')} LEAKS={r['leaks']}" if r.get("leaks") else ""
            flags += f" {r['kind']}" if "kind" in r and not r["leaks"] else ""
            scores = f"{r['f1']:.3f} P{r['precision']:.2f} R{r['recall']:.2f}"
            print(f"{scores} plain {r['plain_f1']:.3f} bp{r['boilerplate_lines']}{flags}", end=" ")
            print(r["reason"] or "", r["url"][:90])
    print(variants_markdown(summary) if args.variants else markdown(summary))
    if peer_rows:
        print(f"\nPeer set ({args.peer}): ours vs plain trafilatura on the same bytes\n")
        print(peer_markdown(summarize_peer(peer_rows)))
        if args.verbose:
            print()
            print(peer_pages_markdown(peer_rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

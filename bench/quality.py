"""Extraction quality on the replica corpus: archive.extract vs plain trafilatura, per source.

For every manifest entry with a gold file: token precision/recall/F1 of the TXT body (text after
line 2; NFC, U+200B-U+200D/U+FEFF removed, whitespace tokens, multiset overlap), exact title,
exact date (vs meta.published) and the number of output lines that the gold policy calls
boilerplate. Real pages of sites without a spec count as source "generic".

    .venv/bin/python -m bench.quality [--corpus tests/corpus] [--json]
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

from archive.boilerplate import is_boilerplate_line
from archive.extract import extract

_ZW = dict.fromkeys(map(ord, "\u200b\u200c\u200d\ufeff"), None)


def tokens(text: str) -> list[str]:
    return unicodedata.normalize("NFC", text).translate(_ZW).split()


def body_of(txt: str) -> str:
    """Text after the headline and the empty line 2."""
    return "\n".join(txt.split("\n")[2:])


def prf(got: str, gold: str) -> tuple[float, float, float]:
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


def summarize(rows: list[dict]) -> dict[str, dict]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups[row["source"]].append(row)
        groups["overall"].append(row)
    return {
        name: {
            "n": len(rs),
            "f1": statistics.mean(r["f1"] for r in rs),
            "min_f1": min(r["f1"] for r in rs),
            "precision": statistics.mean(r["precision"] for r in rs),
            "recall": statistics.mean(r["recall"] for r in rs),
            "plain_f1": statistics.mean(r["plain_f1"] for r in rs),
            "title": sum(r["title_ok"] for r in rs) / len(rs),
            "date": sum(r["date_ok"] for r in rs) / len(rs),
            "boilerplate_lines": sum(r["boilerplate_lines"] for r in rs),
        }
        for name, rs in sorted(groups.items(), key=lambda kv: (kv[0] == "overall", kv[0]))
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("tests/corpus"))
    parser.add_argument("--json", action="store_true", help="print rows and summary as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per page")
    args = parser.parse_args(argv)
    rows = [score_entry(args.corpus, e) for e in articles(args.corpus)]
    summary = summarize(rows)
    if args.json:
        json.dump({"rows": rows, "summary": summary}, sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    if args.verbose:
        for r in rows:
            flags = ("" if r["title_ok"] else " TITLE") + ("" if r["date_ok"] else " DATE")
            scores = f"{r['f1']:.3f} P{r['precision']:.2f} R{r['recall']:.2f}"
            print(f"{scores} plain {r['plain_f1']:.3f} bp{r['boilerplate_lines']}{flags}", end=" ")
            print(r["reason"] or "", r["url"][:90])
    print(markdown(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

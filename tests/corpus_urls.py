"""Print the URLs of the bundled corpus, one per line (``--kind article`` to filter).

python -m tests.corpus_urls --kind article
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"


def manifest(corpus: Path = CORPUS) -> Iterator[dict]:
    for path in sorted(corpus.glob("manifest*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                yield json.loads(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", action="append", help="article, feed, sitemap, ...")
    parser.add_argument("--source", action="append")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    for entry in manifest(args.corpus):
        if args.kind and entry["kind"] not in args.kind:
            continue
        if args.source and entry["source"] not in args.source:
            continue
        print(entry["url"])


if __name__ == "__main__":
    main()

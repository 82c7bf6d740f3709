"""A local SQLite catalog of the archive, for browsing and full-text search.

Derived state only: the WARCs and the CDXJ file beside each are the truth, and the catalog can be
deleted at any time and rebuilt from them. ``update`` reads the index files it has not read yet
(each in one transaction with its row in ``indexes``, so an interrupted update is simply resumed);
``rebuild`` starts over.

Search uses FTS5 with the ``unicode61`` tokenizer told that marks (M*) are word characters: by
default it splits Devanagari words at every matra, virama, anusvara and nukta ("मंत्री" -> म, त,
र). Text and queries are put in one search form first: NFC, then ZWJ/ZWNJ (which would split a
word) and the nukta (often left out when typing: "जमीन" finds "ज़मीन") removed, and Devanagari
digits written as ASCII ones ("०५" finds "05" and the other way round).

The index holds the search form; snippets and highlights are cut from the display form kept in
``search_text`` (the text with only ZWJ/ZWNJ removed). The two tokenize into the same words at the
same positions (a nukta is inside a word, a digit is a digit in either script), which is what
FTS5's ``snippet()`` and ``highlight()`` need from an external-content table.

A page that got no TXT keeps its reason on its capture row (``reason``: the extraction's reason
from the metadata record, or ``HTTP <status>`` for an error response, which has none); a fetch
that got no response at all has no record, so the catalog cannot know it. An article whose
metadata record says ``version_of: <TXT key>`` is a later version of that TXT.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from archive.store import Store, path_from_uri
from archive.store.layout import default_spool_dir, is_local
from archive.text.seedfile import from_seed_txt, normalize
from archive.warc import cdxj, indexlog

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2
STORE_ID = "claims/store-id"
TOKENIZER = "unicode61 categories 'L* N* Co M*'"
_UNSHOWN = re.compile("[\u200c\u200d]")  # ZWNJ, ZWJ: they would split words
_UNSEARCHED = re.compile("[\u200c\u200d\u093c]")  # and the nukta: क़ is found by क
_DEVANAGARI_DIGIT = re.compile("[\u0966-\u096f]")  # searched as 0-9
MARK = ("\x02", "\x03")  # around each matched word in snippets (control characters: not in texts)

_SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE indexes (key TEXT PRIMARY KEY, captures INTEGER, articles INTEGER);
CREATE TABLE captures (
    url TEXT NOT NULL, warc TEXT NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
    status INTEGER, mime TEXT, digest TEXT, date TEXT, is_revisit INTEGER NOT NULL,
    source TEXT, reason TEXT,
    PRIMARY KEY (warc, offset));
CREATE INDEX captures_url ON captures (url, date);
CREATE INDEX captures_failed ON captures (reason, date) WHERE reason IS NOT NULL;
CREATE TABLE articles (
    id INTEGER PRIMARY KEY, txt TEXT UNIQUE NOT NULL, canonical_url TEXT, url TEXT NOT NULL,
    source TEXT, title TEXT, published TEXT, published_utc TEXT, author TEXT, agency TEXT,
    language TEXT, text_sha256 TEXT, warc TEXT, offset INTEGER, length INTEGER, captured TEXT,
    extra TEXT, version_of TEXT);
CREATE INDEX articles_published ON articles (published_utc);
CREATE INDEX articles_canonical ON articles (canonical_url);
CREATE INDEX articles_version_of ON articles (version_of);
CREATE TABLE search_text (rowid INTEGER PRIMARY KEY, title TEXT, body TEXT);
CREATE TABLE article_urls (url TEXT NOT NULL, txt TEXT NOT NULL, PRIMARY KEY (url, txt));
"""
_BY_TXT = "SELECT * FROM articles a WHERE txt = ?"
_ARTICLE_FIELDS = (
    "txt", "canonical_url", "url", "source", "title", "published", "published_utc", "author",
    "agency", "language", "text_sha256", "warc", "offset", "length", "captured", "extra",
    "version_of",
)  # fmt: skip
_CAPTURE_FIELDS = (
    "url", "warc", "offset", "length", "status", "mime", "digest", "date", "is_revisit", "source",
    "reason",
)  # fmt: skip


def catalog_path(store_uri: str) -> Path:
    """``$SANGRAH_CATALOG``, else ``<store>/.catalog.sqlite`` for a local store (a dot name, so
    not a store key), else ``.catalog.sqlite`` in the store's spool folder (``$SANGRAH_SPOOL_DIR``
    or ``./spool/<store>``), where the rest of a remote store's local state lives."""
    if override := os.environ.get("SANGRAH_CATALOG"):
        return Path(override)
    if is_local(store_uri):
        return path_from_uri(store_uri) / ".catalog.sqlite"
    spool = os.environ.get("SANGRAH_SPOOL_DIR")
    return (Path(spool) if spool else default_spool_dir(store_uri)) / ".catalog.sqlite"


def store_identity(store: Store) -> str:
    """A random name the store keeps (``claims/store-id``, made by the first who asks): a
    catalog of a store that was emptied and made anew under the same URI is not trusted."""
    try:
        return store.get_bytes(STORE_ID).decode()
    except FileNotFoundError:
        try:
            store.put_bytes(STORE_ID, uuid.uuid4().hex.encode(), overwrite=False)
        except FileExistsError:
            pass
        return store.get_bytes(STORE_ID).decode()


# Regexes, not str.translate: that looks every character of a whole article up in a dict.
def display_form(text: str) -> str:
    return _UNSHOWN.sub("", normalize(text))


def search_form(text: str) -> str:
    text = _UNSEARCHED.sub("", normalize(text))
    return _DEVANAGARI_DIGIT.sub(lambda digit: str(ord(digit[0]) - 0x0966), text)


def fts_query(query: str) -> str:
    """An FTS5 query: every term must match; ``"two words"`` is a phrase, ``term*`` a prefix.

    Each term is quoted, so FTS5's operators (AND, OR, NOT, NEAR, -, :) are plain words here.
    """
    terms = []
    for phrase, word in re.findall(r'"([^"]*)"?|([^\s"]+)', search_form(query)):
        text = " ".join(phrase.replace("*", " ").split()) if phrase else word
        star = "*" if not phrase and word.endswith("*") else ""
        if text := text.rstrip("*"):
            terms.append('"' + text + '"' + star)
    return " ".join(terms)


def _utc(published: str | None) -> str | None:
    """A sort key: UTC ISO time for an aware date, the value itself otherwise."""
    try:
        date = datetime.fromisoformat(published or "")
    except ValueError:
        return published
    return date.astimezone(UTC).isoformat() if date.tzinfo else date.isoformat()


class Catalog:
    def __init__(self, path: str | os.PathLike[str], store_uri: str) -> None:
        self.path = Path(path)
        self.store_uri = store_uri
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self._fts5: bool | None = None
        owner = None
        if self.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            owner = self.db.execute("SELECT value FROM meta WHERE name = 'store'").fetchone()[0]
        if owner != store_uri:
            self._reset()  # a new file, another schema or another store: derived, start over

    @classmethod
    def for_store(cls, store: Store) -> Catalog:
        return cls(catalog_path(store.uri), store.uri)

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def _reset(self) -> None:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for kind, name in self.db.execute(
                "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'fts\\_%' ESCAPE '\\'"
            ).fetchall():
                self.db.execute(f'DROP {kind.upper()} IF EXISTS "{name}"')
            self._fts5 = None
            for statement in _SCHEMA.split(";"):  # not executescript: it would commit
                self.db.execute(statement)
            try:
                self.db.execute(
                    "CREATE VIRTUAL TABLE fts USING fts5(title, body, content='search_text', "
                    f'tokenize="{TOKENIZER}")'
                )
            except sqlite3.OperationalError:  # no FTS5 (or too old for `categories`): LIKE
                self.db.execute("CREATE TABLE fts (rowid INTEGER PRIMARY KEY, title, body)")
            self.db.execute("INSERT INTO meta VALUES ('store', ?)", (self.store_uri,))
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @property
    def has_fts5(self) -> bool:
        if self._fts5 is None:
            row = self.db.execute("SELECT sql FROM sqlite_master WHERE name = 'fts'").fetchone()
            self._fts5 = "fts5" in row[0].lower()
        return self._fts5

    # --- reading the store --------------------------------------------------------------------

    def ingested(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT key FROM indexes ORDER BY key")]

    def update(self, store: Store, *, full: bool = False) -> int:
        """Read the CDXJ files not read before; returns how many.

        The first update (or ``full``) lists every index file; later ones follow the index log
        (archive.warc.indexlog) from where the last one stopped, so their cost follows what was
        published since, not the size of the archive.
        """
        started = datetime.now(UTC)
        identity = store_identity(store)
        if self._meta("store_id") not in (None, identity):
            self._reset()  # the same URI, another store (a bucket made anew): start over
        position = None if full else self._meta("log_position")
        if position is None:
            listed = [k for k in store.iter_keys("warc/") if k.endswith(".cdxj")]
        else:
            listed = [*indexlog.published_since(store, position), *self._waiting()]
        seen = set(self.ingested())
        new = [k for k in dict.fromkeys(listed) if k not in seen]
        waiting = []
        for key in new:
            try:
                self._ingest(store, key, store.get_bytes(key))
            except FileNotFoundError:  # logged before it was published: next time
                waiting.append(key)
            except (ValueError, KeyError, TypeError) as exc:  # skipped, tried again next time
                logger.warning("%s: not a readable index (%r)", key, exc)
                waiting.append(key)
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('waiting', ?)", (json.dumps(waiting),)
            )
            self.db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('log_position', ?)",
                (indexlog.position(started),),
            )
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('store_id', ?)", (identity,))
        return len(new)

    def _meta(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def _waiting(self) -> list[str]:
        return json.loads(self._meta("waiting") or "[]")

    def rebuild(self, store: Store) -> int:
        self._reset()
        return self.update(store)

    def _ingest(self, store: Store, index_key: str, data: bytes) -> None:
        warc = index_key.removesuffix(".cdxj") + ".warc.gz"
        entries = list(cdxj.parse(data))
        dates = {e.fields.get("id"): e.fields.get("date") for e in entries if "date" in e.fields}
        reasons = {
            (e.fields["refers_to"].get("warc"), e.fields["refers_to"].get("offset")): e.fields
            for e in entries
            if e.fields.get("type") == "metadata" and not _txt_of(e.fields)
            and e.fields.get("refers_to")
        }  # fmt: skip
        captures = [
            self._capture(warc, e, reasons) for e in entries if e.fields.get("type") != "metadata"
        ]
        articles = [
            self._article(e, dates) for e in entries
            if e.fields.get("type") == "metadata" and _txt_of(e.fields)
        ]  # fmt: skip
        articles.sort(key=lambda a: a["captured"] or "")  # lines are in SURT order, not by time
        known = {a["txt"] for a in articles if self._rows(_BY_TXT, [a["txt"]], 1)}
        texts = {a["txt"]: self._text(store, a["txt"]) for a in articles if a["txt"] not in known}
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            if self.db.execute("SELECT 1 FROM indexes WHERE key = ?", (index_key,)).fetchone():
                return  # another process took it in meanwhile
            names = ", ".join(_CAPTURE_FIELDS)
            marks = ", ".join(f":{name}" for name in _CAPTURE_FIELDS)
            self.db.executemany(
                f"INSERT OR IGNORE INTO captures ({names}) VALUES ({marks})", captures
            )
            for article in articles:
                self._add_article(article, texts.get(article["txt"], ""))
            self.db.execute(
                "INSERT INTO indexes VALUES (?, ?, ?)", (index_key, len(captures), len(articles))
            )

    @staticmethod
    def _capture(warc: str, entry: cdxj.CdxjEntry, reasons: dict) -> dict:
        f = entry.fields
        status = int(f["status"]) if str(f.get("status", "")).isdigit() else None
        revisit = f.get("mime") == "warc/revisit"
        meta = reasons.get((warc, int(f["offset"]))) or {}
        reason = meta.get("reason")
        if meta and not reason:
            reason = "text not stored yet (in a spool)" if meta.get("txt_pending") else "no text"
        if not meta and status and status >= 400 and not _is_robots(entry.url):
            reason = f"HTTP {status}"  # no extraction ran, so no metadata record says why
        return {
            "url": entry.url, "warc": warc, "offset": int(f["offset"]),
            "length": int(f["length"]), "status": status, "mime": f.get("mime"),
            "digest": f.get("digest"), "date": f.get("date") or entry.timestamp,
            "is_revisit": int(revisit), "source": meta.get("source") or _source_of(entry.url),
            "reason": reason,
        }  # fmt: skip

    @staticmethod
    def _article(entry: cdxj.CdxjEntry, dates: dict) -> dict:
        f = entry.fields
        ref = f.get("refers_to") or {}
        return {
            **{name: f.get(name) for name in _ARTICLE_FIELDS},
            "txt": _txt_of(f),
            "url": f.get("page") or entry.url,  # older indexes named the page itself
            "published_utc": _utc(f.get("published")),
            "warc": ref.get("warc"),
            "offset": ref.get("offset"),
            "length": ref.get("length"),
            "captured": dates.get(ref.get("id")),
            "extra": json.dumps(f.get("extra") or {}, ensure_ascii=False, sort_keys=True),
        }

    @staticmethod
    def _text(store: Store, txt: str) -> str:
        try:
            _title, blocks = from_seed_txt(store.get_bytes(txt))
        except FileNotFoundError:  # still in a spool: the title is searchable meanwhile
            return ""
        return "\n".join(blocks)

    def _add_article(self, article: dict, body: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO article_urls VALUES (?, ?)", (article["url"], article["txt"])
        )
        names = ", ".join(_ARTICLE_FIELDS)
        marks = ", ".join(f":{name}" for name in _ARTICLE_FIELDS)
        cursor = self.db.execute(
            f"INSERT OR IGNORE INTO articles ({names}) VALUES ({marks})", article
        )
        if cursor.rowcount:  # a TXT's first capture describes it; twins only add their URL
            title = article["title"] or ""
            self.db.execute(
                "INSERT INTO fts (rowid, title, body) VALUES (?, ?, ?)",
                (cursor.lastrowid, search_form(title), search_form(body)),
            )
            if self.has_fts5:
                self.db.execute(
                    "INSERT INTO search_text VALUES (?, ?, ?)",
                    (cursor.lastrowid, display_form(title), display_form(body)),
                )

    # --- queries ------------------------------------------------------------------------------

    def articles(
        self,
        source: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int | None = None,
    ) -> list[dict]:
        """Newest first; `since`/`until` are YYYY-MM-DD, inclusive, on the stated date."""
        where, args = self._filters(source, since, until)
        return self._rows(f"SELECT * FROM articles a WHERE {where}", args, limit)

    def search(
        self, query: str, source: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[dict]:
        """Articles whose title or text holds every term of `query`, best match first; each with
        ``snippet`` (the best passage) and ``title_marked``, matches between the MARK pair."""
        where, args = self._filters(source, None, None)
        if self.has_fts5:
            if not (match := fts_query(query)):
                return []
            sql = (
                "SELECT a.*, snippet(fts, -1, ?, ?, '…', 24) AS snippet, "
                "highlight(fts, 0, ?, ?) AS title_marked "
                f"FROM fts JOIN articles a ON a.id = fts.rowid WHERE fts MATCH ? AND {where}"
            )
            order = "fts.rank, a.published_utc DESC"
            return self._rows(sql, [*MARK, *MARK, match, *args], limit, order=order, offset=offset)
        terms = search_form(query).replace("*", "").replace('"', " ").split()
        if not terms:
            return []
        like = " AND ".join(["(f.title || ' ' || f.body) LIKE ?"] * len(terms))
        sql = f"SELECT a.* FROM fts f JOIN articles a ON a.id = f.rowid WHERE {like} AND {where}"
        return self._rows(sql, [f"%{t}%" for t in terms] + args, limit, offset=offset)

    def count(self, query: str, source: str | None = None) -> int:
        """How many articles `search` finds in all."""
        where, args = self._filters(source, None, None)
        if self.has_fts5:
            if not (match := fts_query(query)):
                return 0
            sql = "SELECT count(*) FROM fts JOIN articles a ON a.id = fts.rowid WHERE fts MATCH ?"
            return self.db.execute(f"{sql} AND {where}", [match, *args]).fetchone()[0]
        return len(self.search(query, source))

    def find(self, ref: str) -> dict | None:
        """The article with this TXT key, canonical URL or URL (newest), else the newest capture
        of this URL with a payload (with ``"capture": True``), else None."""
        for sql in (
            _BY_TXT,
            "SELECT * FROM articles a WHERE canonical_url = ?",
            "SELECT a.* FROM article_urls u JOIN articles a USING (txt) WHERE u.url = ?",
        ):
            if rows := self._rows(sql, [ref], 1, order="a.captured DESC"):
                return rows[0]
        row = self.db.execute(
            "SELECT * FROM captures WHERE url = ? ORDER BY is_revisit, date DESC LIMIT 1", (ref,)
        ).fetchone()
        return {**dict(row), "capture": True} if row else None

    def failures(
        self,
        source: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict]:
        """Captures that got no TXT, with why, newest first; `since`/`until` on the capture day.
        A URL archived later as an article is still listed: each capture is a fact."""
        conditions = {"source = ?": source, "date >= ?": since, "substr(date, 1, 10) <= ?": until}
        used = {sql: value for sql, value in conditions.items() if value}
        where = " AND ".join(["reason IS NOT NULL", *used])
        sql = f"SELECT * FROM captures WHERE {where} ORDER BY date DESC, url LIMIT ? OFFSET ?"
        rows = self.db.execute(sql, [*used.values(), limit or -1, offset])
        return [dict(row) for row in rows]

    def day_stats(self) -> list[dict]:
        """Per source and capture day (UTC): articles archived, failures by reason, and the
        source's last success; newest day first."""
        days: dict[tuple, dict] = {}
        sql = (
            "SELECT source, substr(captured, 1, 10) AS day, count(*) FROM articles "
            "GROUP BY source, day"
        )
        for source, day, n in self.db.execute(sql):
            days.setdefault((source, day), {"articles": 0, "failures": {}})["articles"] = n
        sql = (
            "SELECT source, substr(date, 1, 10) AS day, reason, count(*) FROM captures "
            "WHERE reason IS NOT NULL GROUP BY source, day, reason ORDER BY count(*) DESC, reason"
        )
        for source, day, reason, n in self.db.execute(sql):
            days.setdefault((source, day), {"articles": 0, "failures": {}})["failures"][reason] = n
        last = dict(self.db.execute("SELECT source, max(captured) FROM articles GROUP BY source"))
        rows = [
            {"source": source, "day": day, **counts, "failed": sum(counts["failures"].values()),
             "last_success": last.get(source)}
            for (source, day), counts in days.items()
        ]  # fmt: skip
        rows.sort(key=lambda r: (r["day"] or "", r["source"] or ""), reverse=True)
        return rows

    def versions(self, article: dict) -> list[dict]:
        """Every version of `article`, oldest first: the TXTs linked to it by ``version_of``
        in either direction, transitively."""
        seen = {article["txt"]: article}
        todo = [article]
        while todo:
            current = todo.pop()
            linked = self._rows(
                "SELECT * FROM articles a WHERE a.version_of = ? OR a.txt = ?",
                [current["txt"], current.get("version_of") or ""],
                None,
            )
            for row in linked:
                if row["txt"] not in seen:
                    seen[row["txt"]] = row
                    todo.append(row)
        return sorted(seen.values(), key=lambda a: (a["captured"] or "", a["txt"]))

    def stats(self) -> dict[str, int]:
        names = ("indexes", "captures", "articles")
        return {n: self.db.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names}

    def captures(self, url: str) -> list[dict]:
        """Every capture of `url`, oldest first."""
        sql = "SELECT * FROM captures WHERE url = ? ORDER BY date, warc, offset"
        return [dict(row) for row in self.db.execute(sql, (url,))]

    def capture_at(self, warc: str, offset: int, length: int) -> dict | None:
        """The capture stored at exactly this place, if the catalog knows one."""
        sql = "SELECT * FROM captures WHERE warc = ? AND offset = ? AND length = ?"
        row = self.db.execute(sql, (warc, offset, length)).fetchone()
        return dict(row) if row else None

    def original_of(self, revisit: dict) -> dict | None:
        """The earliest full capture with a revisit's payload digest, its own URL's first."""
        sql = (
            "SELECT warc, offset, length FROM captures WHERE digest = ? AND is_revisit = 0 "
            "ORDER BY url = ? DESC, date LIMIT 1"
        )
        row = self.db.execute(sql, (revisit["digest"], revisit["url"])).fetchone()
        return dict(row) if row else None

    def sources(self) -> list[str]:
        sql = "SELECT DISTINCT source FROM articles WHERE source IS NOT NULL ORDER BY source"
        return [row[0] for row in self.db.execute(sql)]

    @staticmethod
    def _filters(source: str | None, since: str | None, until: str | None) -> tuple[str, list]:
        conditions = {
            "a.source = ?": source,
            "substr(a.published, 1, 10) >= ?": since,
            "substr(a.published, 1, 10) <= ?": until,
        }
        used = {sql: value for sql, value in conditions.items() if value}
        return " AND ".join(["1", *used]), list(used.values())

    def _rows(
        self,
        sql: str,
        args: list,
        limit: int | None,
        order: str = "a.published_utc DESC",
        offset: int = 0,
    ) -> list[dict]:
        sql += f" ORDER BY {order}, a.txt LIMIT ? OFFSET ?"
        rows = [dict(row) for row in self.db.execute(sql, [*args, limit or -1, offset])]
        for row in rows:
            row["extra"] = json.loads(row["extra"] or "{}")
            if row.get("snippet"):  # the body's paragraphs are lines; a snippet is one line
                row["snippet"] = " ".join(row["snippet"].split())
        return rows


def _is_robots(url: str) -> bool:
    return urlsplit(url).path == "/robots.txt"


def _source_of(url: str) -> str | None:
    from archive.discover.sources import source_for_url

    try:
        name = source_for_url(url).name
    except (OSError, ValueError):  # a broken SANGRAH_SOURCES file: the source stays unknown
        return None
    return None if name == "generic" else name


def _txt_of(fields: dict) -> str | None:
    """The TXT a metadata record names, or the one holding the same text (a later capture)."""
    return fields.get("txt") or fields.get("txt_same_as")

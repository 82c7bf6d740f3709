"""The browser UI: a small, read-only Flask app over the catalog.

Pages: ``/`` (articles newest first, filtered by source and publication date, paged),
``/search?q=`` (full text: ranked, counted, paged, with the matching passage), ``/article?txt=KEY``
or ``?url=URL`` (metadata and text), ``/versions?txt=KEY`` (every version of an article, each
with a word diff against the one before), ``/captures?url=URL`` (every capture of a URL and why it
got no TXT), ``/failures`` (URLs that got no TXT, with the reason), ``/stats`` (per source and
day) and ``/record?warc=&offset=&length=`` (one archived HTTP payload, decoded, with the
Content-Type the server sent).

Archived pages are foreign content. ``sangrah browse`` serves /record from a second origin (its
own port), so an archived page never runs on the UI's origin; /record also answers with
``Content-Security-Policy: sandbox`` (an opaque origin: no scripts, no forms, no cookies of ours)
and lets the page load nothing, not even from the live web; the UI's own pages allow only their
stylesheet. No page needs JavaScript. A :class:`Guard` refuses unexpected Host headers (DNS
rebinding) and, when the server listens beyond loopback, requests without the token.

The catalog is brought up to date from the store when the app is created and, at most every
``refresh_seconds``, when a listing page is loaded. Each request opens its own catalog
connection: SQLite connections stay in their thread, and werkzeug serves each request in one.
"""

from __future__ import annotations

import hmac
import logging
import re
import threading
import time
from collections.abc import Callable, Collection
from posixpath import basename
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup, escape
from werkzeug.exceptions import BadRequest, HTTPException

from archive.catalog.db import MARK, Catalog
from archive.store import Store, open_store, path_from_uri
from archive.store.layout import is_local
from archive.text import wordiff
from archive.text.seedfile import from_seed_txt
from archive.warc import cdxj
from archive.warc.records import read_payload
from archive.web import params

logger = logging.getLogger(__name__)

PAGE_CSP = (
    "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
RECORD_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_TOKEN_TYPE = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,199}")  # a printable header value

bp = Blueprint("browse", __name__)


class Refresher:
    """Reads the store's new index files into the catalog, at most once per `interval` seconds;
    a request that finds another one refreshing goes on with what the catalog knows."""

    def __init__(self, store: Store, interval: float, clock: Callable[[], float]) -> None:
        self.store, self.interval, self.clock = store, interval, clock
        self._lock = threading.Lock()
        self._last: float | None = None

    def __call__(self, catalog: Catalog) -> None:
        if not self._lock.acquire(blocking=False):
            return
        try:
            now = self.clock()
            if self._last is not None and now - self._last < self.interval:
                return
            self._last = now
            catalog.update(self.store)
        except OSError as exc:  # an unreachable store: what the catalog knows is still worth seeing
            logger.warning("catalog not updated, it may be out of date: %s", exc)
        finally:
            self._lock.release()


def create_app(
    store_uri: str,
    *,
    refresh_seconds: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    guard: Guard | None = None,
    record_base: str | None = None,
    records_only: bool = False,
    replay_base: str | None = None,
) -> Flask:
    """The browser app for the archive at `store_uri` (FileNotFoundError: no such directory).

    `guard` checks Host headers and the token (see :class:`Guard`); `record_base`
    (``http://127.0.0.1:8081``, or ``:8081`` for that port on the host the browser used) is the
    other origin that serves /record: an app made with `records_only`, which serves nothing else.
    `replay_base` (the same forms) is the replay origin (archive.web.replay); without it the UI
    links to no replay.
    """
    if is_local(store_uri) and not path_from_uri(store_uri).is_dir():
        raise FileNotFoundError(f"no archive at {store_uri}")
    store = open_store(store_uri)
    app = Flask(__name__)
    refresh = Refresher(store, refresh_seconds, clock)
    app.extensions["sangrah"] = {
        "store": store,
        "refresh": refresh,
        "record_base": (record_base or "").rstrip("/"),
        "records_only": records_only,
        "replay_base": (replay_base or "").rstrip("/"),
    }
    if guard is not None:
        app.before_request(guard.check)
        app.after_request(guard.remember)
    app.before_request(_split_origins)
    app.jinja_env.globals["record_url"] = _record_url
    if replay_base:
        app.jinja_env.globals["replay_url"] = _replay_url
    with Catalog.for_store(store) as catalog:
        refresh(catalog)
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, _error)
    app.teardown_appcontext(_close_catalog)
    app.after_request(_headers)
    app.jinja_env.filters["when"] = _when
    app.jinja_env.filters["marked"] = _marked
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    return app


# --- pages ---------------------------------------------------------------------------------------


@bp.get("/")
def index() -> str:
    source, (since, until), (number, per) = (
        params.source(request.args),
        params.date_range(request.args),
        params.page(request.args),
    )
    rows = _catalog(refresh=True).articles(source, since, until, limit=number * per + 1)
    filters = {"source": source, "since": since, "until": until}
    return _listing("index.html", rows, number, per, filters=filters)


@bp.get("/search")
def search() -> str:
    query = params.text(request.args, "q", max_len=params.MAX_QUERY, required=True) or ""
    source, (number, per) = params.source(request.args), params.page(request.args)
    catalog = _catalog(refresh=True)
    # Paged in SQL: ranking every match to slice one page would cost as much as the search.
    rows = catalog.search(query, source, limit=per + 1, offset=(number - 1) * per)
    total = catalog.count(query, source)
    context = {"q": query, "filters": {"source": source}, "total": total}
    return _listing("search.html", rows, number, per, paged=True, **context)


@bp.get("/failures")
def failures() -> str:
    source, (since, until), (number, per) = (
        params.source(request.args),
        params.date_range(request.args),
        params.page(request.args),
    )
    rows = _catalog(refresh=True).failures(
        source, since, until, limit=per + 1, offset=(number - 1) * per
    )
    filters = {"source": source, "since": since, "until": until}
    return _listing("failures.html", rows, number, per, paged=True, filters=filters)


@bp.get("/stats")
def stats() -> str:
    return render_template("stats.html", rows=_catalog(refresh=True).day_stats())


@bp.get("/versions")
def versions() -> str:
    txt = params.store_key(request.args, "txt", prefix="txt/", suffix=".txt")
    found = _catalog().find(txt)
    if found is None:
        abort(404, f"not in the archive: {txt}")
    shown, previous = [], None
    for version in _catalog().versions(found):
        text = _text(version["txt"])
        changes = wordiff.diff_words(previous, text) if previous and text else None
        shown.append(
            {
                "article": version,
                "summary": wordiff.summary(changes) if changes else None,
                "paragraphs": list(wordiff.paragraphs(changes)) if changes else None,
                "blocks": text.split("\n\n")[1:] if text and not changes else None,
            }
        )
        previous = text if text is not None else previous
    return render_template("versions.html", article=found, versions=shown)


@bp.get("/article")
def article() -> Response | str:
    if request.args.get("txt"):
        ref = params.store_key(request.args, "txt", prefix="txt/", suffix=".txt")
    elif request.args.get("url"):
        ref = params.url(request.args) or ""
    else:
        raise BadRequest("txt or url: required")
    found = _catalog().find(ref)
    if found is None:
        abort(404, f"not in the archive: {ref}")
    if found.get("capture"):  # a URL archived without an article (an error page, a redirect)
        return redirect(url_for(".captures", url=found["url"]))
    history = _catalog().versions(found)
    return render_template(
        "article.html", article=found, blocks=_text_blocks(found["txt"]), versions=history
    )


@bp.get("/captures")
def captures() -> str:
    url = params.url(request.args) or ""
    rows = _catalog().captures(url)
    if not rows:
        abort(404, f"no captures of {url}")
    found = _catalog().find(url)
    article = found if found and not found.get("capture") else None
    return render_template("captures.html", url=url, captures=rows, article=article)


@bp.get("/record")
def record() -> Response:
    warc, offset, length = params.record(request.args)
    download = params.flag(request.args, "download")
    capture = _catalog().capture_at(warc, offset, length)
    if capture is None:
        abort(404, "no such record in the archive")
    if capture["is_revisit"]:  # no payload of its own: show the capture it repeats
        original = _catalog().original_of(capture)
        if original is None:
            abort(404, "a revisit of a payload that is not in the archive")
        return redirect(url_for(".record", **original, **({"download": 1} if download else {})))
    try:
        content_type, body = read_payload(_store(), warc, offset, length)
    except FileNotFoundError:
        abort(404, f"{warc} is not in the store")
    response = Response(body, content_type=_safe_type(content_type))
    response.headers["Content-Security-Policy"] = RECORD_CSP
    disposition = "attachment" if download else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{_filename(capture)}"'
    return response


# --- origins, hosts, token ----------------------------------------------------------------------


class Guard:
    """Refuses requests whose Host header is not one of `hosts` (DNS rebinding: a page of another
    site whose name now points here), and, with a `token`, requests that carry it neither in
    ``?token=`` nor in the cookie the first such request sets. `hosts` None: any Host (a
    server bound to every address cannot list the names it is reached by; the token guards it).
    """

    COOKIE = "sangrah_token"

    def __init__(self, hosts: Collection[str] | None, token: str | None = None):
        self.hosts = {h.lower() for h in hosts} if hosts is not None else None
        self.token = token

    def check(self) -> None:
        if self.hosts is not None and request.host.lower() not in self.hosts:
            abort(400, f"unexpected Host header: {request.host[:100]}")
        if self.token is None:
            return
        given = request.args.get("token") or request.cookies.get(self.COOKIE) or ""
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            abort(403, "a token is required: use the URL `sangrah browse` printed")

    def remember(self, response: Response) -> Response:
        if self.token and request.args.get("token") == self.token:
            response.set_cookie(self.COOKIE, self.token, httponly=True, samesite="Strict")
        return response


def loopback_hosts(host: str, ports: Collection[int]) -> set[str]:
    """Host header values a server bound to `host` on `ports` answers to."""
    names = {"127.0.0.1", "localhost", "[::1]", f"[{host}]" if ":" in host else host}
    return {f"{name}:{port}" for name in names for port in ports}


def _split_origins() -> Response | None:
    """Archived records only on the record origin, and nothing else there."""
    conf = current_app.extensions["sangrah"]
    if conf["records_only"] and request.endpoint not in ("browse.record", "static"):
        abort(404, "this origin serves archived records only")
    if conf["record_base"] and request.endpoint == "browse.record":
        return redirect(_record_base() + request.full_path.rstrip("?"))
    return None


def _record_base(name: str = "record_base") -> str:
    """The record origin; ``:PORT`` is that port on the host the browser used for the UI."""
    base = current_app.extensions["sangrah"][name]
    if not base.startswith(":"):
        return base
    host, _, port = request.host.rpartition(":")
    return f"{request.scheme}://{host if port.isdigit() else request.host}{base}"


def _record_url(**where) -> str:
    return _record_base() + url_for("browse.record", **where)


def _replay_url(url: str, date: str | None = None) -> str:
    """ReplayWeb.page on the replay origin, at the capture of `date` (else the latest)."""
    query = {"url": url, **({"ts": cdxj.timestamp14(date)} if date else {})}
    return _record_base("replay_base") + "/?" + urlencode(query)


# --- helpers ------------------------------------------------------------------------------------


def _store() -> Store:
    return current_app.extensions["sangrah"]["store"]


def _catalog(refresh: bool = False) -> Catalog:
    if "catalog" not in g:
        g.catalog = Catalog.for_store(_store())
    if refresh:
        current_app.extensions["sangrah"]["refresh"](g.catalog)
    return g.catalog


def _close_catalog(_exc: BaseException | None) -> None:
    if (catalog := g.pop("catalog", None)) is not None:
        catalog.close()


def _text(txt: str) -> str | None:
    try:
        return _store().get_bytes(txt).decode("utf-8")
    except FileNotFoundError:
        return None


def _marked(value: str | None) -> Markup:
    """A snippet or title with the catalog's match marks as <mark>, everything else escaped."""
    text = str(escape(value or ""))
    return Markup(text.replace(MARK[0], "<mark>").replace(MARK[1], "</mark>"))


def _text_blocks(txt: str) -> list[list[str]] | None:
    """The TXT's paragraphs, each a list of lines; None while the file is not in the store."""
    try:
        _title, blocks = from_seed_txt(_store().get_bytes(txt))
    except FileNotFoundError:
        return None
    return [block.split("\n") for block in blocks]


def _listing(
    template: str, rows: list[dict], number: int, per: int, paged: bool = False, **context
) -> str:
    """One page of `rows`: the first `number` pages and one row more, or with `paged` the page
    itself and one row more."""

    def page_url(n: int) -> str:
        return url_for(str(request.endpoint), **{**request.args.to_dict(), "page": n})

    start = 0 if paged else (number - 1) * per
    shown = rows[start : start + per]
    more = len(rows) > start + per
    return render_template(
        template,
        rows=shown,
        number=number,
        more=more,
        page_url=page_url,
        sources=_catalog().sources(),
        first=(number - 1) * per + 1,
        **context,
    )


def _safe_type(content_type: str | None) -> str:
    value = (content_type or "").strip()
    return value if _TOKEN_TYPE.fullmatch(value) else "application/octet-stream"


def _filename(capture: dict) -> str:
    name = basename(urlsplit(capture["url"]).path) or urlsplit(capture["url"]).hostname or ""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100] or "record"


def _when(value: str | None) -> str:
    """An ISO date as ``YYYY-MM-DD HH:MM`` (the time as stated, without its offset)."""
    return (value or "")[:16].replace("T", " ")


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _error(error: HTTPException) -> Response:
    response = error.get_response()  # keeps the status and headers such as Allow
    response.set_data(render_template("error.html", error=error))
    return response

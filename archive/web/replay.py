"""The replay origin: ReplayWeb.page, served locally, replaying one URL's captures faithfully.

``sangrah browse`` serves this app on a third port (``--replay-port``). ReplayWeb.page runs the
archived page's own scripts (that is what a faithful replay is), so it gets an origin of its
own: neither the UI's nor the records'. Its service worker (``/replay/sw.js``, scope
``/replay/``) reads a WACZ that this app packs on the fly from the store
(archive.warc.wacz.replay_wacz: the URL's records, byte for byte) and rewrites the page so it
loads nothing from the live web.

ReplayWeb.page itself (``ui.js``, ``sw.js``; AGPL-3.0, about 2 MB) is not committed:
``make replay-ui`` installs the pinned npm package ``replaywebpage`` into :data:`VENDOR`
(``$SANGRAH_REPLAYWEBPAGE`` overrides the folder).
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, current_app, request, send_file, url_for
from werkzeug.exceptions import HTTPException

from archive.catalog.db import Catalog
from archive.store import open_store, path_from_uri
from archive.store.layout import is_local
from archive.warc.wacz import replay_wacz
from archive.web import params

VENDOR = Path(__file__).parent / "vendor" / "replaywebpage"
ASSETS = ("ui.js", "sw.js")
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<title>replay: {url}</title>
<script src="{ui}"></script>
<style>html, body {{ margin: 0; height: 100%; }} replay-web-page {{ height: 100vh; }}</style>
</head>
<body>
<replay-web-page source="{source}" url="{url}" {ts} replaybase="{base}" embed="replayonly">
</replay-web-page>
</body>
</html>
"""

bp = Blueprint("replay", __name__)


def vendor_dir() -> Path:
    return Path(os.environ.get("SANGRAH_REPLAYWEBPAGE") or VENDOR)


def create_replay_app(store_uri: str, *, guard=None) -> Flask:
    """The replay origin's app for the archive at `store_uri` (FileNotFoundError: no such
    directory, or ReplayWeb.page not installed)."""
    if is_local(store_uri) and not path_from_uri(store_uri).is_dir():
        raise FileNotFoundError(f"no archive at {store_uri}")
    missing = [name for name in ASSETS if not (vendor_dir() / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"ReplayWeb.page is not installed ({', '.join(missing)} missing in {vendor_dir()}): "
            "run `make replay-ui`"
        )
    app = Flask(__name__)
    app.extensions["sangrah"] = {"store": open_store(store_uri)}
    if guard is not None:
        app.before_request(guard.check)
        app.after_request(guard.remember)
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, lambda e: Response(
        f"{e.code} {e.name}: {e.description}\n", e.code, content_type="text/plain"))  # fmt: skip
    app.after_request(_headers)
    return app


@bp.get("/")
def page() -> Response:
    url = params.url(request.args) or ""
    ts = params.text(request.args, "ts", max_len=14)
    if ts is not None and not (ts.isascii() and ts.isdigit()):
        abort(400, "ts: a 14-digit timestamp")
    html = PAGE.format(
        url=_attr(url),
        ts=f'ts="{ts}"' if ts else "",
        source=_attr(url_for(".wacz", url=url)),
        ui=url_for(".asset", name="ui.js"),
        base="/replay/",
    )
    return Response(html, content_type="text/html; charset=utf-8")


@bp.get("/replay/<any('ui.js', 'sw.js'):name>")
def asset(name: str) -> Response:
    response = send_file(vendor_dir() / name, mimetype="application/javascript")
    # The service worker may control /replay/ from /replay/sw.js without a special header.
    response.headers["Cache-Control"] = "no-cache"
    return response


# What the service worker answers for its scope's root (sw.js ``getIndexHtml``, checked against
# the vendored sw.js by tests/test_web_reader.py): the frame of an embedded replay. A frame that
# navigates before the worker controls it reaches this app instead (a race inside ReplayWeb.page:
# a fresh browser meets it every time) and got a 404; this page starts the app in the frame.
FRAME = """<!doctype html>
<html><head><script src="./ui.js"></script></head>
<body><replay-app-main></replay-app-main></body></html>
"""


@bp.get("/replay/")
@bp.get("/replay/index.html")
def frame() -> Response:
    return Response(FRAME, content_type="text/html; charset=utf-8")


@bp.get("/wacz")
def wacz() -> Response:
    url = params.url(request.args) or ""
    store = current_app.extensions["sangrah"]["store"]
    buffer = io.BytesIO()
    with Catalog.for_store(store) as catalog:
        if not catalog.captures(url):
            abort(404, f"no captures of {url}")
        replay_wacz(store, catalog, url, buffer)
    buffer.seek(0)
    # conditional: Range requests are answered (ReplayWeb.page reads the zip by byte ranges);
    # the ETag changes when a new capture changes the package.
    etag = hashlib.sha256(buffer.getbuffer()).hexdigest()[:32]
    return send_file(buffer, mimetype="application/wacz", conditional=True, etag=etag, max_age=0)


def _attr(value: str) -> str:
    from markupsafe import escape

    return str(escape(value))


def _headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response

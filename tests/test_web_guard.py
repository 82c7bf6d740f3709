"""`sangrah browse` against DNS rebinding and foreign content: Host check, token, record origin."""

from __future__ import annotations

import re
import subprocess
import time
import urllib.request
from urllib.error import HTTPError

import pytest

from archive.store.local import LocalStore
from archive.web import create_app
from archive.web.app import Guard, loopback_hosts
from tests.pipeline_runs import ENV, SANGRAH
from tests.test_web import INDEX, SOME_WARC, TXT, free_port, hand_index

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def store(tmp_path, monkeypatch) -> LocalStore:
    monkeypatch.delenv("SANGRAH_CATALOG", raising=False)
    store = LocalStore(tmp_path / "store")
    store.put_bytes(TXT, "शीर्षक\n\nपहला अनुच्छेद\n".encode())
    store.put_bytes(INDEX, hand_index())
    return store


def test_unexpected_host_headers_are_refused(store):
    guard = Guard(loopback_hosts("127.0.0.1", (8080, 8081)))
    client = create_app(store.uri, guard=guard).test_client()
    for host in ("127.0.0.1:8080", "localhost:8080", "LOCALHOST:8081", "[::1]:8080"):
        assert client.get("/", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example:8080", "evil.example", "127.0.0.1", "127.0.0.1:9999", "10.0.0.1"):
        answer = client.get("/", headers={"Host": host})
        assert answer.status_code == 400 and "unexpected Host header" in answer.text, host


def test_a_token_is_required_beyond_loopback(store):
    client = create_app(store.uri, guard=Guard(None, "s3cret")).test_client()
    assert client.get("/", headers={"Host": "192.0.2.7:8080"}).status_code == 403
    assert client.get("/?token=wrong").status_code == 403
    first = client.get("/?token=s3cret")
    assert first.status_code == 200
    cookie = first.headers["Set-Cookie"]
    assert "sangrah_token=s3cret" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get("/search?q=x").status_code in (200, 404)  # the cookie carries the token
    client.delete_cookie("sangrah_token")
    assert client.get("/search?q=x").status_code == 403


def test_records_come_from_their_own_origin(store):
    ui = create_app(store.uri, record_base=":8081").test_client()
    page = ui.get("/article", query_string={"txt": TXT}, headers={"Host": "127.0.0.1:8080"})
    links = re.findall(r'href="([^"]*record\?[^"]*)"', page.text)
    assert links and all(link.startswith("http://127.0.0.1:8081/record?") for link in links)
    moved = ui.get(f"/record?warc={SOME_WARC}&offset=100&length=50")
    assert moved.status_code == 302 and moved.location.startswith("http://localhost:8081/record?")
    records = create_app(store.uri, records_only=True).test_client()
    assert records.get("/").status_code == 404
    assert records.get("/article", query_string={"txt": TXT}).status_code == 404
    assert records.get(f"/record?warc={SOME_WARC}&offset=100&length=50").status_code == 404


def get(url: str) -> int:
    try:
        with OPENER.open(url, timeout=10) as response:
            return response.status
    except HTTPError as error:
        return error.code


def test_browse_on_every_address_prints_a_token_url(store):
    port = free_port()
    command = [SANGRAH, "browse", "--store", store.uri, "--host", "0.0.0.0", "--port", str(port)]
    with subprocess.Popen(command, env=ENV, stderr=subprocess.PIPE, text=True) as child:
        try:
            line = child.stderr.readline()
            match = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=([\w-]+)", line)
            assert match and int(match[1]) == port, line
            deadline = time.monotonic() + 20
            while True:
                try:
                    status = get(f"http://127.0.0.1:{port}/")
                    break
                except OSError:
                    assert time.monotonic() < deadline, "not serving"
                    time.sleep(0.1)
            assert status == 403
            assert get(f"http://127.0.0.1:{port}/?token={match[2]}") == 200
            assert get(f"http://127.0.0.1:{port + 1}/") == 403  # the record origin too
        finally:
            child.terminate()
            child.communicate(timeout=10)

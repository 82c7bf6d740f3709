"""The connect-time half of the egress guard: crawler.resolver with a fixed name table."""

from __future__ import annotations

import pytest
from scrapy import Request
from twisted.python.failure import Failure

from archive.egress import EgressPolicy
from crawler.middlewares.egress import EgressGuardMiddleware, EgressRefused
from crawler.resolver import AddressRefused, EgressResolver, proxy_hosts

TABLE = {
    "rebind.example.com": "127.0.0.1",
    "meta.example.com": "169.254.169.254",
    "lan.example.com": "10.1.2.3",
    "news.example.com": "93.184.216.34",
    "proxy.corp": "10.9.9.9",
}


def resolver(allow=(), proxies=None) -> EgressResolver:
    # No real reactor: names in the table are answered without a lookup thread.
    return EgressResolver(object(), 0, 1.0, EgressPolicy(allow), TABLE, proxies)


def lookup(r: EgressResolver, name: str) -> str | Failure:
    results: list = []
    r.getHostByName(name).addBoth(results.append)
    assert results, "answered synchronously"
    return results[0]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("rebind.example.com", "rebind.example.com resolves to 127.0.0.1, a loopback address"),
        ("META.example.com.", "meta.example.com resolves to 169.254.169.254, a cloud metadata"),
        ("lan.example.com", "lan.example.com resolves to 10.1.2.3, a private address"),
    ],
)
def test_forbidden_answers_are_never_returned(name, reason):
    r = resolver()
    result = lookup(r, name)
    assert isinstance(result, Failure) and result.check(AddressRefused)
    assert reason in str(result.value)
    assert r.refusal(name).startswith(reason)


def test_public_answers_pass_and_allow_lists_work():
    assert lookup(resolver(), "news.example.com") == "93.184.216.34"
    assert lookup(resolver(["10.0.0.0/8"]), "lan.example.com") == "10.1.2.3"
    assert isinstance(lookup(resolver(["10.0.0.0/8"]), "meta.example.com"), Failure)


def test_literals_and_proxies_are_operator_configuration():
    assert lookup(resolver(), "127.0.0.1") == "127.0.0.1"  # e.g. the replay proxy
    assert lookup(resolver(proxies={"proxy.corp"}), "proxy.corp") == "10.9.9.9"
    assert isinstance(lookup(resolver(), "proxy.corp"), Failure)
    env = {"http": "http://proxy.corp:3128", "https": "127.0.0.1:8080", "no": "localhost"}
    assert proxy_hosts(env) == {"proxy.corp", "127.0.0.1"}


def test_the_middleware_refuses_a_name_the_resolver_refused():
    r = resolver()
    lookup(r, "rebind.example.com")
    guard = EgressGuardMiddleware(EgressPolicy(), None, r)
    with pytest.raises(EgressRefused, match=r"resolves to 127\.0\.0\.1"):
        guard.process_request(Request("http://rebind.example.com/x"))
    # Through a proxy the proxy resolves the target: only the URL is judged.
    assert (
        guard.process_request(Request("http://rebind.example.com/x", meta={"proxy": "x"})) is None
    )
    assert guard.process_request(Request("https://news.example.com/")) is None
    with pytest.raises(EgressRefused, match="cloud metadata"):
        guard.process_request(Request("http://[::ffff:a9fe:a9fe]/"))

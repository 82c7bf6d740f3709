"""The DNS half of the egress guard: a resolver that never hands out a forbidden address.

A name that passed the literal check (``crawler.middlewares.egress``) can still resolve to
127.0.0.1 or 169.254.169.254, now or after a rebinding between two lookups. The check therefore
sits in the resolver Twisted connects with (``TWISTED_DNS_RESOLVER``): the address it returns is
the one the socket connects to, so there is no window between the check and the connection.
A refused lookup fails like a name that does not exist (:class:`AddressRefused`, a
DNSLookupError); the reason is kept in :attr:`refused` for the middleware to report.

Proxies from the environment (``HTTP_PROXY``...) are operator configuration: their hosts are
allowed. Through a proxy the target name is resolved by the proxy, not here; the target URL's
host is judged by the middleware.

``SANGRAH_DNS_HOSTS`` (``{"name": "address"}``) answers names from a fixed table before DNS, a
seam for tests and for pinning names in private deployments.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.datatypes import LocalCache
from twisted.internet import defer
from twisted.internet.error import DNSLookupError

from archive.egress import EgressPolicy, MalformedAddress, normal_host, parse_ip


class AddressRefused(DNSLookupError):
    """The name resolved, but only to addresses the crawler must not connect to."""


def proxy_hosts(proxies: Mapping[str, str]) -> set[str]:
    hosts = set()
    for name, url in proxies.items():
        if name != "no" and url:
            hosts.add(normal_host(urlsplit(url if "//" in url else f"//{url}").hostname or ""))
    return hosts - {""}


class EgressResolver(CachingThreadedResolver):
    def __init__(
        self,
        reactor: Any,
        cache_size: int,
        timeout: float,
        policy: EgressPolicy,
        hosts: Mapping[str, str] | None = None,
        proxies: set[str] | None = None,
    ):
        super().__init__(reactor, cache_size, timeout)
        self.policy = policy
        self.hosts = {normal_host(k): v for k, v in (hosts or {}).items()}
        self.proxies = proxies or set()
        self.refused: LocalCache[str, str] = LocalCache(10_000)

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> EgressResolver:
        # Scrapy builds the resolver with the CrawlerProcess, whose settings are the command's.
        settings = crawler.settings
        cache = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        return cls(
            reactor,
            cache,
            settings.getfloat("DNS_TIMEOUT"),
            EgressPolicy(settings.getlist("SANGRAH_EGRESS_ALLOW")),
            settings.getdict("SANGRAH_DNS_HOSTS"),
            proxy_hosts(urllib.request.getproxies()),
        )

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        host = normal_host(name)
        try:
            literal = parse_ip(host)
        except MalformedAddress:
            literal = None
        if literal is not None:
            # The middleware judged target literals; a literal here is the operator's proxy
            # (meta["proxy"]) or an address the middleware let through.
            return defer.succeed(str(literal))
        if host in self.hosts:
            found: defer.Deferred[str] = defer.succeed(self.hosts[host])
        else:
            found = super().getHostByName(name, timeout)
        if host in self.proxies or self.policy.name_allowed(host):
            return found
        return found.addCallback(self._judge, host)

    def _judge(self, address: str, host: str) -> str:
        lead = f"{host} resolves to {{ip}}, a {{kind}} address"
        problem = self.policy.address_problem(parse_ip(address), lead)  # type: ignore[arg-type]
        if problem:
            self.refused[host] = problem
            raise AddressRefused(problem)
        return address

    def refusal(self, host: str) -> str | None:
        """Why the last lookup of ``host`` was refused, if it was."""
        return self.refused.get(normal_host(host))

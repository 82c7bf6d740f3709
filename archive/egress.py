"""Where the crawler may connect: public http(s) hosts only, unless the operator allows more.

A URL is refused when its scheme is not http(s), or its host is an address (in any spelling a
resolver accepts: ``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``127.1``, ``[::ffff:127.0.0.1]``,
percent- or full-width-encoded) that is loopback, private, link-local, a cloud metadata service,
multicast, reserved or unspecified, or a name that points inside the machine or the local network
(``localhost``, ``*.localhost``, ``*.internal``, ``*.local``, single-label names). Names that
pass are judged again on the address they resolve to, when the connection is made
(:mod:`crawler.resolver`). Pure functions of strings, like the rest of ``archive``.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SCHEMES = ("http", "https")
# Longer than any article URL seen (percent-encoded Devanagari slugs stay under 2 KB), short
# enough that a pasted blob is not taken for an address.
MAX_URL_LENGTH = 8192

METADATA_ADDRESSES = frozenset(
    map(
        ipaddress.ip_address,
        [
            "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle
            "169.254.170.2",  # AWS ECS task metadata
            "fd00:ec2::254",  # AWS IMDS over IPv6
            "100.100.100.200",  # Alibaba Cloud
        ],
    )
)
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
# Names that resolve to this machine or the local network by convention, whatever DNS says.
LOCAL_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa", ".lan")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f]")


class MalformedAddress(ValueError):
    """A host written like an IP address that no address parser accepts (``1.2.3.999``)."""


def _number(part: str) -> int:
    """One part of an IPv4 address the way inet_aton reads it: 0x hex, 0 octal, else decimal."""
    if part[:2] in ("0x", "0X"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8)
    if not part.isdecimal() or not part.isascii():
        raise ValueError(part)
    return int(part)


def _ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The WHATWG URL IPv4 parser: a host whose last label is a number is an IPv4 address."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    try:
        _number(parts[-1])
    except ValueError:
        return None  # a name
    try:
        numbers = [_number(p) for p in parts]
    except ValueError:
        raise MalformedAddress(host) from None
    if (
        len(numbers) > 4
        or any(n > 255 for n in numbers[:-1])
        or numbers[-1] >= 256 ** (5 - len(numbers))
    ):
        raise MalformedAddress(host)
    value = numbers[-1]
    for i, n in enumerate(numbers[:-1]):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def normal_host(host: str) -> str:
    """The host as a resolver will see it: percent-decoded, NFKC (full-width digits), lower
    case, no brackets, no trailing dot."""
    host = unicodedata.normalize("NFKC", unquote(host)).lower().strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.rstrip(".") if host not in (".", "") else host


def parse_ip(host: str) -> IPAddress | None:
    """The address a host names when it is an IP literal in any spelling; None for a name."""
    host = normal_host(host)
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])  # without a zone id
        except ValueError:
            raise MalformedAddress(host) from None
    return _ipv4(host)


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries and that a connection would reach."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_kind(ip: IPAddress) -> str | None:
    """Why a connection to ``ip`` is refused ("loopback", ...), or None for a public address."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        return address_kind(inner)
    checks = [
        (ip in METADATA_ADDRESSES, "cloud metadata"),
        (ip.is_unspecified or ip in _THIS_NETWORK, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip in _SHARED, "shared (carrier-grade NAT)"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        (not ip.is_global, "not public"),
    ]
    return next((kind for hit, kind in checks if hit), None)


def name_kind(host: str) -> str | None:
    """Why a host name is refused before any lookup, or None."""
    if host in METADATA_NAMES:
        return "cloud metadata"
    if host == "localhost" or host.endswith(LOCAL_SUFFIXES):
        return "local name"
    if "." not in host:
        return "single-label name"
    return None


class EgressPolicy:
    """The rules plus the operator's allow-list: networks (``10.0.0.0/8``) and host names
    (``intranet.example``; ``.example`` for every name under it)."""

    def __init__(self, allow: Iterable[str] = ()):
        self.networks: list[Network] = []
        self.names: set[str] = set()
        for entry in allow:
            entry = entry.strip()
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.names.add(normal_host(entry) if not entry.startswith(".") else entry.lower())

    def name_allowed(self, host: str) -> bool:
        return host in self.names or any(s.startswith(".") and host.endswith(s) for s in self.names)

    def address_allowed(self, ip: IPAddress) -> bool:
        candidates = [ip, *filter(None, [embedded_ipv4(ip)])]
        return any(
            c in net for c in candidates for net in self.networks if c.version == net.version
        )

    def address_problem(self, ip: IPAddress, lead: str = "{ip} is a {kind} address") -> str | None:
        """Why ``ip`` may not be connected to ("127.0.0.1 is a loopback address"), or None."""
        if self.address_allowed(ip):
            return None
        kind = address_kind(ip)
        inner = embedded_ipv4(ip)
        return lead.format(ip=f"{ip} ({inner})" if inner else ip, kind=kind) if kind else None

    def host_problem(self, host: str) -> str | None:
        """Why a URL's host is refused as written (before DNS), or None."""
        name = normal_host(host)
        if not name:
            return "no host"
        if self.name_allowed(name):
            return None
        try:
            ip = parse_ip(name)
        except MalformedAddress:
            return f"{host} is a malformed IP address"
        if ip is not None:
            problem = self.address_problem(ip)
            spelled = f" (written {host})" if problem and str(ip) != name else ""
            return problem + spelled if problem else None
        kind = name_kind(name)
        return f"{name} is a {kind}" if kind else None

    def url_problem(self, url: str) -> str | None:
        """Why the crawler must not request ``url``, or None."""
        problem = syntax_problem(url)
        if problem:
            return problem
        return self.host_problem(url_host(url))


def url_host(url: str) -> str:
    """The host part of a URL as written (urlsplit's ``hostname`` lowercases and drops the
    brackets; this keeps the spelling for messages)."""
    netloc = urlsplit(url).netloc.rpartition("@")[2]
    if netloc.startswith("["):
        return netloc.partition("]")[0] + "]"
    return netloc.rpartition(":")[0] if ":" in netloc else netloc


def syntax_problem(url: str) -> str | None:
    """Why ``url`` is not an absolute http(s) URL that can be requested, or None."""
    if len(url) > MAX_URL_LENGTH:
        return f"URL too long ({len(url)} characters, at most {MAX_URL_LENGTH})"
    if _BAD_CHARS.search(url):
        return "URL contains whitespace or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        return f"malformed URL ({exc})"
    if not parts.scheme:
        return "not an absolute URL (no scheme)"
    if parts.scheme.lower() not in SCHEMES:
        return f"scheme {parts.scheme.lower()}: is not allowed (only http and https)"
    if not parts.hostname:
        return "no host in URL"
    return None

"""The egress policy (archive/egress.py): every spelling of a forbidden address is refused."""

from __future__ import annotations

import pytest

from archive.egress import EgressPolicy, parse_ip, syntax_problem

POLICY = EgressPolicy()

FORBIDDEN = {
    # spelling -> the kind the reason names
    "http://127.0.0.1/": "loopback",
    "http://127.1/": "loopback",
    "http://2130706433/": "loopback",
    "http://0177.0.0.1/": "loopback",
    "http://0x7f.1/": "loopback",
    "http://0x7f000001/": "loopback",
    "http://017700000001/": "loopback",
    "http://127.0.0.1.:8080/": "loopback",
    "http://%31%32%37.0.0.1/": "loopback",
    "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/": "loopback",
    "http://[::1]/": "loopback",
    "http://[::ffff:127.0.0.1]/": "loopback",
    "http://[::ffff:7f00:1]/": "loopback",
    "http://[64:ff9b::7f00:1]/": "loopback",
    "http://[2002:7f00:1::]/": "loopback",
    "http://localhost/": "local name",
    "http://LOCALHOST./": "local name",
    "http://evil.localhost/": "local name",
    "http://user:pw@localhost:80/": "local name",
    "http://169.254.169.254/latest/meta-data/": "cloud metadata",
    "http://2852039166/latest/meta-data/": "cloud metadata",
    "http://0xa9.0xfe.0xa9.0xfe/": "cloud metadata",
    "http://[::ffff:169.254.169.254]/": "cloud metadata",
    "http://[fd00:ec2::254]/": "cloud metadata",
    "http://metadata.google.internal/computeMetadata/v1/": "cloud metadata",
    "http://metadata/": "cloud metadata",
    "http://100.100.100.200/": "cloud metadata",
    "http://169.254.1.1/": "link-local",
    "http://[fe80::1%25eth0]/": "link-local",
    "http://10.0.0.1/": "private",
    "http://10.1/": "private",
    "http://172.16.5.4/": "private",
    "http://192.168.1.1/": "private",
    "http://[fc00::1]/": "private",
    "http://100.64.0.1/": "shared",
    "http://224.0.0.1/": "multicast",
    "http://[ff02::1]/": "multicast",
    "http://240.0.0.1/": "reserved",
    "http://255.255.255.255/": "reserved",
    "http://0.0.0.0/": "unspecified",
    "http://0/": "unspecified",
    "http://0.1.2.3/": "unspecified",
    "http://[::]/": "unspecified",
    "http://printer.local/": "local name",
    "http://db.corp.internal/": "local name",
    "http://intranet/": "single-label",
    "http://1.2.3.999/": "malformed",
    "http://0x1g.1/": "malformed",
    "http://1.2.3.4.5/": "malformed",
    "https://[::1/": "malformed",
}
BAD_SYNTAX = {
    "javascript:alert(1)": "scheme javascript",
    "file:///etc/passwd": "scheme file",
    "ftp://ftp.example.com/x": "scheme ftp",
    "data:text/html,hi": "scheme data",
    "not a url": "whitespace",
    "example.com/no-scheme": "no scheme",
    "http:///path-only": "no host",
    "https://ndtv.in:99999/": "Port",
    "https://ndtv.in/" + "a" * 60_000: "too long",
    "https://ndtv.in/\nx": "control",
}
PUBLIC = [
    "https://ndtv.in/india/a-1?a=1,2",
    "https://www.pib.gov.in/PressReleasePage.aspx?PRID=1",
    "http://8.8.8.8/",
    "http://134744072/",  # 8.8.8.8 as one number: a spelling, not a refusal
    "http://[2606:4700::1111]/",
    "https://xn--h2brj9c.xn--h2brj9c/",  # भारत.भारत
    "https://127.0.0.1.nip.io/",  # a name: judged on what it resolves to, at connect time
]


@pytest.mark.parametrize(("url", "kind"), FORBIDDEN.items())
def test_forbidden_in_every_spelling(url, kind):
    problem = POLICY.url_problem(url)
    assert problem and kind in problem, (url, problem)


@pytest.mark.parametrize(("url", "words"), BAD_SYNTAX.items())
def test_not_requestable(url, words):
    problem = POLICY.url_problem(url)
    assert problem and words in problem, (url, problem)
    assert "\n" not in problem and len(problem) < 200


@pytest.mark.parametrize("url", PUBLIC)
def test_public_hosts_pass(url):
    assert POLICY.url_problem(url) is None


def test_spellings_name_one_address():
    for spelling in ("2130706433", "0177.0.0.1", "0x7f.1", "127.1", "0x7F.0.0.1", "127.0.0.1."):
        assert str(parse_ip(spelling)) == "127.0.0.1", spelling
    assert parse_ip("ndtv.in") is None


def test_allow_list_names_networks_and_hosts():
    policy = EgressPolicy(["10.0.0.0/8", "127.0.0.1/32", "intranet", ".corp.internal", " "])
    assert policy.url_problem("http://10.2.3.4/") is None
    assert policy.url_problem("http://012.1/") is None  # 10.0.0.1
    assert policy.url_problem("http://[::ffff:10.0.0.1]/") is None
    assert policy.url_problem("http://127.0.0.1/") is None
    assert policy.url_problem("http://intranet/") is None
    assert policy.url_problem("http://news.corp.internal/") is None
    assert "loopback" in policy.url_problem("http://127.0.0.2/")
    assert "private" in policy.url_problem("http://192.168.0.1/")
    assert "cloud metadata" in policy.url_problem("http://169.254.169.254/")


def test_syntax_problem_is_none_for_a_good_url():
    assert syntax_problem("https://ndtv.in/india/x?a=1,2#frag") is None
